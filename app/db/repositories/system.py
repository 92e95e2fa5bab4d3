"""The few queries that must run across workspaces: creating a tenant, resolving a presented API
key by its digest, and health checks. Nothing else may query without a workspace (but the worker's
named queues: app/db/repositories/events/*_queue.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.exc import DBAPIError

from app.db import tables
from app.db.repositories.base import dialect_insert

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork


class SystemRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def key_by_digest(self, digest: str) -> dict[str, Any] | None:
        """The key with this digest and, for a key bound to a member, whether that member is active
        (`member_active`; null for an unbound key): one round trip for everything a request needs."""
        k, m = tables.api_keys, tables.members
        statement = (
            select(
                k.c.id,
                k.c.workspace_id,
                k.c.kind,
                k.c.scopes,
                k.c.allowed_origins,
                k.c.member_id,
                k.c.revoked_at,
                k.c.expires_at,
                k.c.last_used_at,
                m.c.active.label("member_active"),
            )
            .select_from(k)
            .outerjoin(m, (m.c.workspace_id == k.c.workspace_id) & (m.c.id == k.c.member_id))
            .where(k.c.digest == digest)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def create_workspace(self, values: Mapping[str, Any]) -> dict[str, Any]:
        statement = tables.workspaces.insert().returning(tables.workspaces)
        return dict((await self.uow.execute(statement, dict(values))).mappings().one())

    async def workspace_time_zones(self) -> list[tuple[Any, str]]:
        w = tables.workspaces
        return [(r.id, r.timezone) for r in (await self.uow.execute(select(w.c.id, w.c.timezone))).all()]

    async def ensure_timers(self, rows: list[dict[str, Any]]) -> None:
        """Timers of many workspaces in one statement, each unless its key is scheduled already
        (the recurring tasks' next occurrences)."""
        if rows:
            insert = dialect_insert(self.uow.database.engine.dialect.name)
            await self.uow.execute(insert(tables.timers).on_conflict_do_nothing(), rows)

    async def channel(self, channel_id: Any) -> dict[str, Any] | None:
        """An outreach channel by id alone: a provider's callback URL names nothing else."""
        row = (await self.uow.execute(select(tables.channels).where(tables.channels.c.id == channel_id))).mappings()
        found = row.first()
        return dict(found) if found is not None else None

    async def form_origins(self, form_id: Any) -> list[str] | None:
        """A live form's allowed origins, for CORS preflights (they carry no key). None: no such form."""
        f = tables.forms
        statement = select(f.c.allowed_origins).where(f.c.id == form_id, f.c.archived_at.is_(None))
        row = (await self.uow.execute(statement)).first()
        return list(row[0]) if row is not None else None

    async def integration(self, integration_id: Any) -> dict[str, Any] | None:
        """A shop integration by id alone: a platform's webhook URL names nothing else."""
        i = tables.integrations
        statement = select(
            i.c.id, i.c.workspace_id, i.c.platform, i.c.shop_domain, i.c.webhook_secret, i.c.status, i.c.archived_at
        )
        row = (await self.uow.execute(statement.where(i.c.id == integration_id))).mappings().first()
        return dict(row) if row is not None else None

    async def count_workspaces(self) -> int:
        return int((await self.uow.execute(select(func.count()).select_from(tables.workspaces))).scalar_one())

    async def backlog(self) -> tuple[int, datetime | None]:
        """Undelivered work: events not yet dispatched plus deliveries pending for enabled endpoints,
        and the oldest one's time."""
        ev, eq, dl, ep = tables.events, tables.event_queue, tables.webhook_deliveries, tables.webhook_endpoints
        oldest_queued = select(eq.c.workspace_id, eq.c.id).order_by(eq.c.id).limit(1).subquery()
        first = (
            select(ev.c.occurred_at)
            .join(oldest_queued, and_(ev.c.workspace_id == oldest_queued.c.workspace_id, ev.c.id == oldest_queued.c.id))
            .scalar_subquery()
        )
        events = select(func.count(), first).select_from(eq)
        pending = (
            select(func.count(), func.min(dl.c.created_at))
            .join(ep, and_(ep.c.workspace_id == dl.c.workspace_id, ep.c.id == dl.c.endpoint_id))
            .where(dl.c.status == "pending", ep.c.enabled)  # a disabled endpoint's queue waits for a person
        )
        n1, t1 = (await self.uow.execute(events)).one()
        n2, t2 = (await self.uow.execute(pending)).one()
        oldest = min((t for t in (t1, t2) if t is not None), default=None)
        return int(n1) + int(n2), oldest

    async def migration_revision(self) -> str | None:
        try:
            result = await self.uow.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no alembic_version table: never migrated
            return None
        return result.scalar_one_or_none()

    async def stale_tables(self) -> list[str]:
        """PostgreSQL: this schema's tables never analysed (and written to since), or whose live
        rows more than doubled since their last ANALYZE (plus `autovacuum_analyze_threshold`).
        Finer refreshes are autovacuum's (10% by default); this catches a table that grew from
        nothing faster than autovacuum looks, at a handful of ANALYZEs however large it gets
        (applying autovacuum's 10% every few seconds cost an order backfill much of PostgreSQL's
        CPU). Growth, not changes: counting updates too re-analysed contacts over and over as order
        sync rewrote their facts, and events twice as often as they grew (each is written, then
        stamped by dispatch), a visible share of PostgreSQL's time in an order backfill.
        Most changed first; only tables this role owns (another's ANALYZE would be skipped with a
        warning each time). Under a transaction-level advisory lock: with several workers, one
        looks at a time (none: another is at it)."""
        lock = text("SELECT pg_try_advisory_xact_lock(hashtext('crm.analyze'))")
        if not (await self.uow.execute(lock)).scalar_one():
            return []
        statement = text(
            """
SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.schemaname = current_schema() AND pg_has_role(current_user, c.relowner, 'MEMBER')
  AND CASE WHEN c.reltuples < 0  -- never analysed
           THEN s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
           ELSE s.n_live_tup > current_setting('autovacuum_analyze_threshold')::float8 + 2 * c.reltuples END
ORDER BY s.n_mod_since_analyze DESC
"""
        )
        return [row[0] for row in (await self.uow.execute(statement)).all()]

    async def analyze(self, table: str) -> None:
        """ANALYZE one table (a name stale_tables returned: quoted, never interpolated raw)."""
        quote = self.uow.database.engine.dialect.identifier_preparer.quote
        await self.uow.execute(text(f"ANALYZE {quote(table)}"))
