"""hardening: key expiry, endpoint scopes, queued-job fingerprints, secrets kept out of replays

- `api_keys.expires_at`: optional; an expired key is answered like a revoked one.
- `webhook_endpoints.scopes`: the scopes of the key that created the endpoint, which bound what it
  is delivered. Endpoints that exist already are recorded as created by `admin`, so they keep
  receiving exactly what they receive today.
- `jobs.fingerprint` with a unique index over queued jobs: a second identical request while one is
  queued returns the queued job; `(workspace_id, started_at)` for the fair claim's "last started".
- `idempotency_keys.secret_resource`: a stored response that carried a new secret keeps only the
  created resource's path, never the secret. Responses stored before (a new API key's `key`, a new
  endpoint's `secret`) lose their body here rather than when their retention runs out.

Going down revokes the keys that carry an expiry and disables the endpoints of narrower keys: the
older code would otherwise keep such a key for ever and deliver such an endpoint every event.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 06:30:00
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.types

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", app.db.types.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", JSON, nullable=True))
    op.execute("UPDATE webhook_endpoints SET scopes = '[\"admin\"]'")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("scopes", existing_type=JSON, nullable=False)

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_jobs_workspace_id_started_at"), "jobs", ["workspace_id", "started_at"], unique=False)
    op.create_index(
        "ix_jobs_queued_fingerprint",
        "jobs",
        ["workspace_id", "fingerprint"],
        unique=True,
        sqlite_where=sa.text("status = 'queued'"),
        postgresql_where=sa.text("status = 'queued'"),
    )

    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_resource", sa.String(length=500), nullable=True))
    _forget_stored_secrets()
    _redactions_keep_their_reach()


def _redactions_keep_their_reach() -> None:
    """A redaction now erases only the event types its requester may read (`params.scopes`). One
    requested before this revision erased every event about its resource; without scopes it would
    now erase nothing, so it keeps the reach it was requested with."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT workspace_id, id, params FROM jobs WHERE kind = 'events.redact' AND status IN ('queued', 'running')"
        )
    ).all()
    for workspace_id, job_id, params in rows:
        values = json.loads(params) if isinstance(params, str) else dict(params or {})
        if "scopes" in values:
            continue
        bind.execute(
            sa.text("UPDATE jobs SET params = :params WHERE workspace_id = :w AND id = :id").bindparams(
                sa.bindparam("params", type_=JSON)
            ),
            {"params": {**values, "scopes": ["admin"]}, "w": workspace_id, "id": job_id},
        )


def _forget_stored_secrets() -> None:
    """Stored answers that carried a new secret keep their status and resource, not the secret.
    Read a page at a time by key, so a long retention of large answers never sits in memory whole."""
    bind = op.get_bind()
    after: tuple[object, object] | None = None
    while True:
        page = bind.execute(
            sa.text(
                "SELECT workspace_id, key, headers, body FROM idempotency_keys WHERE body IS NOT NULL"
                + ("" if after is None else " AND (workspace_id > :w OR (workspace_id = :w AND key > :k))")
                + " ORDER BY workspace_id, key LIMIT 200"
            ),
            {} if after is None else {"w": after[0], "k": after[1]},
        ).all()
        for workspace_id, key, headers, body in page:
            _forget_if_secret(bind, workspace_id, key, headers, body)
        if len(page) < 200:
            return
        after = (page[-1][0], page[-1][1])


def _forget_if_secret(bind: sa.engine.Connection, workspace_id: object, key: str, headers: object, body: bytes) -> None:
    try:
        answer = json.loads(bytes(body))
    except ValueError:
        return
    collection = _secret_collection(answer) if isinstance(answer, dict) else None
    if collection is None:
        return
    if isinstance(headers, str):
        headers = json.loads(headers)
    location = (headers or {}).get("location") or f"/v1/{collection}/{answer.get('id')}"  # type: ignore[attr-defined]
    bind.execute(
        sa.text(
            "UPDATE idempotency_keys SET body = NULL, headers = NULL, secret_resource = :resource "
            "WHERE workspace_id = :workspace_id AND key = :key"
        ),
        {"resource": str(location)[:500], "workspace_id": workspace_id, "key": key},
    )


def _secret_collection(answer: dict[str, object]) -> str | None:
    """Where the answered resource lives, when the answer carries a new secret."""
    for name, prefix, collection in (
        ("key", "sk_", "api-keys"),
        ("key", "pk_", "api-keys"),
        ("secret", "whsec_", "webhook-endpoints"),
    ):
        value = answer.get(name)
        if isinstance(value, str) and value.startswith(prefix):
            return collection
    return None


def downgrade() -> None:
    # The older code knows neither expiry nor endpoint scopes: rather than let a key that was meant
    # to expire live for ever, or an endpoint start receiving what its creator could not read, the
    # keys with an expiry are revoked (at their expiry if it has passed) and the endpoints of
    # narrower keys are disabled. Re-enabling such an endpoint by hand is the operator's choice.
    now = datetime.now(UTC)
    keys = sa.table(
        "api_keys",
        sa.column("expires_at", app.db.types.UtcDateTime(timezone=True)),
        sa.column("revoked_at", app.db.types.UtcDateTime(timezone=True)),
    )
    op.execute(
        keys.update()
        .where(keys.c.expires_at.is_not(None), keys.c.revoked_at.is_(None))
        .values(
            revoked_at=sa.case(
                (keys.c.expires_at < now, keys.c.expires_at), else_=sa.literal(now, keys.c.revoked_at.type)
            )
        )
    )
    bind = op.get_bind()
    endpoints = bind.execute(sa.text("SELECT workspace_id, id, scopes FROM webhook_endpoints WHERE enabled")).all()
    for workspace_id, endpoint_id, scopes in endpoints:
        if (json.loads(scopes) if isinstance(scopes, str) else scopes) != ["admin"]:
            bind.execute(
                sa.text(
                    "UPDATE webhook_endpoints SET enabled = false, disabled_reason = :reason "
                    "WHERE workspace_id = :w AND id = :id"
                ),
                {"reason": "scopes not enforced by this version", "w": workspace_id, "id": endpoint_id},
            )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("secret_resource")
    op.drop_index(
        "ix_jobs_queued_fingerprint",
        table_name="jobs",
        sqlite_where=sa.text("status = 'queued'"),
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.drop_index(op.f("ix_jobs_workspace_id_started_at"), table_name="jobs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("fingerprint")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("scopes")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
