"""churn alerts: why an alert was raised, whether it was announced; the expected next purchase

- `churn_alerts` gains `reason` (high_risk | overdue; existing alerts were raised for high risk),
  `churn_level` (the level then; existing ones: high), `announced` (false: over a first
  snapshot's cap, listed without an event or a task; existing ones were announced),
  `days_since_last`, `purchase_interval_days`, `expected_next_purchase_at`, and an index for
  the list's default order (`-raised_on`).
- `customer_values` gains `purchase_interval_days`, `next_purchase_basis` and
  `expected_next_purchase_at` (null in snapshots computed before).

Revision ID: 0034
Revises: 0030
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.types

revision: str = "0034"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("churn_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=16), server_default="high_risk", nullable=False))
        batch_op.add_column(sa.Column("churn_level", sa.String(length=8), server_default="high", nullable=False))
        batch_op.add_column(sa.Column("announced", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("days_since_last", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("purchase_interval_days", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("expected_next_purchase_at", app.db.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_churn_alerts_workspace_id_raised_on_id"), ["workspace_id", "raised_on", "id"], unique=False
        )
    with op.batch_alter_table("customer_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purchase_interval_days", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("next_purchase_basis", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("expected_next_purchase_at", app.db.types.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_values", schema=None) as batch_op:
        batch_op.drop_column("expected_next_purchase_at")
        batch_op.drop_column("next_purchase_basis")
        batch_op.drop_column("purchase_interval_days")
    # Alerts recorded without being announced were never seen by the older code's readers: they
    # go, so that the older code does not take them for announced ones.
    op.execute("DELETE FROM churn_alerts WHERE announced = false")
    with op.batch_alter_table("churn_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_churn_alerts_workspace_id_raised_on_id"))
        batch_op.drop_column("expected_next_purchase_at")
        batch_op.drop_column("purchase_interval_days")
        batch_op.drop_column("days_since_last")
        batch_op.drop_column("announced")
        batch_op.drop_column("churn_level")
        batch_op.drop_column("reason")
