"""leads, lead tags, custom fields

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 12:36:11.487631
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_fields",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_custom_fields_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_custom_fields")),
    )
    with op.batch_alter_table("custom_fields", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_custom_fields_workspace_id_created_at_id"),
            ["workspace_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_custom_fields_workspace_id_key"), ["workspace_id", "key"], unique=True)

    op.create_table(
        "leads",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("phone_e164", sa.String(length=20), nullable=True),
        sa.Column("phone_valid", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("company", sa.String(length=300), nullable=True),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("industry", sa.String(length=200), nullable=True),
        sa.Column("company_size", sa.String(length=16), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("province", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("referred_by_lead_id", sa.Uuid(), nullable=True),
        sa.Column("utm_source", sa.String(length=200), nullable=True),
        sa.Column("utm_medium", sa.String(length=200), nullable=True),
        sa.Column("utm_campaign", sa.String(length=200), nullable=True),
        sa.Column("utm_term", sa.String(length=200), nullable=True),
        sa.Column("utm_content", sa.String(length=200), nullable=True),
        sa.Column("referrer_url", sa.String(length=2048), nullable=True),
        sa.Column("landing_page", sa.String(length=2048), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("custom_fields", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("search_text", sa.String(length=4000), server_default="", nullable=False),
        sa.Column("archived_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "owner_id"],
            ["members.workspace_id", "members.id"],
            name=op.f("fk_leads_workspace_id_owner_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "referred_by_lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_leads_workspace_id_referred_by_lead_id_leads"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_leads_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_created_at_id"), ["workspace_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_email_key"), ["workspace_id", "email_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_external_id"), ["workspace_id", "external_id"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_owner_id_created_at_id"),
            ["workspace_id", "owner_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_phone_e164"), ["workspace_id", "phone_e164"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_status_created_at_id"),
            ["workspace_id", "status", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_updated_at_id"), ["workspace_id", "updated_at", "id"], unique=False
        )

    op.create_table(
        "lead_tags",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_lead_tags_workspace_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "lead_id", "tag", name=op.f("pk_lead_tags")),
    )
    with op.batch_alter_table("lead_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lead_tags_workspace_id_tag_lead_id"), ["workspace_id", "tag", "lead_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lead_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_tags_workspace_id_tag_lead_id"))

    op.drop_table("lead_tags")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_updated_at_id"))
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_status_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_phone_e164"))
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_owner_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_external_id"))
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_email_key"))
        batch_op.drop_index(batch_op.f("ix_leads_workspace_id_created_at_id"))

    op.drop_table("leads")
    with op.batch_alter_table("custom_fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_fields_workspace_id_key"))
        batch_op.drop_index(batch_op.f("ix_custom_fields_workspace_id_created_at_id"))

    op.drop_table("custom_fields")
