"""outreach: channels, consent, suppressions, templates and messages

- `channels`: a workspace's connection to one provider (SMTP, Kavenegar, Twilio, WhatsApp Cloud);
  secrets sealed in `secrets`, one default per type among live channels.
- `consents` (one row per lead or contact and channel) and `consent_changes` (every change, with
  its source and proof).
- `suppressions`: addresses no message goes to, by a keyed hash of the normalised address.
- `templates` and `template_versions`: every version a message may name.
- `messages` and `message_status_changes`: what was sent (or blocked), to whom, its status history.
- `leads.timezone`, `contacts.timezone`: the person's IANA time zone (null: the workspace's).

Downgrading drops them all (messages, consents and their history included).

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 14:12:25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("callback_token_digest", sa.String(length=64), nullable=False),
        sa.Column("archived_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_channels_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_channels")),
    )
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channels_id"), ["id"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_channels_workspace_id_created_at_id"), ["workspace_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "uq_channels_default",
            ["workspace_id", "type"],
            unique=True,
            postgresql_where=sa.text("is_default AND archived_at IS NULL"),
            sqlite_where=sa.text("is_default AND archived_at IS NULL"),
        )

    op.create_table(
        "suppressions",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_suppressions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_suppressions")),
    )
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suppressions_workspace_id_created_at_id"), ["workspace_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("uq_suppressions_address", ["workspace_id", "channel", "address_hash"], unique=True)

    op.create_table(
        "templates",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("whatsapp_template", JSON, nullable=True),
        sa.Column("archived_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_templates_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_templates")),
    )
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_templates_workspace_id_created_at_id"), ["workspace_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "template_versions",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("whatsapp_template", JSON, nullable=True),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "template_id"],
            ["templates.workspace_id", "templates.id"],
            name=op.f("fk_template_versions_workspace_id_template_id_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_template_versions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "template_id", "version", name=op.f("pk_template_versions")),
    )
    op.create_table(
        "consent_changes",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("previous_status", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("captured_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("proof", JSON, nullable=True),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contacts.workspace_id", "contacts.id"],
            name=op.f("fk_consent_changes_workspace_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_consent_changes_workspace_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_consent_changes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_consent_changes")),
    )
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_changes_workspace_id_contact_id_created_at"),
            ["workspace_id", "contact_id", "created_at"],
            unique=False,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_consent_changes_workspace_id_lead_id_created_at"),
            ["workspace_id", "lead_id", "created_at"],
            unique=False,
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )

    op.create_table(
        "consents",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("captured_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("proof", JSON, nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("(lead_id IS NULL) <> (contact_id IS NULL)", name=op.f("ck_consents_one_person")),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contacts.workspace_id", "contacts.id"],
            name=op.f("fk_consents_workspace_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_consents_workspace_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_consents_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(
            "uq_consents_contact",
            ["workspace_id", "contact_id", "channel"],
            unique=True,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_consents_lead",
            ["workspace_id", "lead_id", "channel"],
            unique=True,
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )

    op.create_table(
        "messages",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("block_reason", sa.String(length=24), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=True),
        sa.Column("address_key", sa.String(length=320), nullable=True),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=1000), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("sms_parts", sa.Integer(), nullable=True),
        sa.Column("links", JSON, nullable=True),
        sa.Column("whatsapp_template", JSON, nullable=True),
        sa.Column("email_message_id", sa.String(length=300), nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("send_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_until", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("automated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("sent_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("replied_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "channel_id"],
            ["channels.workspace_id", "channels.id"],
            name=op.f("fk_messages_workspace_id_channel_id_channels"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "contact_id"],
            ["contacts.workspace_id", "contacts.id"],
            name=op.f("fk_messages_workspace_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "lead_id"],
            ["leads.workspace_id", "leads.id"],
            name=op.f("fk_messages_workspace_id_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "template_id"],
            ["templates.workspace_id", "templates.id"],
            name=op.f("fk_messages_workspace_id_template_id_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_messages_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_channel_id_provider_message_id"),
            ["channel_id", "provider_message_id"],
            unique=False,
            sqlite_where=sa.text("provider_message_id IS NOT NULL"),
            postgresql_where=sa.text("provider_message_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_messages_due",
            ["send_at"],
            unique=False,
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        )
        batch_op.create_index(
            "ix_messages_sending",
            ["lease_until"],
            unique=False,
            postgresql_where=sa.text("status = 'sending'"),
            sqlite_where=sa.text("status = 'sending'"),
        )
        batch_op.create_index(
            batch_op.f("ix_messages_workspace_id_address_key_send_at"),
            ["workspace_id", "address_key", "send_at"],
            unique=False,
            sqlite_where=sa.text("address_key IS NOT NULL"),
            postgresql_where=sa.text("address_key IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_messages_workspace_id_contact_id_created_at"),
            ["workspace_id", "contact_id", "created_at"],
            unique=False,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_messages_workspace_id_created_at_id"), ["workspace_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_workspace_id_lead_id_created_at"),
            ["workspace_id", "lead_id", "created_at"],
            unique=False,
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )

    op.create_table(
        "message_status_changes",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "message_id"],
            ["messages.workspace_id", "messages.id"],
            name=op.f("fk_message_status_changes_workspace_id_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_message_status_changes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_message_status_changes")),
    )
    with op.batch_alter_table("message_status_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_status_changes_workspace_id_message_id_at"),
            ["workspace_id", "message_id", "at"],
            unique=False,
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("timezone")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("timezone")

    with op.batch_alter_table("message_status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_status_changes_workspace_id_message_id_at"))

    op.drop_table("message_status_changes")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_messages_workspace_id_lead_id_created_at"),
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_messages_workspace_id_created_at_id"))
        batch_op.drop_index(
            batch_op.f("ix_messages_workspace_id_contact_id_created_at"),
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )
        batch_op.drop_index(
            batch_op.f("ix_messages_workspace_id_address_key_send_at"),
            sqlite_where=sa.text("address_key IS NOT NULL"),
            postgresql_where=sa.text("address_key IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_messages_due", postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'")
        )
        batch_op.drop_index(
            "ix_messages_sending",
            postgresql_where=sa.text("status = 'sending'"),
            sqlite_where=sa.text("status = 'sending'"),
        )
        batch_op.drop_index(
            batch_op.f("ix_messages_channel_id_provider_message_id"),
            sqlite_where=sa.text("provider_message_id IS NOT NULL"),
            postgresql_where=sa.text("provider_message_id IS NOT NULL"),
        )

    op.drop_table("messages")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_consents_lead",
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_consents_contact",
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    op.drop_table("consents")
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_consent_changes_workspace_id_lead_id_created_at"),
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )
        batch_op.drop_index(
            batch_op.f("ix_consent_changes_workspace_id_contact_id_created_at"),
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    op.drop_table("consent_changes")
    op.drop_table("template_versions")
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_templates_workspace_id_created_at_id"))

    op.drop_table("templates")
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index("uq_suppressions_address")
        batch_op.drop_index(batch_op.f("ix_suppressions_workspace_id_created_at_id"))

    op.drop_table("suppressions")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_channels_default",
            postgresql_where=sa.text("is_default AND archived_at IS NULL"),
            sqlite_where=sa.text("is_default AND archived_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_channels_workspace_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_channels_id"))

    op.drop_table("channels")
