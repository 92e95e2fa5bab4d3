"""journeys: durable multi-step automations

- `journeys` (name, audience, status draft | active | paused | archived, the active and draft
  version numbers, the active version's trigger), `journey_versions` (each version's document),
  `enrolments` (one person's way through one version; at most one active per journey and person,
  by partial unique indexes), `enrolment_steps` (every step run, once per enrolment, step and
  visit), `journey_cursors` (how far each workspace's events were read for triggers and exits),
  `segment_members` and `segment_evaluations` (who is in each saved segment, as last evaluated).
- New tables only: no existing row changes. Downgrading drops them with every enrolment.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 17:16:44.214556
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "journey_cursors",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_journey_cursors_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_journey_cursors")),
    )
    op.create_table(
        "journeys",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active_version", sa.Integer(), nullable=True),
        sa.Column("draft_version", sa.Integer(), nullable=True),
        sa.Column("trigger_type", sa.String(length=16), nullable=True),
        sa.Column("trigger_event", sa.String(length=64), nullable=True),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("next_run_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("from_sequence", sa.BigInteger(), nullable=True),
        sa.Column("paused_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("archived_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_journeys_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_journeys")),
    )
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_journeys_workspace_id_created_at_id"), ["workspace_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_journeys_workspace_id_status_trigger_type"),
            ["workspace_id", "status", "trigger_type"],
            unique=False,
        )

    op.create_table(
        "enrolments",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exit_reason", sa.String(length=200), nullable=True),
        sa.Column("current_step", sa.String(length=64), nullable=True),
        sa.Column("visit", sa.Integer(), server_default="1", nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=True),
        sa.Column("due_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("waiting_event", sa.String(length=64), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("enrolled_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("trigger", JSON, nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "journey_id"],
            ["journeys.workspace_id", "journeys.id"],
            name=op.f("fk_enrolments_workspace_id_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_enrolments_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_enrolments")),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrolments_due",
            ["due_at"],
            unique=False,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.create_index(
            batch_op.f("ix_enrolments_workspace_id_contact_id"), ["workspace_id", "contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_enrolments_workspace_id_journey_id_created_at_id"),
            ["workspace_id", "journey_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_enrolments_workspace_id_lead_id"), ["workspace_id", "lead_id"], unique=False
        )
        batch_op.create_index(
            "ux_enrolments_active_contact",
            ["workspace_id", "journey_id", "contact_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active' AND contact_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'active' AND contact_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ux_enrolments_active_lead",
            ["workspace_id", "journey_id", "lead_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active' AND lead_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'active' AND lead_id IS NOT NULL"),
        )

    op.create_table(
        "journey_versions",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id", "journey_id"],
            ["journeys.workspace_id", "journeys.id"],
            name=op.f("fk_journey_versions_workspace_id_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_journey_versions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "journey_id", "number", name=op.f("pk_journey_versions")),
    )
    op.create_table(
        "enrolment_steps",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("enrolment_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("journey_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("step_type", sa.String(length=16), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("started_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id", "enrolment_id"],
            ["enrolments.workspace_id", "enrolments.id"],
            name=op.f("fk_enrolment_steps_workspace_id_enrolment_id_enrolments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_enrolment_steps_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "enrolment_id", "step_id", "visit", name=op.f("pk_enrolment_steps")),
    )
    with op.batch_alter_table("enrolment_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrolment_steps_workspace_id_lead_id_started_at_id"),
            ["workspace_id", "lead_id", "started_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_enrolment_steps_workspace_id_contact_id_started_at_id"),
            ["workspace_id", "contact_id", "started_at", "id"],
            unique=False,
        )

    op.create_table(
        "segment_members",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("entered_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "segment_id"],
            ["segments.workspace_id", "segments.id"],
            name=op.f("fk_segment_members_workspace_id_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_segment_members_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "segment_id", "contact_id", name=op.f("pk_segment_members")),
    )
    op.create_table(
        "segment_evaluations",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("evaluated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "segment_id"],
            ["segments.workspace_id", "segments.id"],
            name=op.f("fk_segment_evaluations_workspace_id_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_segment_evaluations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "segment_id", name=op.f("pk_segment_evaluations")),
    )


def downgrade() -> None:
    op.drop_table("segment_evaluations")
    op.drop_table("segment_members")
    with op.batch_alter_table("enrolment_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_steps_workspace_id_contact_id_started_at_id"))
        batch_op.drop_index(batch_op.f("ix_enrolment_steps_workspace_id_lead_id_started_at_id"))

    op.drop_table("enrolment_steps")
    op.drop_table("journey_versions")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_enrolments_active_lead",
            sqlite_where=sa.text("status = 'active' AND lead_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'active' AND lead_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ux_enrolments_active_contact",
            sqlite_where=sa.text("status = 'active' AND contact_id IS NOT NULL"),
            postgresql_where=sa.text("status = 'active' AND contact_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_enrolments_workspace_id_lead_id"))
        batch_op.drop_index(batch_op.f("ix_enrolments_workspace_id_journey_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_enrolments_workspace_id_contact_id"))
        batch_op.drop_index(
            "ix_enrolments_due",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.drop_table("enrolments")
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journeys_workspace_id_status_trigger_type"))
        batch_op.drop_index(batch_op.f("ix_journeys_workspace_id_created_at_id"))

    op.drop_table("journeys")
    op.drop_table("journey_cursors")
