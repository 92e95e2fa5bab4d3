"""lead merges: what an automatic merge changed, so it can be undone; imports count merged rows

- `lead_merges`: one row per automatic merge of one lead into another, kept with the merged lead:
  the merged lead's columns the merge changed (as they were), the surviving lead's fields it
  filled (before and after), and the ids of the engagements, activities, tasks and submissions
  it moved. `POST /v1/leads/{id}/unmerge` reads it until `undo_until` (30 days).
- `imports.rows_merged`: rows merged into an open lead with the same email or phone.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _document() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSON(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "lead_merges",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("merged_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.String(length=64), nullable=False),
        sa.Column("undo_until", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lead_before", _document(), nullable=False),
        sa.Column("survivor_before", _document(), nullable=False),
        sa.Column("survivor_after", _document(), nullable=False),
        sa.Column("moved", _document(), nullable=False),
        sa.Column("undone_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_lead_merges_workspace_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "survivor_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_lead_merges_workspace_id_survivor_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_lead_merges_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_lead_merges")),
    )
    with op.batch_alter_table("lead_merges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lead_merges_workspace_id_lead_id_merged_at"),
            ["workspace_id", "lead_id", "merged_at"],
            unique=False,
        )
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rows_merged", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.drop_column("rows_merged")
    with op.batch_alter_table("lead_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_merges_workspace_id_lead_id_merged_at"))
    op.drop_table("lead_merges")
