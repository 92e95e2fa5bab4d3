"""reports: the workspace's calendar and locale, cached sales forecasts, scheduled digests

- `workspaces.calendar` (`gregorian` | `jalali`) and `workspaces.locale` (`en` | `fa`): every
  existing workspace gets `gregorian` and `en`, what its reports used until now; new ones follow
  their region (Iran: `jalali`, `fa`), which the service decides when it creates them.
- `report_forecasts`: computed sales forecasts per workspace and parameters.
- `report_schedules` and `report_deliveries` (one row per schedule and occurrence: a digest is sent
  once).
- New tables and defaulted columns only. Downgrading drops them.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_forecasts",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column(
            "result", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("computed_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("data_version", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_report_forecasts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "key", name=op.f("pk_report_forecasts")),
    )
    op.create_table(
        "report_schedules",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("report", sa.String(length=32), nullable=False),
        sa.Column(
            "params", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("cadence", sa.String(length=16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column(
            "member_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("emit_event", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=True),
        sa.Column("next_run_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("archived_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_report_schedules_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_report_schedules")),
    )
    with op.batch_alter_table("report_schedules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_schedules_next_run_at"),
            ["next_run_at"],
            unique=False,
            sqlite_where=sa.text("next_run_at IS NOT NULL"),
            postgresql_where=sa.text("next_run_at IS NOT NULL"),
        )

    op.create_table(
        "report_deliveries",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence", sa.String(length=40), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "message_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "figures", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "schedule_id"],
            ["report_schedules.workspace_id", "report_schedules.id"],
            name=op.f("fk_report_deliveries_workspace_id_schedule_id_report_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "schedule_id", "occurrence", name=op.f("pk_report_deliveries")),
    )
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar", sa.String(length=16), server_default="gregorian", nullable=False))
        batch_op.add_column(sa.Column("locale", sa.String(length=8), server_default="en", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("locale")
        batch_op.drop_column("calendar")

    op.drop_table("report_deliveries")
    with op.batch_alter_table("report_schedules", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_report_schedules_next_run_at"),
            sqlite_where=sa.text("next_run_at IS NOT NULL"),
            postgresql_where=sa.text("next_run_at IS NOT NULL"),
        )

    op.drop_table("report_schedules")
    op.drop_table("report_forecasts")
