"""The worker's queue of new events (cross-workspace): the dispatcher takes them off it in id order,
stamps each with its workspace's next sequence number and fans it out, into one webhook delivery
per subscribed endpoint and, for a new lead, into the duplicate search's queue (taken by
app/services/leads/duplicates.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, String, Uuid, bindparam, delete, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from app.db import tables
from app.db.repositories.events.queue import CrossWorkspaceQueue

ep = tables.webhook_endpoints
dl = tables.webhook_deliveries
eq = tables.event_queue
es = tables.event_stamps
DISPATCH_LOCK_ID = 0x43524D01

# PostgreSQL: a whole dispatch pass in one statement. Under the dispatch lock, take up to :limit
# queued events in id order off the queue, reserve each workspace's next sequence numbers, record
# the stamps, and return how many it stamped plus the stamped events of workspaces that have
# webhook endpoints (the only ones that need fan-out in Python). The events themselves are not
# touched. A pass with no subscribers moves no rows to Python.
_DISPATCH_PASS = text(
    """
WITH locked AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(:lock_id) AS ok),
pending AS MATERIALIZED (
    SELECT ctid FROM event_queue
    WHERE (SELECT ok FROM locked)
    ORDER BY id LIMIT :limit
),
taken AS MATERIALIZED (  -- only what this pass removed: a pass whose snapshot predates the
    -- previous pass's commit (it got the lock just after) sees those rows, but cannot delete them.
    -- By their row addresses (a TID scan): joined on the key, the planner hashed the whole queue,
    -- dead rows included, on every pass once its statistics had fallen behind the churn.
    DELETE FROM event_queue AS q
    WHERE q.ctid = ANY (ARRAY(SELECT ctid FROM pending))
    RETURNING q.workspace_id, q.id, q.type, q.resource_id
),
numbered AS (
    SELECT workspace_id, id, type, resource_id,
           row_number() OVER (PARTITION BY workspace_id ORDER BY id) AS n,
           count(*) OVER (PARTITION BY workspace_id) AS c
    FROM taken
),
reserved AS (
    INSERT INTO event_sequences AS s (workspace_id, last_sequence)
    SELECT workspace_id, count(*) FROM taken GROUP BY workspace_id
    ON CONFLICT (workspace_id) DO UPDATE SET last_sequence = s.last_sequence + excluded.last_sequence
    RETURNING s.workspace_id, s.last_sequence
),
stamped AS MATERIALIZED (
    SELECT nb.workspace_id, nb.id, nb.type, nb.resource_id, r.last_sequence - nb.c + nb.n AS sequence
    FROM numbered AS nb JOIN reserved AS r ON r.workspace_id = nb.workspace_id
),
recorded AS (
    INSERT INTO event_stamps (workspace_id, event_id, sequence, dispatched_at)
    SELECT workspace_id, id, sequence, :now FROM stamped
),
queued AS (  -- new leads, for the worker's duplicate search (app/services/leads/duplicates.py)
    INSERT INTO dedupe_queue (workspace_id, lead_id, queued_at)
    SELECT workspace_id, CAST(resource_id AS uuid), :now FROM stamped WHERE type = 'lead.created'
    ON CONFLICT DO NOTHING
)
SELECT t.total, s.workspace_id, s.id, s.type, s.resource_id, s.sequence
FROM (SELECT count(*) AS total FROM stamped) AS t
LEFT JOIN stamped AS s
    ON s.workspace_id IN (SELECT workspace_id FROM webhook_endpoints WHERE deleted_at IS NULL)
ORDER BY s.sequence
"""
).columns(total=BigInteger, workspace_id=Uuid, id=Uuid, type=String, resource_id=String, sequence=BigInteger)


class EventQueue(CrossWorkspaceQueue):
    # -- stamping ----------------------------------------------------------------------------------
    async def dispatch_pass(self, limit: int, now: datetime) -> tuple[int, list[dict[str, Any]]]:
        """PostgreSQL: stamp up to `limit` new events in one statement (see _DISPATCH_PASS); how many
        it stamped (0 when another worker holds the dispatch lock) and the stamped events of
        workspaces with webhook endpoints."""
        result = await self.uow.execute(_DISPATCH_PASS, {"lock_id": DISPATCH_LOCK_ID, "limit": limit, "now": now})
        rows = result.all()
        total = int(rows[0].total) if rows else 0
        events = [
            {
                "workspace_id": r.workspace_id,
                "id": r.id,
                "type": r.type,
                "resource_id": r.resource_id,
                "sequence": r.sequence,
            }
            for r in rows
            if r.id is not None
        ]
        return total, events

    async def undispatched(self, limit: int) -> list[dict[str, Any]]:
        """SQLite's dispatch pass: the oldest `limit` queued events, taken off the queue."""
        statement = select(eq.c.workspace_id, eq.c.id, eq.c.type, eq.c.resource_id).order_by(eq.c.id).limit(limit)
        rows = [dict(r) for r in (await self.uow.execute(statement)).mappings()]
        if rows:
            await self.uow.execute(
                delete(eq).where(eq.c.workspace_id == bindparam("_ws"), eq.c.id == bindparam("_id")),
                [{"_ws": r["workspace_id"], "_id": r["id"]} for r in rows],
            )
        return rows

    async def reserve_sequences(self, workspace_id: UUID, count: int) -> int:
        """The first of `count` new sequence numbers for the workspace."""
        insert = postgresql.insert if await self._postgres() else sqlite.insert
        s = tables.event_sequences
        statement = (
            insert(s)
            .values(workspace_id=workspace_id, last_sequence=count)
            .on_conflict_do_update(index_elements=[s.c.workspace_id], set_={"last_sequence": s.c.last_sequence + count})
            .returning(s.c.last_sequence)
        )
        last = int((await self.uow.execute(statement)).scalar_one())
        return last - count + 1

    async def stamp(self, stamps: Sequence[dict[str, Any]], now: datetime) -> None:
        """SQLite's dispatch pass: record each event's ({"workspace_id", "event_id", "sequence"}) number."""
        if stamps:
            await self.uow.execute(es.insert(), [{**s, "dispatched_at": now} for s in stamps])

    # -- fan-out -----------------------------------------------------------------------------------
    async def subscribed_endpoints(self, workspace_ids: Sequence[UUID]) -> list[dict[str, Any]]:
        statement = select(ep.c.workspace_id, ep.c.id, ep.c.event_types, ep.c.scopes).where(
            ep.c.workspace_id.in_(workspace_ids), ep.c.deleted_at.is_(None)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.uow.execute(dl.insert(), list(rows))

    # -- the duplicate search's queue of new leads -------------------------------------------------
    async def queue_dedupe(self, leads: Sequence[tuple[UUID, UUID]], now: datetime) -> None:
        """SQLite's dispatch pass: queue new leads (workspace, lead) for the duplicate search."""
        if leads:
            q = tables.dedupe_queue
            statement = sqlite.insert(q).on_conflict_do_nothing()
            await self.uow.execute(
                statement, [{"workspace_id": w, "lead_id": lead, "queued_at": now} for w, lead in leads]
            )

    async def dedupe_pending(self) -> bool:
        q = tables.dedupe_queue
        return (await self.uow.execute(select(q.c.lead_id).limit(1))).first() is not None

    async def claim_dedupe(self, limit: int) -> list[tuple[UUID, UUID]]:
        """Up to `limit` queued leads, oldest first; removed from the queue in this transaction."""
        q = tables.dedupe_queue
        oldest = await self._lock_rows(select(q.c.workspace_id, q.c.lead_id).order_by(q.c.queued_at).limit(limit))
        statement = (
            delete(q)
            .where(tuple_(q.c.workspace_id, q.c.lead_id).in_(oldest))
            .returning(q.c.workspace_id, q.c.lead_id, q.c.queued_at)
        )  # one statement for the batch (it was a DELETE per lead)
        rows = sorted((await self.uow.execute(statement)).all(), key=lambda r: r.queued_at)
        return [(r.workspace_id, r.lead_id) for r in rows]
