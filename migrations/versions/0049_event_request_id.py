"""events: the id of the request that recorded each

`request_id` (nullable; up to 128 characters, the longest X-Request-ID the API keeps): the worker's
log lines about an event's deliveries carry it, so a request is traced to its webhooks. Events
recorded before, and those of the service's own work, have none.

Revision ID: 0049
Revises: 0048
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0049"
down_revision: str | None = "0048"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: no table rewrite on either database.
    op.add_column("events", sa.Column("request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("request_id")
