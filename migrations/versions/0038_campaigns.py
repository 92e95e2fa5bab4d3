"""campaigns: definitions and their review before launch

- `campaigns` (name, channel, audience, variants, holdout, pilot, send time, goal, attribution,
  cost in minor units, UTM tagging; status, author, the approvals that count now and the bar in
  force when it was submitted), `campaign_reviews` (every review, kept, with whether it counts).
- `members.review_group` (optional label: legal, brand...), null for every existing member.
- New tables and a nullable column only: no existing row changes. Downgrading drops the campaigns
  with their reviews and the members' review groups.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("audience", JSON, nullable=True),
        sa.Column("variants", JSON, nullable=False),
        sa.Column("holdout_percent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pilot", JSON, nullable=True),
        sa.Column("send_at", JSON, nullable=True),
        sa.Column("goal", JSON, nullable=True),
        sa.Column("attribution_days", sa.Integer(), server_default="7", nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=True),
        sa.Column("cost_currency", sa.String(length=3), nullable=True),
        sa.Column("utm", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("author_member_id", sa.Uuid(), nullable=True),
        sa.Column("contributors", JSON, nullable=True),
        sa.Column("approvals", sa.Integer(), server_default="0", nullable=False),
        sa.Column("review_groups", sa.Integer(), server_default="0", nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=True),
        sa.Column("required_review_groups", sa.Integer(), nullable=True),
        sa.Column("submitted_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("approved_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "author_member_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_campaigns_workspace_id_author_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_campaigns_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaigns_workspace_id_created_at_id"), ["workspace_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_campaigns_workspace_id_status_created_at_id"),
            ["workspace_id", "status", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "campaign_reviews",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("review_group", sa.String(length=64), nullable=True),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("withdrawn_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "campaign_id"],
            ["campaigns.workspace_id", "campaigns.id"],
            name=op.f("fk_campaign_reviews_workspace_id_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_campaign_reviews_workspace_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_campaign_reviews_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_campaign_reviews")),
    )
    with op.batch_alter_table("campaign_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_reviews_workspace_id_campaign_id_created_at_id"),
            ["workspace_id", "campaign_id", "created_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_group", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("review_group")

    with op.batch_alter_table("campaign_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_reviews_workspace_id_campaign_id_created_at_id"))

    op.drop_table("campaign_reviews")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_workspace_id_status_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_campaigns_workspace_id_created_at_id"))

    op.drop_table("campaigns")
