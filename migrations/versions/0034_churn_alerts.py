"""churn alerts: why an alert was raised, whether it was announced; the expected next purchase

- `churn_alerts` gains `reason` (high_risk | overdue; existing alerts were raised for high risk),
  `churn_level` (the level then; existing ones: high), `announced` (false: over a first
  snapshot's cap, listed without an event or a task; existing ones were announced),
  `days_since_last`, `purchase_interval_days`, `expected_next_purchase_at`, and an index for
  the list's default order (`-raised_on`).
- `customer_values` gains `purchase_interval_days`, `next_purchase_basis` and
  `expected_next_purchase_at` (null in snapshots computed before).

Downgrading also takes out what the older code cannot read: the analytics settings it does not
know (its models forbid unknown fields), alerts that were never announced, and a snapshot's
retention `source: fallback` (read back as `unavailable`).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 12:00:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_SETTINGS = (
    "default_relationship_years",
    "churn_overdue_tolerance",
    "churn_alert_cooldown_days",
    "churn_first_snapshot_alert_cap",
)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
settings = sa.table(
    "workspace_settings",
    sa.column("workspace_id", sa.Uuid),
    sa.column("section", sa.String),
    sa.column("values", JSON),
)
snapshots = sa.table(
    "analytics_snapshots", sa.column("workspace_id", sa.Uuid), sa.column("id", sa.Uuid), sa.column("retention", JSON)
)
PAGE = 500


def _json(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


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


def _forget_new_settings(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.select(settings.c.workspace_id, settings.c["values"]).where(settings.c.section == "analytics")
    ).all()  # one row per workspace at most
    for workspace_id, raw in rows:
        values = _json(raw)
        kept = {k: v for k, v in values.items() if k not in NEW_SETTINGS}
        if kept != values:
            conn.execute(
                settings.update()
                .where(settings.c.workspace_id == workspace_id, settings.c.section == "analytics")
                .values({"values": kept})
            )


def _unavailable_again(conn: sa.Connection) -> None:
    """Snapshots whose retention came from the fallback length: `unavailable` to the older code."""
    after: tuple[Any, Any] | None = None
    while True:
        statement = sa.select(snapshots.c.workspace_id, snapshots.c.id, snapshots.c.retention).order_by(
            snapshots.c.workspace_id, snapshots.c.id
        )
        if after is not None:
            statement = statement.where(sa.tuple_(snapshots.c.workspace_id, snapshots.c.id) > sa.tuple_(*after))
        rows = conn.execute(statement.limit(PAGE)).all()
        for workspace_id, snapshot_id, raw in rows:
            retention = _json(raw)
            if isinstance(retention, dict) and retention.get("source") == "fallback":
                conn.execute(
                    snapshots.update()
                    .where(snapshots.c.workspace_id == workspace_id, snapshots.c.id == snapshot_id)
                    .values(retention={**retention, "source": "unavailable"})
                )
        if len(rows) < PAGE:
            return
        after = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    conn = op.get_bind()
    _forget_new_settings(conn)
    _unavailable_again(conn)
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
