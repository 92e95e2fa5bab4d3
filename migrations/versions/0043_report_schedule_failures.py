"""a report schedule whose digest cannot be prepared says so, and stops

- `report_schedules.failures`: the digests that could not be prepared in a row (0 for every
  existing schedule); a delivery or a change of the schedule resets it.
- `report_schedules.last_error`: what went wrong the last time (the problem's title and detail;
  null: nothing since the last delivery or change).
- `report_schedules.last_failed_at`: when a digest last failed to be prepared (null: never).
- A defaulted and two nullable columns: no existing row changes.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.types

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_failed_at", app.db.types.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_schedules", schema=None) as batch_op:
        batch_op.drop_column("last_failed_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("failures")
