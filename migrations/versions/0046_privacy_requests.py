"""privacy requests

- `privacy_requests`: exports and erasures of one person's data, answered by jobs; a request keeps
  keyed digests of the identifiers it was given, never the identifiers.
- `personal_refs`: where a person's data lives when no indexed column names them (events keyed to
  another resource, stored idempotent answers, failed import rows, failed shop payloads), written
  with the data. The events already stored get theirs here, from the person ids at the top of their
  data (`lead_id`, `contact_id`: a form submission's, a message's, an order's events); idempotent
  answers, import errors and shop failures stored before this revision expire or are read by their
  import or integration.
- `leads.erased_at`, `contacts.erased_at`: the tombstones an erasure leaves (same ids, no personal data).
- Indexes an erasure finds a person's rows by, instead of scanning tables: submissions, engagements,
  opportunities, payments, leads by contact, accounts by the lead they were made from, duplicate
  pairs by candidate, deliveries by event,
  campaign recipients by person, audit entries by resource.

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-07 08:31:26.444361
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0046"
down_revision: str | None = "0045"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "personal_refs",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("place", sa.String(length=32), nullable=False),
        sa.Column("row_key", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_personal_refs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "subject", "place", "row_key", name=op.f("pk_personal_refs")),
    )
    op.create_table(
        "privacy_requests",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "subjects", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column(
            "matched",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSON(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "counts",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSON(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("document", sa.LargeBinary(), nullable=True),
        sa.Column("document_bytes", sa.BigInteger(), nullable=True),
        sa.Column(
            "problem",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSON(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("expires_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", app.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_privacy_requests_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_privacy_requests")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_privacy_requests_workspace_id_created_at_id"),
            ["workspace_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_privacy_requests_workspace_id_expires_at_id"),
            ["workspace_id", "expires_at", "id"],
            unique=False,
            sqlite_where=sa.text("expires_at IS NOT NULL"),
            postgresql_where=sa.text("expires_at IS NOT NULL"),
        )

    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suppressions_erased",
            ["workspace_id"],
            unique=False,
            sqlite_where=sa.text("reason = 'erased'"),
            postgresql_where=sa.text("reason = 'erased'"),
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounts_workspace_id_lead_id"),
            ["workspace_id", "lead_id"],
            unique=False,
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_log_workspace_id_resource_resource_id"),
            ["workspace_id", "resource", "resource_id"],
            unique=False,
        )

    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_recipients_workspace_id_person_id"), ["workspace_id", "person_id"], unique=False
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", app.db.types.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_duplicate_candidates_workspace_id_candidate_id"),
            ["workspace_id", "candidate_id"],
            unique=False,
        )

    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagements_workspace_id_contact_id"),
            ["workspace_id", "contact_id"],
            unique=False,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    with op.batch_alter_table("form_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_submissions_workspace_id_contact_id"),
            ["workspace_id", "contact_id"],
            unique=False,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_form_submissions_workspace_id_lead_id"),
            ["workspace_id", "lead_id"],
            unique=False,
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", app.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_leads_workspace_id_contact_id"),
            ["workspace_id", "contact_id"],
            unique=False,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_workspace_id_contact_id"),
            ["workspace_id", "contact_id"],
            unique=False,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_workspace_id_lead_id"),
            ["workspace_id", "lead_id"],
            unique=False,
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payments_workspace_id_contact_id"),
            ["workspace_id", "contact_id"],
            unique=False,
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_workspace_id_event_id"), ["workspace_id", "event_id"], unique=False
        )

    _backfill_event_refs()


# An id as the service writes it (lower case, dashed) from SQLite's 32 hex digits.
def _sqlite_id(column: str) -> str:
    return (
        f"lower(substr({column}, 1, 8) || '-' || substr({column}, 9, 4) || '-' || substr({column}, 13, 4) || '-' "
        f"|| substr({column}, 17, 4) || '-' || substr({column}, 21))"
    )


# The keys naming a person at the top level of an event's data, and the types whose events are
# found by their resource instead (app/services/privacy/subjects.py).
_PERSON_KEYS = (
    "lead_id",
    "contact_id",
    "person_id",
    "survivor_id",
    "referred_by_lead_id",
    "referred_by_contact_id",
    "merged_into_id",
    "referrer_contact_id",
    "referred_contact_id",
)
_FOUND_BY_RESOURCE = (
    "order",
    "message",
    "task",
    "activity",
    "opportunity",
    "ticket",
    "invoice",
    "quote",
    "contract",
    "payment",
)


def _backfill_event_refs() -> None:
    """One pass over the events: each key of each event's data that names someone else."""
    bind = op.get_bind()
    keys = " UNION ALL ".join(f"SELECT '{key}' AS k" for key in _PERSON_KEYS)
    skipped = ", ".join(f"'{prefix}'" for prefix in _FOUND_BY_RESOURCE)
    if bind.dialect.name == "postgresql":
        value, prefix, row_id = "lower(e.data->>keys.k)", "split_part(e.type, '.', 1)", "CAST(e.id AS TEXT)"
        insert, conflict = "INSERT INTO", " ON CONFLICT DO NOTHING"
    else:
        value = "lower(json_extract(e.data, '$.' || keys.k))"
        prefix, row_id = "substr(e.type, 1, instr(e.type, '.') - 1)", _sqlite_id("e.id")
        insert, conflict = "INSERT OR IGNORE INTO", ""
    bind.execute(
        sa.text(
            f"{insert} personal_refs (workspace_id, subject, place, row_key) "
            f"SELECT DISTINCT e.workspace_id, {value}, 'events', {row_id} FROM events AS e CROSS JOIN ({keys}) AS keys "
            f"WHERE {prefix} NOT IN ({skipped}) AND {value} IS NOT NULL "
            f"AND {value} <> coalesce(lower(e.resource_id), ''){conflict}"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_workspace_id_event_id"))

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_payments_workspace_id_contact_id"),
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_opportunities_workspace_id_lead_id"),
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )
        batch_op.drop_index(
            batch_op.f("ix_opportunities_workspace_id_contact_id"),
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_leads_workspace_id_contact_id"),
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )
        batch_op.drop_column("erased_at")

    with op.batch_alter_table("form_submissions", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_form_submissions_workspace_id_lead_id"),
            sqlite_where=sa.text("lead_id IS NOT NULL"),
            postgresql_where=sa.text("lead_id IS NOT NULL"),
        )
        batch_op.drop_index(
            batch_op.f("ix_form_submissions_workspace_id_contact_id"),
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    with op.batch_alter_table("engagements", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_engagements_workspace_id_contact_id"),
            sqlite_where=sa.text("contact_id IS NOT NULL"),
            postgresql_where=sa.text("contact_id IS NOT NULL"),
        )

    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duplicate_candidates_workspace_id_candidate_id"))

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("erased_at")

    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_workspace_id_person_id"))

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_workspace_id_lead_id"))

    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index("ix_suppressions_erased")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_workspace_id_resource_resource_id"))

    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f("ix_privacy_requests_workspace_id_expires_at_id"),
            sqlite_where=sa.text("expires_at IS NOT NULL"),
            postgresql_where=sa.text("expires_at IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_privacy_requests_workspace_id_created_at_id"))

    op.drop_table("privacy_requests")
    op.drop_table("personal_refs")
