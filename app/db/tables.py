"""The schema as SQLAlchemy Core tables. Alembic migrations are generated from and checked against
this metadata; every tenant table starts its keys with workspace_id (ready for distribution)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    true,
)

from app.db.types import Json, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


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
    Index(None, "expires_at"),
)

# Tables that hold one workspace's data; the tenancy tests check each of them has workspace_id.
TENANT_TABLES = (members, api_keys, workspace_settings, idempotency_keys)
