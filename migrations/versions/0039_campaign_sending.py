"""campaigns: sending, and journeys under review

- `campaigns`: the recorded seed, launch and sending times, why it paused, the pilot's winner, the
  progress kept by the worker.
- `campaign_recipients`: a launched campaign's frozen audience, each person's arm and pilot flag,
  and the message they were sent.
- `messages`: `campaign_id`, `unsubscribed_at`, `complained_at` (null for every existing message:
  their unsubscribes and complaints stay in consent changes and suppressions as before).
- `journey_versions`: a draft's review (status, approvals, the bar); `journey_reviews`.
- New tables and nullable (or defaulted) columns only: no existing row changes. Downgrading drops
  the recipients and the journeys' reviews.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "journey_reviews",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("review_group", sa.String(length=64), nullable=True),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("withdrawn_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "journey_id"],
            ["journeys.workspace_id", "journeys.id"],
            name=op.f("fk_journey_reviews_workspace_id_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "member_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_journey_reviews_workspace_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_journey_reviews_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_journey_reviews")),
    )
    with op.batch_alter_table("journey_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_journey_reviews_workspace_id_journey_id_created_at_id"),
            ["workspace_id", "journey_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "campaign_recipients",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("pilot", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("block_reason", sa.String(length=24), nullable=True),
        sa.Column("send_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "campaign_id"],
            ["campaigns.workspace_id", "campaigns.id"],
            name=op.f("fk_campaign_recipients_workspace_id_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_campaign_recipients_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "campaign_id", "person_id", name=op.f("pk_campaign_recipients")),
    )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_recipients_workspace_id_campaign_id_status_pilot_person_id"),
            ["workspace_id", "campaign_id", "status", "pilot", "person_id"],
            unique=False,
        )

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seed", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("launched_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("starts_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pilot_started_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rest_due_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("paused_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pause_reason", JSON, nullable=True))
        batch_op.add_column(sa.Column("winner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("finished_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("progress", JSON, nullable=True))
        batch_op.add_column(sa.Column("progress_live", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(
            batch_op.f("ix_campaigns_progress_live_starts_at"), ["progress_live", "starts_at"], unique=False
        )

    with op.batch_alter_table("journey_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("contributors", JSON, nullable=True))
        batch_op.add_column(sa.Column("approvals", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("review_groups", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("required_approvals", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("required_review_groups", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("submitted_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("approved_at", app.db.types.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unsubscribed_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("complained_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("campaign_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_messages_workspace_id_campaign_id_status"),
            ["workspace_id", "campaign_id", "status"],
            unique=False,
            sqlite_where=sa.text("campaign_id IS NOT NULL"),
            postgresql_where=sa.text("campaign_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_messages_workspace_id_campaign_id_status"),
            sqlite_where=sa.text("campaign_id IS NOT NULL"),
            postgresql_where=sa.text("campaign_id IS NOT NULL"),
        )
        batch_op.drop_column("campaign_id")
        batch_op.drop_column("complained_at")
        batch_op.drop_column("unsubscribed_at")

    with op.batch_alter_table("journey_versions", schema=None) as batch_op:
        batch_op.drop_column("approved_at")
        batch_op.drop_column("submitted_at")
        batch_op.drop_column("required_review_groups")
        batch_op.drop_column("required_approvals")
        batch_op.drop_column("review_groups")
        batch_op.drop_column("approvals")
        batch_op.drop_column("contributors")
        batch_op.drop_column("review_status")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_progress_live_starts_at"))
        batch_op.drop_column("progress_live")
        batch_op.drop_column("progress")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("winner")
        batch_op.drop_column("pause_reason")
        batch_op.drop_column("paused_at")
        batch_op.drop_column("rest_due_at")
        batch_op.drop_column("pilot_started_at")
        batch_op.drop_column("starts_at")
        batch_op.drop_column("launched_at")
        batch_op.drop_column("seed")

    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_workspace_id_campaign_id_status_pilot_person_id"))

    op.drop_table("campaign_recipients")
    with op.batch_alter_table("journey_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journey_reviews_workspace_id_journey_id_created_at_id"))

    op.drop_table("journey_reviews")
