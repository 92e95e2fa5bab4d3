"""lead scoring: engagements, temperature/stage history, score columns on leads

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 15:00:31.974402
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engagements",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("visitor_id", sa.String(length=128), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("properties", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_engagements_workspace_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_engagements_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_engagements")),
    )
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagements_workspace_id_lead_id_occurred_at_id"),
            ["workspace_id", "lead_id", "occurred_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_engagements_workspace_id_visitor_id"), ["workspace_id", "visitor_id"], unique=False
        )

    op.create_table(
        "lead_state_changes",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_value", sa.String(length=8), nullable=True),
        sa.Column("to_value", sa.String(length=8), nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("occurred_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_lead_state_changes_workspace_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_lead_state_changes")),
    )
    with op.batch_alter_table("lead_state_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lead_state_changes_workspace_id_lead_id_occurred_at_id"),
            ["workspace_id", "lead_id", "occurred_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score", sa.Float(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("fit_score", sa.Float(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("behavior_score", sa.Float(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("scored_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("temperature", sa.String(length=8), server_default="cold", nullable=False))
        batch_op.add_column(sa.Column("stage", sa.String(length=8), server_default="ial", nullable=False))
        batch_op.add_column(sa.Column("last_engaged_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_last_engaged_at_id"),
            ["workspace_id", "last_engaged_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_score_id"), ["workspace_id", "score", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_score_id"))
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_last_engaged_at_id"))
        batch_op.drop_column("last_engaged_at")
        batch_op.drop_column("stage")
        batch_op.drop_column("temperature")
        batch_op.drop_column("scored_at")
        batch_op.drop_column("behavior_score")
        batch_op.drop_column("fit_score")
        batch_op.drop_column("score")

    with op.batch_alter_table("lead_state_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_state_changes_workspace_id_lead_id_occurred_at_id"))

    op.drop_table("lead_state_changes")
    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagements_workspace_id_visitor_id"))
        batch_op.drop_index(batch_op.f("ix_engagements_workspace_id_lead_id_occurred_at_id"))

    op.drop_table("engagements")
