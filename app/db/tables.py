"""The schema as SQLAlchemy Core tables. Alembic migrations are generated from and checked against
this metadata; every tenant table starts its keys with workspace_id (ready for distribution)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    false,
    text,
    true,
)

from app.db.types import Json, JsonDocument, OptionalJson, OptionalJsonDocument, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


# The predicate of an open lead's identity indexes (status new, contacted or nurturing; not archived,
# not merged).
OPEN_LEAD = (
    "{column} IS NOT NULL AND status IN ('new', 'contacted', 'nurturing') "
    "AND archived_at IS NULL AND merged_into_id IS NULL"
)


def _closed(column: str) -> dict[str, Any]:
    """A partial index over the rows where `column` is set and the lead is not open."""
    where = text(f"{column} IS NOT NULL AND NOT ({OPEN_LEAD.format(column=column).split(' AND ', 1)[1]})")
    return {"sqlite_where": where, "postgresql_where": where}


def _not_null(column: str) -> dict[str, Any]:
    """Keyword arguments of a partial index over the rows where `column` is set (both dialects)."""
    where = text(f"{column} IS NOT NULL")
    return {"sqlite_where": where, "postgresql_where": where}


def _audit() -> list[Column]:  # type: ignore[type-arg]
    """version + timestamps + actor on every mutable resource."""
    return [
        Column("version", Integer, nullable=False, server_default="1"),
        Column("created_at", UtcDateTime, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        Column("created_by", String(64), nullable=False),
        Column("updated_by", String(64), nullable=False),
    ]


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("default_region", String(2)),
    Column("timezone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    # How reports cut and name periods (migration 0040: existing workspaces gregorian / en).
    Column("calendar", String(16), nullable=False, server_default="gregorian"),
    Column("locale", String(8), nullable=False, server_default="en"),
    *_audit(),
)

members = Table(
    "members",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("timezone", String(64)),
    Column("capacity", Integer),
    Column("manager_id", Uuid),
    Column("available", Boolean, nullable=False, server_default=true()),  # not away
    Column("working_hours", Json),  # {"days": [...], "start": "09:00", "end": "17:00"}; null = always
    Column("review_group", String(64)),  # e.g. legal, brand: campaign approvals may need several groups
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "manager_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "email", unique=True),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "name", "id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("redacted", String(16), nullable=False),
    Column("scopes", Json, nullable=False),
    Column("allowed_origins", Json, nullable=False),
    Column("member_id", Uuid),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "member_id"], ["members.workspace_id", "members.id"]),
    # Looked up across workspaces by the digest of the presented key (system repository).
    Index(None, "digest", unique=True),
    Index(None, "workspace_id", "created_at", "id"),
)

workspace_settings = Table(
    "workspace_settings",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("section", String(64), primary_key=True),
    Column("values", Json, nullable=False),
    *_audit(),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("locked_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("status_code", Integer),
    Column("headers", Json),
    Column("body", LargeBinary),
    # Set instead of `body` when the response carried a new secret: the path of the created
    # resource, which a replay names (409 secret-not-replayable); the secret is never stored.
    Column("secret_resource", String(500)),
    Index(None, "expires_at"),
)

# The outbox: one row per state change, written in the transaction that made the change and never
# updated after (a 1.6 KB order event rewritten to stamp it was a new row version, every index
# entry again and its whole text in the WAL). The writer also queues the event's id in
# `event_queue`; the dispatcher takes the queue in id order, numbers each workspace's events in
# `event_stamps` (per workspace, in the order it sees commits) and fans out.
events = Table(
    "events",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("api_version", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("resource_id", String(64)),
    Column("data", JsonDocument, nullable=False),
    Column("previous_attributes", JsonDocument),
    Column("redacted_at", UtcDateTime),
    # The request that recorded it (None: the service's own work), for the worker's log lines.
    Column("request_id", String(128)),
    Index(None, "workspace_id", "occurred_at", "id"),
    Index(None, "workspace_id", "resource_id"),
)

# Events not yet dispatched: what the dispatcher needs of each (type and resource for fan-out and
# the duplicate search), written with the event, deleted by the pass that stamps it. No foreign
# key: a row lives a second or two, and a per-row check on the capture and sync paths is not free.
event_queue = Table(
    "event_queue",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("resource_id", String(64)),
    Index("ix_event_queue_id", "id"),  # the dispatcher takes the oldest first, across workspaces
)

# Each dispatched event's per-workspace sequence number (the event list's `sequence`, webhook
# payloads' `sequence`, replay's `since_sequence`). Written once by the dispatcher, only for a
# queued event. No foreign key either: its per-row check share-locks the workspace row that every
# concurrent writer of events share-locks too (a new multixact each time).
event_stamps = Table(
    "event_stamps",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("event_id", Uuid, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("dispatched_at", UtcDateTime, nullable=False),
    Index(None, "workspace_id", "sequence", unique=True),
)

# Per-workspace event sequence; only the dispatcher touches it (writers never wait on it).
event_sequences = Table(
    "event_sequences",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("event_types", Json, nullable=False),
    # The scopes of the key that created the endpoint: it is delivered only what they may read.
    Column("scopes", Json, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("secret", String(100), nullable=False),
    Column("disabled_reason", String(200)),
    Column("failing_since", UtcDateTime),
    Column("lease_until", UtcDateTime),
    Column("deleted_at", UtcDateTime),
    # How many of its deliveries may be out at once (1: one at a time, in sequence order).
    Column("max_in_flight", Integer, nullable=False, server_default="1"),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("endpoint_id", Uuid, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending | succeeded | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["workspace_id", "endpoint_id"], ["webhook_endpoints.workspace_id", "webhook_endpoints.id"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(["workspace_id", "event_id"], ["events.workspace_id", "events.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "endpoint_id", "status", "next_attempt_at", "sequence"),
    Index(None, "workspace_id", "endpoint_id", "created_at", "id"),
    Index(None, "workspace_id", "event_id"),  # an erased event's deliveries (migration 0046)
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("delivery_id", Uuid, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("status_code", Integer),
    Column("duration_ms", Integer, nullable=False),
    Column("error", String(500)),
    Column("response_excerpt", String(4096)),  # the first 4 KiB of the reply (EXCERPT_BYTES)
    ForeignKeyConstraint(
        ["workspace_id", "delivery_id"],
        ["webhook_deliveries.workspace_id", "webhook_deliveries.id"],
        ondelete="CASCADE",
    ),
    Index(None, "workspace_id", "delivery_id", "attempted_at"),
    Index(None, "workspace_id", "attempted_at", "id"),  # the retention of response excerpts (migration 0044)
)

# Durable timers: idempotent by (workspace, key), claimed in batches by due time.
timers = Table(
    "timers",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("run_at", UtcDateTime, nullable=False),
    Column("payload", JsonDocument, nullable=False),
    Column("status", String(16), nullable=False),  # pending | fired | cancelled | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", UtcDateTime),
    Column("last_error", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime),
    Index(None, "workspace_id", "key", unique=True),
    Index(
        "ix_timers_due", "run_at", sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")
    ),
)

# Long-running work (rescore, import, analytics refresh, redaction): 202 + /v1/jobs/{id}.
jobs = Table(
    "jobs",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | succeeded | failed
    Column("params", Json, nullable=False),
    # sha256 of kind + canonical params: an identical request while one is queued gets that job.
    Column("fingerprint", String(64)),
    Column("progress", Json),
    Column("result", Json),
    Column("problem", Json),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
    # The fair claim's "when did this workspace last start a job" is one index lookup, however long
    # the job history (app/db/repositories/events/jobs.py: fair_heads).
    Index(None, "workspace_id", "started_at"),
    Index(
        "ix_jobs_queued_fingerprint",
        "workspace_id",
        "fingerprint",
        unique=True,
        sqlite_where=text("status = 'queued'"),
        postgresql_where=text("status = 'queued'"),
    ),
    Index(
        "ix_jobs_queued",
        "created_at",
        sqlite_where=text("status IN ('queued', 'running')"),
        postgresql_where=text("status IN ('queued', 'running')"),
    ),
)

leads = Table(
    "leads",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("email", String(320)),
    Column("email_key", String(320)),
    Column("phone", String(64)),
    Column("phone_e164", String(20)),
    Column("phone_valid", Boolean, nullable=False, server_default=false()),
    Column("company", String(300)),
    Column("job_title", String(200)),
    Column("industry", String(200)),
    Column("company_size", String(16)),
    Column("country", String(2)),
    Column("province", String(200)),
    Column("city", String(200)),
    Column("timezone", String(64)),  # IANA; null: the workspace's (quiet hours, local send times)
    Column("source", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("referred_by_lead_id", Uuid),
    Column("utm_source", String(200)),
    Column("utm_medium", String(200)),
    Column("utm_campaign", String(200)),
    Column("utm_term", String(200)),
    Column("utm_content", String(200)),
    Column("referrer_url", String(2048)),
    Column("landing_page", String(2048)),
    Column("owner_id", Uuid),
    Column("tags", Json, nullable=False),
    Column("external_id", String(200)),
    Column("status", String(16), nullable=False),
    Column("custom_fields", Json, nullable=False),
    Column("search_text", String(4000), nullable=False, server_default=""),
    Column("archived_at", UtcDateTime),
    Column("merged_into_id", Uuid),
    # Scoring (app/domain/leads/scoring.py): kept current on every engagement, change and nightly.
    Column("score", Float, nullable=False, server_default="0"),
    Column("fit_score", Float, nullable=False, server_default="0"),
    Column("behavior_score", Float, nullable=False, server_default="0"),
    Column("scored_at", UtcDateTime),
    Column("temperature", String(8), nullable=False, server_default="cold"),
    Column("stage", String(8)),  # null: no stage yet (migration 0031)
    Column("last_engaged_at", UtcDateTime),
    # Stage bookkeeping (migration 0031): a person set the stage (automatic changes never lower it),
    # the score reached MQL and waits for marketing's acceptance, the rules' verdict when last scored.
    Column("stage_manual", Boolean, nullable=False, server_default=false()),
    Column("mql_candidate", Boolean, nullable=False, server_default=false()),
    Column("stage_verdict", String(8)),
    # First-response SLA (migration 0010): the deadline is the lead's own column, swept by the worker.
    Column("sla_status", String(16), nullable=False, server_default="not_applicable"),
    Column("first_response_due_at", UtcDateTime),
    Column("first_responded_at", UtcDateTime),
    Column("first_response_seconds", Float),
    Column("team_id", Uuid),
    Column("assigned_at", UtcDateTime),
    # Qualification (migration 0011): what the lead became, or why it was dropped.
    Column("qualified_at", UtcDateTime),
    Column("account_id", Uuid),
    Column("contact_id", Uuid),
    Column("opportunity_id", Uuid),
    Column("disqualified_at", UtcDateTime),
    Column("disqualification_reason", String(64)),
    Column("disqualification_note", String(2000)),
    Column("referred_by_contact_id", Uuid),
    Column("last_activity_at", UtcDateTime),
    # Blocking keys of the duplicate search (migration 0012): normalised name and company.
    Column("name_key", String(400)),
    Column("company_key", String(300)),
    Column("import_id", Uuid),  # the CSV import that created it (migration 0019)
    # Set when a privacy erasure made this lead a tombstone (migration 0046): same id, no personal data.
    Column("erased_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "owner_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "import_id", **_not_null("import_id")),
    # A contact's leads (a privacy request resolving a person, migration 0046).
    Index(None, "workspace_id", "contact_id", **_not_null("contact_id")),
    ForeignKeyConstraint(["workspace_id", "referred_by_lead_id"], ["leads.workspace_id", "leads.id"]),
    # Partial: nothing looks these up by null (migration 0009).
    # Open leads' email and phone are in the unique identity indexes below; these hold the rest
    # (qualified, disqualified, archived, merged), so a captured lead adds no entry to them.
    Index("ix_leads_closed_email_key", "workspace_id", "email_key", **_closed("email_key")),
    Index("ix_leads_closed_phone_e164", "workspace_id", "phone_e164", **_closed("phone_e164")),
    Index(None, "workspace_id", "external_id", unique=True, **_not_null("external_id")),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "updated_at", "id"),
    Index(None, "workspace_id", "status", "created_at", "id"),
    Index(None, "workspace_id", "owner_id", "created_at", "id"),
    Index(None, "workspace_id", "score", "id"),
    Index(None, "workspace_id", "last_engaged_at", "id", **_not_null("last_engaged_at")),
    Index(None, "workspace_id", "last_activity_at", "id", **_not_null("last_activity_at")),
    Index(None, "workspace_id", "name_key", **_not_null("name_key")),
    # One open lead per email and per phone (migration 0013): a new submission with either is merged
    # into it; the database holds the rule even when two submissions race.
    Index(
        "ix_leads_open_email_key",
        "workspace_id",
        "email_key",
        unique=True,
        sqlite_where=text(OPEN_LEAD.format(column="email_key")),
        postgresql_where=text(OPEN_LEAD.format(column="email_key")),
    ),
    Index(
        "ix_leads_open_phone_e164",
        "workspace_id",
        "phone_e164",
        unique=True,
        sqlite_where=text(OPEN_LEAD.format(column="phone_e164")),
        postgresql_where=text(OPEN_LEAD.format(column="phone_e164")),
    ),
    Index(None, "workspace_id", "company_key", **_not_null("company_key")),
    # Archived leads by when (the retention of archived leads, migration 0044): open leads add no entry.
    Index(None, "workspace_id", "archived_at", "id", **_not_null("archived_at")),
    # The worker's SLA sweep (across workspaces) and pending-SLA lists: pending leads only.
    Index(
        "ix_leads_sla_pending",
        "first_response_due_at",
        "workspace_id",
        sqlite_where=text("sla_status = 'pending'"),
        postgresql_where=text("sla_status = 'pending'"),
    ),
)

teams = Table(
    "teams",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("member_ids", Json, nullable=False),  # ordered: the round-robin order
    Column("rr_position", Integer, nullable=False, server_default="0"),  # index of the next member
    Column("deleted_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
)

# Companies, people and deals: what a qualified lead becomes (migration 0011).
accounts = Table(
    "accounts",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("domain", String(255)),  # lower-cased, no scheme or www.
    Column("industry", String(200)),
    Column("company_size", String(16)),
    Column("country", String(2)),
    Column("province", String(200)),
    Column("city", String(200)),
    Column("owner_id", Uuid),
    Column("tags", Json, nullable=False),
    Column("lead_id", Uuid),  # the lead it was qualified from
    Column("archived_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "owner_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "name", "id"),
    Index(None, "workspace_id", "domain", **_not_null("domain")),
    # The account a lead was qualified into (an erasure of that person, migration 0046).
    Index(None, "workspace_id", "lead_id", **_not_null("lead_id")),
)

contacts = Table(
    "contacts",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("email", String(320)),
    Column("email_key", String(320)),
    Column("phone", String(64)),
    Column("phone_e164", String(20)),
    Column("phone_valid", Boolean, nullable=False, server_default=false()),
    Column("job_title", String(200)),
    Column("account_id", Uuid),
    Column("owner_id", Uuid),
    Column("tags", Json, nullable=False),
    Column("interests", Json, nullable=False),  # declared interests ("other specialties") for cross-sell
    Column("country", String(2)),
    Column("province", String(200)),
    Column("city", String(200)),
    Column("timezone", String(64)),  # IANA; null: the workspace's (quiet hours, local send times)
    Column("lead_id", Uuid),
    Column("archived_at", UtcDateTime),
    # Customer facts, kept current by order sync (app/services/customers/shop_customers.py: refresh_facts);
    # amounts in minor units of the workspace's reporting currency.
    Column("acquisition_channel", String(100)),
    Column("acquired_at", UtcDateTime),
    Column("customer_since", UtcDateTime),
    Column("orders_count", Integer, nullable=False, server_default="0"),
    Column("first_order_at", UtcDateTime),
    Column("last_order_at", UtcDateTime),
    Column("revenue_minor", BigInteger, nullable=False, server_default="0"),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),
    Column("average_order_value_minor", BigInteger),
    Column("revenue_by_currency", Json),  # {"EUR": "120.50"}: net of refunds, in each order's own currency
    Column("unconverted_orders", Integer, nullable=False, server_default="0"),
    Column("reporting_currency", String(3)),  # of the amounts above, when facts were last computed
    Column("active_until", UtcDateTime),  # last_order_at + the active window (/v1/settings/customers)
    Column("import_id", Uuid),  # the CSV import that created it (migration 0019)
    # Loyalty points: the ledger's running balance (migration 0020), never negative.
    Column("loyalty_points", BigInteger, nullable=False, server_default="0"),
    # Profile (migration 0021): billing/shipping addresses, who referred them, how many they referred.
    Column("addresses", Json),
    Column("referred_by_contact_id", Uuid),
    Column("referrals_count", Integer, nullable=False, server_default="0"),
    # Set when a privacy erasure made this contact a tombstone (migration 0046): its orders stay.
    Column("erased_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "account_id"], ["accounts.workspace_id", "accounts.id"]),
    ForeignKeyConstraint(["workspace_id", "owner_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "import_id", **_not_null("import_id")),
    Index(None, "workspace_id", "referred_by_contact_id", **_not_null("referred_by_contact_id")),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "email_key", **_not_null("email_key")),
    Index(None, "workspace_id", "phone_e164", **_not_null("phone_e164")),
    Index(None, "workspace_id", "account_id", "created_at", "id"),
    # No index on the order facts (last_order_at, active_until): every synced order rewrites its
    # contact's facts, and an indexed fact makes each of those updates insert into all eight
    # indexes; unindexed, with room left in each page, PostgreSQL updates the row in place (HOT),
    # at a fraction of the cost (benchmarks/README.md). The lists that
    # sort or filter on them (`-last_order_at`, `active`) sort the workspace's contacts instead.
    postgresql_with={"fillfactor": 85},
)

# A contact as a shop knows it: one contact can be known to several shops (sources).
contact_identities = Table(
    "contact_identities",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("contact_id", Uuid, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "contact_id"),
)

products = Table(
    "products",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("sku", String(255), nullable=False),
    Column("name", String(500)),
    Column("category", String(200)),
    Column("price_minor", BigInteger),
    Column("currency", String(3)),
    Column("archived_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "sku", unique=True),
    Index(None, "workspace_id", "created_at", "id"),
)

orders = Table(
    "orders",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("contact_id", Uuid),
    Column("customer", JsonDocument),  # the customer object as the shop sent it
    Column("status", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    # money in minor units of `currency`
    Column("subtotal_minor", BigInteger),
    Column("discount_minor", BigInteger, nullable=False, server_default="0"),
    Column("tax_minor", BigInteger, nullable=False, server_default="0"),
    Column("shipping_minor", BigInteger, nullable=False, server_default="0"),
    Column("total_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),
    Column("cost_minor", BigInteger),
    # the same in the workspace's reporting currency (null while no exchange rate converts it)
    Column("reporting_currency", String(3), nullable=False),
    Column("reporting_total_minor", BigInteger),
    Column("reporting_refunded_minor", BigInteger),
    Column("exchange_rate", String(40)),  # decimal string, reporting units per order unit
    Column("conversion", String(16), nullable=False),  # same | converted | missing
    Column("placed_at", UtcDateTime, nullable=False),
    Column("placed_on", Date, nullable=False),  # local date in the workspace's time zone
    Column("source_updated_at", UtcDateTime, nullable=False),
    Column("coupon", String(100)),
    Column("sales_channel", String(100)),
    Column("line_items", JsonDocument, nullable=False),  # as read back; order_lines holds them relationally
    Column("content_hash", String(64), nullable=False),  # of the shop's payload: identical resends
    Column("notes", String(2000)),
    Column("import_id", Uuid),  # the CSV import that created it (migration 0019)
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"]),
    Index("uq_orders_source_key", "workspace_id", "source", "external_id", unique=True),
    Index(None, "workspace_id", "placed_at", "id"),
    Index(None, "workspace_id", "import_id", **_not_null("import_id")),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "contact_id", "placed_at", **_not_null("contact_id")),
    Index(
        "ix_orders_unconverted",
        "workspace_id",
        "currency",
        "placed_on",
        sqlite_where=text("conversion = 'missing'"),
        postgresql_where=text("conversion = 'missing'"),
    ),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("order_id", Uuid, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("sku", String(255)),
    Column("product_id", Uuid),
    Column("name", String(500)),
    Column("category", String(200)),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    ForeignKeyConstraint(["workspace_id", "order_id"], ["orders.workspace_id", "orders.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "product_id", **_not_null("product_id")),
)

order_refunds = Table(
    "order_refunds",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, nullable=False),
    Column("source", String(32), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(500)),
    Column("refunded_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    ForeignKeyConstraint(["workspace_id", "order_id"], ["orders.workspace_id", "orders.id"], ondelete="CASCADE"),
    Index("uq_order_refunds_source_key", "workspace_id", "source", "external_id", unique=True),
    Index(None, "workspace_id", "order_id", "refunded_at"),
)

# Rates by date: 1 `currency` = `rate` `quote_currency` (the workspace's reporting currency).
exchange_rates = Table(
    "exchange_rates",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("quote_currency", String(3), nullable=False),
    Column("rate", String(40), nullable=False),  # a decimal string: exact on both databases
    Column("effective_on", Date, nullable=False),
    *_audit(),
    Index(None, "workspace_id", "currency", "quote_currency", "effective_on", unique=True),
    Index(None, "workspace_id", "created_at", "id"),
)

opportunities = Table(
    "opportunities",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("account_id", Uuid),
    Column("contact_id", Uuid),
    Column("owner_id", Uuid),
    Column("amount_minor", BigInteger),  # minor units of `currency`
    Column("currency", String(3), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("probability", Integer, nullable=False),
    Column("expected_close_date", Date),
    Column("type", String(16), nullable=False),
    Column("close_reason", String(64)),
    Column("closed_at", UtcDateTime),
    Column("lead_id", Uuid),
    Column("archived_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "account_id"], ["accounts.workspace_id", "accounts.id"]),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"]),
    ForeignKeyConstraint(["workspace_id", "owner_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "account_id", "created_at", "id"),
    Index(None, "workspace_id", "stage", "created_at", "id"),
    # A person's opportunities (privacy requests, migration 0046).
    Index(None, "workspace_id", "contact_id", **_not_null("contact_id")),
    Index(None, "workspace_id", "lead_id", **_not_null("lead_id")),
)

# Follow-up steps with a due time, an assignee and a reminder (timer kind `task.due`).
tasks = Table(
    "tasks",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("title", String(300), nullable=False),
    Column("notes", String(10_000)),
    Column("due_at", UtcDateTime),
    Column("assignee_id", Uuid),
    Column("lead_id", Uuid),
    Column("contact_id", Uuid),
    Column("account_id", Uuid),
    Column("opportunity_id", Uuid),
    Column("status", String(16), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("completed_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "assignee_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "status", "due_at", "id"),
    Index(None, "workspace_id", "lead_id", **_not_null("lead_id")),
    Index(None, "workspace_id", "contact_id", **_not_null("contact_id")),
)

# Calls, emails, messages, meetings and notes logged about a lead, contact, account or opportunity.
activities = Table(
    "activities",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid),
    Column("contact_id", Uuid),
    Column("account_id", Uuid),
    Column("opportunity_id", Uuid),
    Column("member_id", Uuid),
    Column("type", String(16), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("automated", Boolean, nullable=False),
    Column("outcome", String(64)),
    Column("duration_seconds", Integer),
    Column("subject", String(300)),
    Column("notes", String(10_000)),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("first_response", Boolean, nullable=False),  # the lead's first qualifying response
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "member_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "lead_id", "occurred_at", "id"),
    Index(None, "workspace_id", "occurred_at", "id"),
    Index(None, "workspace_id", "contact_id", "occurred_at", "id", **_not_null("contact_id")),
)

# Who owned a lead when, and why (routing rule, hot lead, manual, SLA escalation).
lead_assignments = Table(
    "lead_assignments",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("from_member_id", Uuid),
    Column("to_member_id", Uuid),
    Column("team_id", Uuid),
    Column("reason", String(16), nullable=False),
    Column("rule_index", Integer),
    Column("assigned_at", UtcDateTime, nullable=False),
    Column("assigned_by", String(64), nullable=False),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "lead_id", "assigned_at", "id"),
)

# What a lead did (page views, downloads, email clicks, demo requests...): its history for
# scoring, apart from the event log. Anonymous page-level engagements from the tracking snippet
# carry a visitor_id and no lead until a form submission with that visitor_id links them.
engagements = Table(
    "engagements",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid),
    Column("contact_id", Uuid),  # set when the lead is qualified into a contact
    Column("visitor_id", String(128)),
    Column("type", String(32), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("properties", Json, nullable=False),
    Column("origin", String(16), nullable=False),  # api | tracking
    Column("created_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "lead_id", "occurred_at", "id"),
    Index(None, "workspace_id", "visitor_id"),
    Index(None, "workspace_id", "contact_id", **_not_null("contact_id")),  # privacy requests (migration 0046)
)

# Every temperature and stage change of a lead: when, from, to, and why.
lead_state_changes = Table(
    "lead_state_changes",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),  # temperature | stage
    Column("from_value", String(8)),  # a stage may be null: no stage yet
    Column("to_value", String(8)),
    Column("cause", String(200), nullable=False),  # "manual" for a person's change, else what the rules saw
    Column("score", Float, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("changed_by", String(64), nullable=False, server_default="system"),  # the actor (migration 0031)
    Column("reason", String(500)),  # a person's stated reason (`stage_reason`)
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "lead_id", "occurred_at", "id"),
)

# One row per tag on a lead, so a tag filter is an indexed lookup on both databases.
lead_tags = Table(
    "lead_tags",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("lead_id", Uuid, primary_key=True),
    Column("tag", String(100), primary_key=True),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "tag", "lead_id"),
)

custom_fields = Table(
    "custom_fields",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("key", String(64), nullable=False),
    Column("label", String(200), nullable=False),
    Column("type", String(16), nullable=False),
    Column("options", Json, nullable=False),
    Column("required", Boolean, nullable=False, server_default=false()),
    Column("sensitive", Boolean, nullable=False, server_default=false()),
    *_audit(),
    Index(None, "workspace_id", "key", unique=True),
    Index(None, "workspace_id", "created_at", "id"),
)

# Website lead-capture forms and every submission they receive (spam included, flagged).
forms = Table(
    "forms",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("field_mapping", Json, nullable=False),
    Column("allowed_origins", Json, nullable=False),
    Column("redirect_url", String(2048)),
    Column("error_redirect_url", String(2048)),
    Column("honeypot_field", String(100)),
    Column("min_fill_seconds", Integer, nullable=False, server_default="0"),
    Column("default_source", String(32), nullable=False),
    Column("default_tags", Json, nullable=False),
    Column("default_owner_id", Uuid),
    Column("archived_at", UtcDateTime),
    Column("engagement_type", String(32)),  # what a submission records on its lead (migration 0031)
    Column("consents", Json),  # checkboxes giving a channel's consent: [{field, channel, text}] (0036)
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "default_owner_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "created_at", "id"),
)

form_submissions = Table(
    "form_submissions",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("form_id", Uuid, nullable=False),
    Column("lead_id", Uuid),
    Column("contact_id", Uuid),  # a returning customer's submission (no new lead)
    Column("merged", Boolean, nullable=False, server_default=false()),  # into an open lead that existed
    Column("spam", Boolean, nullable=False),
    Column("spam_reason", String(200)),
    Column("fields", Json, nullable=False),
    Column("meta", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["workspace_id", "form_id"], ["forms.workspace_id", "forms.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "form_id", "spam", "created_at", "id"),
    # A person's submissions (privacy requests, migration 0046); partial: spam has no lead.
    Index(None, "workspace_id", "lead_id", **_not_null("lead_id")),
    Index(None, "workspace_id", "contact_id", **_not_null("contact_id")),
)

# Leads the worker has yet to compare with the others (queued by the dispatcher with their
# lead.created event), and the likely duplicates it found: suggestions, never merged automatically.
dedupe_queue = Table(
    "dedupe_queue",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("lead_id", Uuid, primary_key=True),
    Column("queued_at", UtcDateTime, nullable=False),
)

duplicate_candidates = Table(
    "duplicate_candidates",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("candidate_id", Uuid, nullable=False),
    Column("score", Float, nullable=False),
    Column("matched", Json, nullable=False),
    Column("found_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "lead_id", "candidate_id", unique=True),
    Index(None, "workspace_id", "found_at", "id"),
    Index(None, "workspace_id", "candidate_id"),  # an erased lead's pairs (migration 0046)
)


# An automatic merge of one lead into another, kept so it can be undone for 30 days
# (POST /v1/leads/{id}/unmerge): what it changed on each lead and which history rows it moved.
# Documents written once and read whole.
lead_merges = Table(
    "lead_merges",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),  # the merged lead
    Column("survivor_id", Uuid, nullable=False),  # the lead it was merged into
    Column("source", String(16), nullable=False),  # automatic
    Column("confidence", Float),
    Column("merged_at", UtcDateTime, nullable=False),
    Column("merged_by", String(64), nullable=False),
    Column("undo_until", UtcDateTime, nullable=False),
    Column("lead_before", JsonDocument, nullable=False),  # the merged lead's changed columns, as they were
    Column("survivor_before", JsonDocument, nullable=False),  # the survivor's filled fields, before
    Column("survivor_after", JsonDocument, nullable=False),  # ... and as the merge set them
    Column("moved", JsonDocument, nullable=False),  # history table -> ids moved to the survivor
    Column("undone_at", UtcDateTime),
    Column("undone_by", String(64)),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "survivor_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "lead_id", "merged_at"),
    Index(None, "workspace_id", "survivor_id"),  # an anonymised lead's merges (migration 0044)
)

integrations = Table(
    "integrations",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("platform", String(32), nullable=False),  # shopify | woocommerce
    Column("name", String(200)),
    Column("shop_domain", String(255)),  # Shopify: example.myshopify.com
    Column("store_url", String(2048)),  # WooCommerce: https://shop.example
    Column("webhook_secret", String(500), nullable=False),  # verifies the platform's HMAC; never returned
    Column("status", String(16), nullable=False, server_default="active"),  # active | paused
    Column("last_received_at", UtcDateTime),
    Column("received_count", BigInteger, nullable=False, server_default="0"),
    Column("failure_count", BigInteger, nullable=False, server_default="0"),
    Column("last_failure_at", UtcDateTime),
    Column("archived_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "id", unique=True),  # a platform's webhook URL names the integration only
)

# One row per accepted platform delivery (by the platform's webhook/delivery id): a redelivery of
# the same id is acknowledged and changes nothing.
integration_receipts = Table(
    "integration_receipts",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("integration_id", Uuid, primary_key=True),
    Column("delivery_id", String(255), primary_key=True),
    Column("topic", String(100), nullable=False),
    Column("outcome", String(16), nullable=False),  # applied | ignored | failed | recorded
    Column("received_at", UtcDateTime, nullable=False),
    Index(None, "workspace_id", "received_at"),
)

# Verified payloads that could not be applied, kept for inspection (and a later retry by hand).
integration_failures = Table(
    "integration_failures",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("integration_id", Uuid, nullable=False),
    Column("delivery_id", String(255)),
    Column("topic", String(100), nullable=False),
    Column("error", Json, nullable=False),  # a problem document: title, detail, errors
    Column("payload", Json),  # the body as received (JSON), or None when it was not JSON
    Column("received_at", UtcDateTime, nullable=False),
    Index(None, "workspace_id", "integration_id", "received_at", "id"),
)


# CSV imports: the upload is stored in chunks as it streams in (never whole in memory or on disk),
# then a job applies it batch by batch; rows that fail are kept with their values and errors.
imports = Table(
    "imports",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("entity", String(16), nullable=False),  # leads | contacts | orders
    Column("status", String(16), nullable=False),  # uploading | queued | running | completed | failed
    Column("file_name", String(255)),
    Column("mapping", Json, nullable=False),  # target field -> CSV column
    Column("options", Json, nullable=False),
    Column("columns", Json, nullable=False),  # the CSV header
    Column("bytes", BigInteger, nullable=False, server_default="0"),
    Column("chunks", Integer, nullable=False, server_default="0"),
    Column("rows_total", Integer, nullable=False, server_default="0"),
    Column("rows_done", Integer, nullable=False, server_default="0"),
    Column("rows_created", Integer, nullable=False, server_default="0"),
    Column("rows_updated", Integer, nullable=False, server_default="0"),
    Column("rows_unchanged", Integer, nullable=False, server_default="0"),
    Column("rows_failed", Integer, nullable=False, server_default="0"),
    Column("rows_merged", Integer, nullable=False, server_default="0"),
    Column("job_id", Uuid),
    Column("problem", Json),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
)

import_chunks = Table(
    "import_chunks",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("import_id", Uuid, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

import_errors = Table(
    "import_errors",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("import_id", Uuid, primary_key=True),
    Column("row_number", Integer, primary_key=True),  # the data row (1 = the first after the header)
    Column("errors", Json, nullable=False),  # [{field, message}]
    Column("values", Json, nullable=False),  # the row as read: {column: value}
)


# Loyalty points ledger: every change of a contact's balance, with the balance it left.
loyalty_entries = Table(
    "loyalty_entries",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("contact_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),  # earn | redeem | expire | adjust
    Column("points", BigInteger, nullable=False),  # signed: what it did to the balance
    Column("balance_after", BigInteger, nullable=False),
    Column("reason", String(500)),
    Column("reference", String(255)),  # the caller's id for it (an order, a reward): recorded once
    Column("order_id", Uuid),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "contact_id", "created_at", "id"),
    Index(None, "workspace_id", "contact_id", "reference", unique=True, **_not_null("reference")),
)


# Saved segments: a named filter of /v1/contacts (counted when read).
segments = Table(
    "segments",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", String(1000)),
    Column("filters", Json, nullable=False),
    Column("archived_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
)


def _customer_links() -> list[Any]:
    """contact_id / account_id of a service or finance record, with their keys and indexes."""
    return [
        Column("contact_id", Uuid),
        Column("account_id", Uuid),
    ]


# Service and finance records of a customer (the customer 360, migration 0022).
tickets = Table(
    "tickets",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    *_customer_links(),
    Column("subject", String(300), nullable=False),
    Column("description", String(10_000)),
    Column("status", String(16), nullable=False),  # open | pending | solved | closed
    Column("priority", String(8), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("assignee_id", Uuid),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("first_response_at", UtcDateTime),
    Column("solved_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("satisfaction", Integer),  # 1-5, once solved
    Column("satisfaction_comment", String(1000)),
    Column("archived_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"]),
    ForeignKeyConstraint(["workspace_id", "account_id"], ["accounts.workspace_id", "accounts.id"]),
    ForeignKeyConstraint(["workspace_id", "assignee_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "contact_id", "status", **_not_null("contact_id")),
    Index(None, "workspace_id", "account_id", "status", **_not_null("account_id")),
)

contracts = Table(
    "contracts",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    *_customer_links(),
    Column("name", String(200), nullable=False),
    Column("start_on", Date, nullable=False),
    Column("end_on", Date),
    Column("value_minor", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("billing_period", String(16), nullable=False),  # monthly | quarterly | yearly | one_time
    Column("renewal_status", String(16), nullable=False),  # none | due | renewed | not_renewing
    Column("auto_renew", Boolean, nullable=False, server_default=false()),
    Column("archived_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"]),
    ForeignKeyConstraint(["workspace_id", "account_id"], ["accounts.workspace_id", "accounts.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "contact_id", "end_on", **_not_null("contact_id")),
    Index(None, "workspace_id", "account_id", "end_on", **_not_null("account_id")),
)

quotes = Table(
    "quotes",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    *_customer_links(),
    Column("opportunity_id", Uuid, nullable=False),
    Column("number", String(64)),
    Column("currency", String(3), nullable=False),
    Column("lines", Json, nullable=False),  # [{sku, name, quantity, unit_price, total}] (decimal strings)
    Column("total_minor", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # draft | sent | accepted | declined | expired
    Column("valid_until", Date),
    Column("sent_at", UtcDateTime),
    Column("decided_at", UtcDateTime),
    Column("archived_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"]),
    ForeignKeyConstraint(["workspace_id", "account_id"], ["accounts.workspace_id", "accounts.id"]),
    ForeignKeyConstraint(["workspace_id", "opportunity_id"], ["opportunities.workspace_id", "opportunities.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "opportunity_id"),
    Index(None, "workspace_id", "contact_id", "status", **_not_null("contact_id")),
    Index(None, "workspace_id", "account_id", "status", **_not_null("account_id")),
    Index(None, "workspace_id", "number", unique=True, **_not_null("number")),
)

invoices = Table(
    "invoices",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    *_customer_links(),
    Column("number", String(64)),
    Column("currency", String(3), nullable=False),
    Column("amount_due_minor", BigInteger, nullable=False),
    Column("amount_paid_minor", BigInteger, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),  # draft | open | partially_paid | paid | void
    Column("issued_on", Date),
    Column("due_on", Date),
    Column("archived_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"]),
    ForeignKeyConstraint(["workspace_id", "account_id"], ["accounts.workspace_id", "accounts.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "contact_id", "status", **_not_null("contact_id")),
    Index(None, "workspace_id", "account_id", "status", **_not_null("account_id")),
    Index(None, "workspace_id", "number", unique=True, **_not_null("number")),
)

payments = Table(
    "payments",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("invoice_id", Uuid, nullable=False),
    Column("contact_id", Uuid),
    Column("account_id", Uuid),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("paid_at", UtcDateTime, nullable=False),
    Column("method", String(16), nullable=False),  # card | bank_transfer | cash | wallet | other
    Column("reference", String(255)),
    Column("voided_at", UtcDateTime),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "invoice_id"], ["invoices.workspace_id", "invoices.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "invoice_id"),
    Index(None, "workspace_id", "reference", unique=True, **_not_null("reference")),
    Index(None, "workspace_id", "contact_id", **_not_null("contact_id")),  # privacy requests (migration 0046)
)


# Tables that hold one workspace's data; the tenancy tests check each of them has workspace_id.
# Customer analytics (CLV): a workspace's snapshots, each with its customers' values.
# Computed by the `analytics.refresh` job; reads never fit a model. The latest two ready snapshots
# are kept (the previous one for movement).
analytics_snapshots = Table(
    "analytics_snapshots",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("status", String(16), nullable=False),  # building | ready
    Column("as_of", Date, nullable=False),
    Column("calibration_end", Date),
    Column("currency", String(3), nullable=False),
    Column("time_unit", String(8), nullable=False),
    Column("model", String(16)),  # bgnbd | simple
    Column("model_reason", String(500)),
    Column("spend_model", String(16)),  # gamma_gamma | average
    Column("bgnbd", Json),
    Column("gamma_gamma", Json),
    Column("customers", Integer, nullable=False, server_default="0"),
    Column("repeat_buyers", Integer, nullable=False, server_default="0"),
    Column("retention", Json),
    Column("totals", Json),
    Column("groups", Json),
    Column("holdout", Json),
    Column("insights", Json),  # retention analytics: RFM segments and movement, churn, cohorts, acquisition
    Column("settings", Json, nullable=False),
    Column("fit_seconds", Float),
    Column("total_seconds", Float),
    Column("job_id", Uuid),
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Index(None, "workspace_id", "status", "completed_at"),
)

customer_values = Table(
    "customer_values",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("snapshot_id", Uuid, primary_key=True),
    Column("contact_id", Uuid, primary_key=True),
    Column("purchases", Integer, nullable=False),  # distinct purchase days
    Column("frequency", Integer, nullable=False),  # repeat purchase days (x)
    Column("recency", Integer, nullable=False),  # days, first to last purchase (t_x)
    Column("age", Integer, nullable=False),  # days, first purchase to the analysis date (T)
    Column("first_purchase_on", Date, nullable=False),
    Column("last_purchase_on", Date, nullable=False),
    # Money: minor units of the snapshot's currency.
    Column("revenue_minor", BigInteger, nullable=False),
    Column("margin_minor", BigInteger, nullable=False),
    Column("average_order_value_minor", BigInteger, nullable=False),
    Column("repeat_value_minor", BigInteger),  # mean value of the repeat purchase days
    Column("expected_value_minor", BigInteger),  # E[value of a purchase]
    Column("simple_clv_minor", BigInteger, nullable=False),
    Column("retention_clv_minor", BigInteger, nullable=False),
    Column("predicted_clv_minor", BigInteger, nullable=False),
    Column("predicted_margin_minor", BigInteger, nullable=False),
    Column("purchases_per_year", Float, nullable=False),
    Column("expected_purchases_90", Float, nullable=False),
    Column("expected_purchases_365", Float, nullable=False),
    Column("p_alive", Float),
    # Retention analytics; null in snapshots made before migration 0024.
    Column("days_since_last", Integer),
    Column("recency_score", Integer),
    Column("frequency_score", Integer),
    Column("monetary_score", Integer),
    Column("rfm_segment", String(32)),
    Column("churn_score", Float),
    Column("churn_level", String(8)),
    Column("churn_reasons", Json),
    Column("clv_at_risk_minor", BigInteger),
    Column("recommendations", Json),
    Column("open_recommendations", Integer),
    Column("advocacy_score", Float),
    Column("advocacy", Json),
    Column("value_added_deals", Integer),
    Column("owner_id", Uuid),
    Column("acquisition_channel", String(100)),
    Column("acquisition_month", String(7)),
    # The expected next purchase (migration 0034; null in older snapshots).
    Column("purchase_interval_days", Float),  # typical days between purchases
    Column("next_purchase_basis", String(16)),  # own_rhythm | model | workspace_median
    Column("expected_next_purchase_at", UtcDateTime),
    ForeignKeyConstraint(
        ["workspace_id", "snapshot_id"],
        ["analytics_snapshots.workspace_id", "analytics_snapshots.id"],
        ondelete="CASCADE",
    ),
    Index(None, "workspace_id", "snapshot_id", "clv_at_risk_minor", "contact_id"),
    Index(None, "workspace_id", "snapshot_id", "advocacy_score", "contact_id"),
)

# Marketing spend per acquisition channel and month (CLV:CAC).
acquisition_costs = Table(
    "acquisition_costs",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("channel", String(100), nullable=False),  # lower-cased, the contacts' acquisition_channel vocabulary
    Column("month", String(7), nullable=False),  # YYYY-MM
    Column("spend_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("notes", String(2000)),
    Column("archived_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
    Index(
        "uq_acquisition_costs_live",
        "workspace_id",
        "channel",
        "month",
        "currency",
        unique=True,
        sqlite_where=text("archived_at IS NULL"),
        postgresql_where=text("archived_at IS NULL"),
    ),
)

# A customer at high churn risk or overdue against their own rhythm, and what became of them
# (rescued or churned).
churn_alerts = Table(
    "churn_alerts",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("contact_id", Uuid, nullable=False),
    Column("snapshot_id", Uuid, nullable=False),
    Column("raised_on", Date, nullable=False),
    Column("window_ends_on", Date, nullable=False),
    Column("churn_score", Float, nullable=False),
    Column("clv_at_risk_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reasons", Json, nullable=False),
    Column("owner_id", Uuid),
    Column("task_id", Uuid),
    Column("outcome", String(16)),  # null (open) | rescued | churned
    Column("resolved_on", Date),
    Column("created_at", UtcDateTime, nullable=False),
    # Migration 0034: why it was raised, and whether it was announced (a first snapshot's cap).
    Column("reason", String(16), nullable=False, server_default="high_risk"),  # high_risk | overdue
    Column("churn_level", String(8), nullable=False, server_default="high"),
    Column("announced", Boolean, nullable=False, server_default=true()),
    Column("days_since_last", Integer),
    Column("purchase_interval_days", Float),
    Column("expected_next_purchase_at", UtcDateTime),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "contact_id", "raised_on"),
    Index(None, "workspace_id", "raised_on", "id"),
)


# -- outreach: channels, consent, suppressions, templates, messages (migration 0035) ----------------

channels = Table(
    "channels",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("type", String(16), nullable=False),  # email | sms | whatsapp
    Column("provider", String(32), nullable=False),  # smtp | kavenegar | twilio | whatsapp_cloud
    Column("name", String(200), nullable=False),
    Column("settings", Json, nullable=False),  # what the provider needs that is not secret
    Column("secrets", Text),  # sealed (app/sealing.py): passwords and tokens, never returned
    Column("is_default", Boolean, nullable=False, server_default=false()),
    # Provider callbacks: the URL's token is checked against this digest (the token is shown once).
    Column("callback_token_digest", String(64), nullable=False),
    # The channel's rate, shared by every worker: the earliest instant a send not yet reserved may
    # go (each worker reserves its sends' slots here before handing them off; migration 0041).
    Column("next_send_at", UtcDateTime),
    Column("archived_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "id", unique=True),  # a provider's callback URL names the channel only
    # one default per type among the live channels
    Index(
        "uq_channels_default",
        "workspace_id",
        "type",
        unique=True,
        postgresql_where=text("is_default AND archived_at IS NULL"),
        sqlite_where=text("is_default AND archived_at IS NULL"),
    ),
)

# A person's consent per channel: one row per (lead or contact, channel); its changes in consent_changes.
consents = Table(
    "consents",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid),
    Column("contact_id", Uuid),
    Column("channel", String(16), nullable=False),
    Column("status", String(24), nullable=False),  # opted_in | opted_out | pending_confirmation | unknown
    Column("source", String(24), nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("proof", Json),  # submission id, ip, user agent, the consent text shown
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"),
    CheckConstraint("(lead_id IS NULL) <> (contact_id IS NULL)", name="one_person"),
    Index("uq_consents_lead", "workspace_id", "lead_id", "channel", unique=True, **_not_null("lead_id")),
    Index("uq_consents_contact", "workspace_id", "contact_id", "channel", unique=True, **_not_null("contact_id")),
)

consent_changes = Table(
    "consent_changes",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid),
    Column("contact_id", Uuid),
    Column("channel", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("previous_status", String(24), nullable=False),
    Column("source", String(24), nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("proof", Json),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "lead_id", "created_at", **_not_null("lead_id")),
    Index(None, "workspace_id", "contact_id", "created_at", **_not_null("contact_id")),
)

# Addresses no message goes to, marketing or transactional, whoever has them.
suppressions = Table(
    "suppressions",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("address", String(320)),  # normalised: a lower-cased email or an E.164 phone; null once erased
    Column("address_hash", String(64), nullable=False),  # keyed (app/sealing.py): kept after erasure
    Column("reason", String(16), nullable=False),  # bounced | complained | manual | erased
    Column("note", String(500)),
    Column("message_id", Uuid),  # the message whose bounce or complaint added it
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Index("uq_suppressions_address", "workspace_id", "channel", "address_hash", unique=True),
    Index(None, "workspace_id", "created_at", "id"),
    # Whether a workspace erased anyone (a capture asks, cached): erased entries only (migration 0046).
    Index(
        "ix_suppressions_erased",
        "workspace_id",
        sqlite_where=text("reason = 'erased'"),
        postgresql_where=text("reason = 'erased'"),
    ),
)

templates = Table(
    "templates",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("subject", String(1000)),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text),
    Column("whatsapp_template", Json),  # {"name", "language"} of the template Meta approved
    Column("archived_at", UtcDateTime),
    *_audit(),  # `version` is the template's version: every change of content adds one
    Index(None, "workspace_id", "created_at", "id"),
)

# Every version of a template as it was: a message names the version it was rendered from.
template_versions = Table(
    "template_versions",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("template_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("locale", String(16), nullable=False),
    Column("subject", String(1000)),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text),
    Column("whatsapp_template", Json),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    ForeignKeyConstraint(
        ["workspace_id", "template_id"], ["templates.workspace_id", "templates.id"], ondelete="CASCADE"
    ),
)

messages = Table(
    "messages",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid),
    Column("contact_id", Uuid),
    Column("channel", String(16), nullable=False),  # email | sms | whatsapp
    Column("channel_id", Uuid),  # null when blocked for want of a channel
    Column("purpose", String(16), nullable=False),  # marketing | transactional
    Column("status", String(16), nullable=False),
    Column("block_reason", String(24)),
    Column("to_address", String(320)),  # as sent: an email or an E.164 phone
    Column("address_key", String(320)),  # normalised: what suppressions and the frequency cap count by
    Column("template_id", Uuid),
    Column("template_version", Integer),
    Column("subject", String(1000)),
    Column("body_text", Text),
    Column("body_html", Text),
    Column("sms_parts", Integer),
    Column("links", OptionalJson),  # the tracked links' targets, by position (`/t/c/{token}` names one)
    Column("whatsapp_template", OptionalJson),  # {"name", "language", "parameters"}: the approved template, filled in
    Column("email_message_id", String(300)),  # the Message-ID header
    Column("provider_message_id", String(200)),  # what the provider calls it (delivery reports name it)
    Column("early_report", OptionalJson),  # a delivery report that came while it was `sending` (migration 0036)
    # `unknown` at a provider that looks sends up by our id: when it is asked next (null: never
    # again); while a worker asks, the end of its hold (migration 0041)
    Column("lookup_at", UtcDateTime),
    Column("send_at", UtcDateTime, nullable=False),  # due: asked for, or delayed by quiet hours or the cap
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", UtcDateTime),  # a worker holds it until then
    Column("last_error", String(1000)),
    Column("member_id", Uuid),  # the member whose key sent it: an outbound human touch
    Column("automated", Boolean, nullable=False, server_default=false()),
    Column("sent_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    Column("opened_at", UtcDateTime),
    Column("clicked_at", UtcDateTime),
    Column("replied_at", UtcDateTime),
    Column("failed_at", UtcDateTime),
    Column("unsubscribed_at", UtcDateTime),  # its unsubscribe link (or List-Unsubscribe) was used
    Column("complained_at", UtcDateTime),  # reported as spam
    Column("campaign_id", Uuid),  # sent by this campaign
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "lead_id"], ["leads.workspace_id", "leads.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "contact_id"], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "channel_id"], ["channels.workspace_id", "channels.id"]),
    ForeignKeyConstraint(["workspace_id", "template_id"], ["templates.workspace_id", "templates.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "lead_id", "created_at", **_not_null("lead_id")),
    Index(None, "workspace_id", "contact_id", "created_at", **_not_null("contact_id")),
    # the frequency cap: marketing sent (or due) to one address
    Index(None, "workspace_id", "address_key", "send_at", **_not_null("address_key")),
    # the worker's queue: due messages across workspaces
    Index(
        "ix_messages_due",
        "send_at",
        postgresql_where=text("status = 'queued'"),
        sqlite_where=text("status = 'queued'"),
    ),
    Index(None, "channel_id", "provider_message_id", **_not_null("provider_message_id")),
    Index(None, "workspace_id", "campaign_id", "status", **_not_null("campaign_id")),
    # sends whose worker's lease ran out (settled as unknown)
    Index(
        "ix_messages_sending",
        "lease_until",
        postgresql_where=text("status = 'sending'"),
        sqlite_where=text("status = 'sending'"),
    ),
    # unknown sends due to be looked up at their provider
    Index(
        "ix_messages_lookup",
        "lookup_at",
        postgresql_where=text("status = 'unknown'"),
        sqlite_where=text("status = 'unknown'"),
    ),
)

message_status_changes = Table(
    "message_status_changes",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("message_id", Uuid, nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", String(1000)),
    Column("at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["workspace_id", "message_id"], ["messages.workspace_id", "messages.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "message_id", "at"),
)


# Journeys: durable multi-step automations (migration 0037). A journey's document (trigger, steps,
# exits, re-enrolment) is kept per version; publishing freezes the draft as the active version, and
# every enrolment runs on the version it started in.
journeys = Table(
    "journeys",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("audience", String(16), nullable=False),  # leads | contacts
    Column("status", String(16), nullable=False),  # draft | active | paused | archived
    Column("active_version", Integer),  # the published version new enrolments start in
    Column("draft_version", Integer),  # the version being edited (null: none since the last publish)
    Column("trigger_type", String(16)),  # of the active version: event | segment | schedule | manual
    Column("trigger_event", String(64)),  # of the active version, for an event trigger
    Column("template", String(64)),  # the built-in journey it was made from
    Column("next_run_at", UtcDateTime),  # a schedule trigger's next occurrence
    Column("from_sequence", BigInteger),  # events up to this one (stamped before it was published) enrol no one
    Column("paused_at", UtcDateTime),
    Column("archived_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "status", "trigger_type"),
)

journey_versions = Table(
    "journey_versions",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("journey_id", Uuid, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("document", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime),
    Column("published_by", String(64)),
    # its review, when journeys that send marketing need approvals (migration 0039)
    Column("review_status", String(16)),  # null (not submitted) | in_review | approved
    Column("contributors", Json),  # members who edited or submitted it: none of them may approve it
    Column("approvals", Integer, nullable=False, server_default="0"),
    Column("review_groups", Integer, nullable=False, server_default="0"),
    Column("required_approvals", Integer),
    Column("required_review_groups", Integer),
    Column("submitted_at", UtcDateTime),
    Column("approved_at", UtcDateTime),
    ForeignKeyConstraint(["workspace_id", "journey_id"], ["journeys.workspace_id", "journeys.id"], ondelete="CASCADE"),
)

# One person's way through one version of a journey. `due_at`: when the worker next advances it
# (a wait's end, or a wait-for-event's timeout); null while it waits only for an event or once ended.
enrolments = Table(
    "enrolments",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("journey_id", Uuid, nullable=False),
    Column("journey_version", Integer, nullable=False),
    Column("lead_id", Uuid),
    Column("contact_id", Uuid),
    Column("status", String(16), nullable=False),  # active | completed | exited
    Column("exit_reason", String(200)),
    Column("current_step", String(64)),
    Column("visit", Integer, nullable=False, server_default="1"),  # how many times current_step was entered
    Column("variant", String(64)),  # the split's variant it took
    Column("due_at", UtcDateTime),
    Column("waiting_event", String(64)),  # a wait for this event type (until due_at, its timeout)
    Column("failures", Integer, nullable=False, server_default="0"),  # passes that failed in a row
    Column("enrolled_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("trigger", Json),  # what enrolled it: {"type", "event_id"?}
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "journey_id"], ["journeys.workspace_id", "journeys.id"], ondelete="CASCADE"),
    Index(None, "workspace_id", "journey_id", "created_at", "id"),
    Index(None, "workspace_id", "lead_id"),
    Index(None, "workspace_id", "contact_id"),
    Index("ix_enrolments_due", "due_at", **{f"{d}_where": text("status = 'active'") for d in ("sqlite", "postgresql")}),
    Index(
        "ux_enrolments_active_lead",
        "workspace_id",
        "journey_id",
        "lead_id",
        unique=True,
        sqlite_where=text("status = 'active' AND lead_id IS NOT NULL"),
        postgresql_where=text("status = 'active' AND lead_id IS NOT NULL"),
    ),
    Index(
        "ux_enrolments_active_contact",
        "workspace_id",
        "journey_id",
        "contact_id",
        unique=True,
        sqlite_where=text("status = 'active' AND contact_id IS NOT NULL"),
        postgresql_where=text("status = 'active' AND contact_id IS NOT NULL"),
    ),
)

# Every step an enrolment ran, once: keyed by (enrolment, step, visit) and written in the same
# transaction as what the step did (a message queued, a task created), so no step runs twice.
enrolment_steps = Table(
    "enrolment_steps",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("enrolment_id", Uuid, primary_key=True),
    Column("step_id", String(64), primary_key=True),
    Column("visit", Integer, primary_key=True),
    Column("number", Integer, nullable=False),  # the n-th step the enrolment ran (its history's order)
    Column("id", Uuid, nullable=False),  # for the person's timeline (an entry's id)
    Column("journey_id", Uuid, nullable=False),
    Column("lead_id", Uuid),  # the enrolment's person, for their timeline
    Column("contact_id", Uuid),
    Column("step_type", String(16), nullable=False),
    Column("result", OptionalJson),  # {"message_id"}, {"task_id"}, {"branch": "then"}, {"variant"}, {"until"}...
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    ForeignKeyConstraint(
        ["workspace_id", "enrolment_id"], ["enrolments.workspace_id", "enrolments.id"], ondelete="CASCADE"
    ),
    Index(None, "workspace_id", "lead_id", "started_at", "id"),
    Index(None, "workspace_id", "contact_id", "started_at", "id"),
)

# Who is in each saved segment, as its last evaluation found (the worker's, every
# SEGMENT_REFRESH_SECONDS): entering and leaving emit contact.segment_entered / _exited.
segment_members = Table(
    "segment_members",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", Uuid, primary_key=True),
    Column("contact_id", Uuid, primary_key=True),
    Column("entered_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["workspace_id", "segment_id"], ["segments.workspace_id", "segments.id"], ondelete="CASCADE"),
)

# When each saved segment's members were last evaluated (null: never; the first evaluation records
# its members without events).
segment_evaluations = Table(
    "segment_evaluations",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", Uuid, primary_key=True),
    Column("evaluated_at", UtcDateTime, nullable=False),
    Column("members", Integer, nullable=False),
    ForeignKeyConstraint(["workspace_id", "segment_id"], ["segments.workspace_id", "segments.id"], ondelete="CASCADE"),
)

# How far each workspace's events were read for journey triggers and exits (its event sequence).
journey_cursors = Table(
    "journey_cursors",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


# A campaign: one send to an audience in one or more variants, reviewed and approved before launch.
# `approvals` / `review_groups`: the members whose approval counts now and their distinct review
# groups (kept here so a list reads no reviews); `required_*`: the bar in force when it was submitted.
campaigns = Table(
    "campaigns",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("channel", String(16), nullable=False),  # email | sms | whatsapp
    Column("status", String(16), nullable=False),  # draft | in_review | approved | ... | cancelled
    Column("audience", Json),  # {"type", "segment_id"?, "conditions"?, "exclude_segment_ids"?}
    Column("variants", Json, nullable=False),  # [{"name", "template_id", "weight"}]
    Column("holdout_percent", Integer, nullable=False, server_default="0"),
    Column("pilot", Json),  # {"percent" | "count", "wait_hours", "auto_pause"}
    Column("send_at", Json),  # {"at"} or {"date", "local_time"}; null: at launch
    Column("goal", Json),  # {"event"} or {"engagement"}
    Column("attribution_days", Integer, nullable=False, server_default="7"),
    Column("cost_minor", BigInteger),  # in minor units of cost_currency
    Column("cost_currency", String(3)),
    Column("utm", Boolean, nullable=False, server_default=true()),
    Column("author_member_id", Uuid),
    # the members who wrote it, changed what is reviewed or submitted it: none of them may approve it
    Column("contributors", Json),
    Column("approvals", Integer, nullable=False, server_default="0"),
    Column("review_groups", Integer, nullable=False, server_default="0"),
    Column("required_approvals", Integer),
    Column("required_review_groups", Integer),
    Column("submitted_at", UtcDateTime),
    Column("approved_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    # sending (migration 0039)
    Column("seed", BigInteger),  # drawn at launch: the recipients' arms and pilot follow from it
    Column("launched_at", UtcDateTime),
    Column("starts_at", UtcDateTime),  # when sending begins: send_at.at, a local date's earliest, or launch
    Column("pilot_started_at", UtcDateTime),
    Column("rest_due_at", UtcDateTime),  # the pilot's wait over: the rest goes from then
    Column("paused_at", UtcDateTime),
    Column("pause_reason", Json),  # {"reason", figures...}: why sending stopped
    Column("winner", String(64)),  # the variant the rest went with (a significant pilot winner)
    Column("finished_at", UtcDateTime),  # every recipient's message at a final status
    # Progress (recipients and their messages by status), kept by the worker's passes while it can
    # change (`progress_live`): a read shows it without counting 100,000 rows, and its version (the
    # ETag) moves with it.
    Column("progress", Json),
    Column("progress_live", Boolean, nullable=False, server_default=false()),
    *_audit(),
    ForeignKeyConstraint(["workspace_id", "author_member_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "status", "created_at", "id"),
    Index(None, "progress_live", "starts_at"),  # the worker's campaign queue, across workspaces
)

# Every review of a campaign, kept: `counts` while the approval is a current one (a member's first
# since the last edit of what is sent); `withdrawn_at` when an edit or the member's own later
# rejection took it back.
campaign_reviews = Table(
    "campaign_reviews",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("campaign_id", Uuid, nullable=False),
    Column("member_id", Uuid, nullable=False),
    Column("decision", String(16), nullable=False),  # approve | reject | request_changes
    Column("comment", Text),
    Column("review_group", String(64)),  # the member's when they reviewed
    Column("counts", Boolean, nullable=False),
    Column("withdrawn_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["workspace_id", "campaign_id"], ["campaigns.workspace_id", "campaigns.id"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(["workspace_id", "member_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "campaign_id", "created_at", "id"),
)

# A launched campaign's audience, frozen: one row per person, with the arm the seed gave them
# (a variant's name, or `holdout`: sent nothing) and whether they are in the pilot. `message_id` is
# set in the same transaction as the message is stored: a recipient is messaged at most once.
campaign_recipients = Table(
    "campaign_recipients",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("campaign_id", Uuid, primary_key=True),
    Column("person_id", Uuid, primary_key=True),  # a lead or a contact, as the audience's type
    Column("arm", String(64), nullable=False),
    Column("pilot", Boolean, nullable=False),
    Column("status", String(16), nullable=False),  # pending | messaged | holdout | skipped
    Column("message_id", Uuid),
    Column("block_reason", String(24)),  # a message stored blocked: why
    Column("send_at", UtcDateTime),  # its own time (a local send time in its time zone)
    Column("created_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["workspace_id", "campaign_id"], ["campaigns.workspace_id", "campaigns.id"], ondelete="CASCADE"
    ),
    Index(None, "workspace_id", "campaign_id", "status", "pilot", "person_id"),
    Index(None, "workspace_id", "person_id"),  # a person's campaigns (privacy requests, migration 0046)
)

# Journeys under review (when the campaigns setting `approvals_apply_to_journeys` is on): every
# review of a journey's draft version, kept, as for campaigns.
journey_reviews = Table(
    "journey_reviews",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("journey_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),  # the draft version reviewed
    Column("member_id", Uuid, nullable=False),
    Column("decision", String(16), nullable=False),  # approve | reject | request_changes
    Column("comment", Text),
    Column("review_group", String(64)),
    Column("counts", Boolean, nullable=False),
    Column("withdrawn_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["workspace_id", "journey_id"], ["journeys.workspace_id", "journeys.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["workspace_id", "member_id"], ["members.workspace_id", "members.id"]),
    Index(None, "workspace_id", "journey_id", "created_at", "id"),
)


# Sales forecasts as computed, per workspace and the parameters that make one (metric, interval,
# periods, as_of, category): read until the nightly job or a large import replaces them.
report_forecasts = Table(
    "report_forecasts",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("result", Json, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Column("data_version", String(64), nullable=False),  # what the history looked like (orders count, newest)
)

# Scheduled digests: a report with its parameters, a cadence in the workspace's time zone and who gets it.
report_schedules = Table(
    "report_schedules",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("report", String(32), nullable=False),  # funnel | win-loss | team | pipeline | sales-forecast | ...
    Column("params", Json, nullable=False),  # the report's query parameters
    Column("cadence", String(16), nullable=False),  # daily | weekly
    Column("weekday", Integer),  # weekly: Python weekday, Monday = 0
    Column("local_time", String(5), nullable=False),  # HH:MM in the workspace's time zone
    Column("member_ids", Json, nullable=False),  # members who get it by email
    Column("emit_event", Boolean, nullable=False, server_default=false()),  # report.delivered
    Column("channel_id", Uuid),  # the email channel (null: the default)
    Column("next_run_at", UtcDateTime),  # the next occurrence (null: paused or archived)
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("archived_at", UtcDateTime),
    # Digests that could not be prepared in a row, what went wrong last and when (0, null: none since
    # the last delivery or change); a wrong input, or too many in a row, pauses the schedule.
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("last_failed_at", UtcDateTime),
    *_audit(),
    Index(None, "next_run_at", **_not_null("next_run_at")),
)

# One digest per schedule and period, ever: the row is written with what was sent, in one transaction.
report_deliveries = Table(
    "report_deliveries",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("schedule_id", Uuid, primary_key=True),
    Column("occurrence", String(40), primary_key=True),  # the occurrence it answers (its local date and time)
    Column("id", Uuid, nullable=False),
    Column("message_ids", Json, nullable=False),
    Column("figures", Json, nullable=False),  # the report as delivered
    Column("created_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["workspace_id", "schedule_id"], ["report_schedules.workspace_id", "report_schedules.id"], ondelete="CASCADE"
    ),
)


# The audit log (app/services/audit): one entry per write request and per bulk read, inserted in
# the request's own transaction (with its other rows written behind) and never updated after but
# to erase `personal`. Append-only: no route changes or deletes an entry. The writer also queues
# the entry in `audit_queue`; the worker chains each workspace's entries in `audit_stamps` (in the
# order it sees commits, as it numbers events in `event_stamps`); the nightly purge deletes entries
# past the retention from the start of the chain. `digest` (of the fields below but `personal`)
# and `personal_digest` are taken when the entry is written (app/domain/audit/entries.py).
# `changes`, `detail` and `personal` are documents written once and read whole (SQL NULL when
# absent or erased).
audit_log = Table(
    "audit_log",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("member_id", Uuid),
    Column("key_id", Uuid),
    Column("resource", String(64), nullable=False),
    Column("resource_id", String(200)),
    Column("action", String(100), nullable=False),
    Column("route", String(300)),  # "POST /v1/leads/{lead_id}/qualify"; null for work the service did itself
    Column("ip", String(64)),
    Column("user_agent", String(512)),
    Column("request_id", String(128)),
    Column("changes", OptionalJsonDocument),  # {field: {"before", "after"}}, secrets and personal values masked
    Column("detail", OptionalJsonDocument),  # what else the action names (an export's filters), masked alike
    Column("personal", OptionalJsonDocument),  # {"salt", "values": {path: value}}: erasable
    Column("personal_digest", String(64)),
    Column("digest", String(64), nullable=False),
    Index(None, "workspace_id", "occurred_at", "id"),
    Index(None, "workspace_id", "resource", "resource_id"),  # a resource's entries (erasure, migration 0046)
)

# Entries not chained yet, with what the worker needs to chain them (their digest): written with
# the entry, deleted by the pass that stamps it. No foreign key (as `event_queue`): a row lives a
# second or two, and its per-row check would share-lock the workspace row every writer locks too.
audit_queue = Table(
    "audit_queue",
    metadata,
    Column("workspace_id", Uuid, primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("digest", String(64), nullable=False),
    Index("ix_audit_queue_id", "id"),  # the worker takes the oldest first, across workspaces
)

# Each chained entry's place in its workspace's chain: `seq` 1, 2, ... and `chain_hash`, written
# once by the worker's stamping pass (insert-only: an entry is written once, never rewritten to
# stamp it). Verification walks this table by `seq` and reads each entry by its id.
audit_stamps = Table(
    "audit_stamps",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("entry_id", Uuid, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Index(None, "workspace_id", "entry_id", unique=True),
)

# Each workspace's chain: its head (the last entry stamped; the worker's alone) and its anchor (the
# last entry purged, where verification starts; the nightly purge's alone).
audit_chains = Table(
    "audit_chains",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("head_seq", BigInteger, nullable=False, server_default="0"),
    Column("head_hash", String(64)),
    Column("head_id", Uuid),
    Column("anchor_seq", BigInteger, nullable=False, server_default="0"),
    Column("anchor_hash", String(64)),
    Column("anchored_at", UtcDateTime),
)


# Privacy requests (app/services/privacy): a person's data exported or erased, answered by a job.
# A request keeps keyed digests of the identifiers it was given (`subjects`), never the identifiers;
# `matched` names the records found and by which key; an export's document is kept until
# `expires_at` (`retention.privacy_export_days`), then purged with the request left `expired`.
privacy_requests = Table(
    "privacy_requests",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("kind", String(16), nullable=False),  # export | erasure
    Column("status", String(16), nullable=False),  # pending | running | ready | completed | failed | expired
    Column("subjects", Json, nullable=False),  # {"email": digest, ...}: what it was given, keyed
    Column("reason", String(500)),
    Column("origin", String(64), nullable=False),  # api | shopify:customers/redact | ...
    Column("job_id", Uuid),
    Column("matched", OptionalJsonDocument),  # [{"resource", "id", "keys"}]
    Column("counts", OptionalJsonDocument),  # erasure: {table: rows}
    Column("document", LargeBinary),  # export: the JSON document (gzip)
    Column("document_bytes", BigInteger),
    Column("problem", OptionalJsonDocument),
    Column("expires_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
    *_audit(),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "workspace_id", "expires_at", "id", **_not_null("expires_at")),  # the nightly purge
)

# Where a person's data lives when no indexed column names them (events keyed to another resource,
# stored idempotent answers, failed import rows, shop payloads that failed): written in the same
# transaction as the data. `subject` is a lead or contact id, or a keyed digest of an email or
# phone ("email:<digest>", "phone:<digest>") when no person existed; `place` a table; `row_key`
# that row's key in it.
personal_refs = Table(
    "personal_refs",
    metadata,
    Column("workspace_id", Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("subject", String(80), primary_key=True),
    Column("place", String(32), primary_key=True),
    Column("row_key", String(300), primary_key=True),
)


TENANT_TABLES = (
    members,
    api_keys,
    workspace_settings,
    idempotency_keys,
    events,
    event_queue,
    event_stamps,
    event_sequences,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts,
    timers,
    jobs,
    leads,
    lead_tags,
    custom_fields,
    forms,
    form_submissions,
    engagements,
    lead_state_changes,
    teams,
    activities,
    lead_assignments,
    accounts,
    contacts,
    opportunities,
    tasks,
    dedupe_queue,
    duplicate_candidates,
    lead_merges,
    contact_identities,
    products,
    orders,
    order_lines,
    order_refunds,
    exchange_rates,
    integrations,
    integration_receipts,
    integration_failures,
    imports,
    import_chunks,
    import_errors,
    loyalty_entries,
    segments,
    tickets,
    contracts,
    quotes,
    invoices,
    payments,
    analytics_snapshots,
    customer_values,
    acquisition_costs,
    churn_alerts,
    channels,
    consents,
    consent_changes,
    suppressions,
    templates,
    template_versions,
    messages,
    message_status_changes,
    journeys,
    journey_versions,
    enrolments,
    enrolment_steps,
    journey_cursors,
    segment_members,
    segment_evaluations,
    campaigns,
    campaign_reviews,
    campaign_recipients,
    journey_reviews,
    report_forecasts,
    report_schedules,
    report_deliveries,
    audit_log,
    audit_queue,
    audit_stamps,
    audit_chains,
    privacy_requests,
    personal_refs,
)
