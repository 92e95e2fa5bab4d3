"""The worker's cross-workspace queries: stamping and fanning out new events, claiming endpoints
with due deliveries, recording attempts, claiming due timers. On PostgreSQL claims use
`FOR UPDATE SKIP LOCKED` and leases, so any number of workers share the work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    String,
    Uuid,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.db import tables
from app.db.repositories.events.jobs import claimable, fair_heads

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork

ev = tables.events
ep = tables.webhook_endpoints
dl = tables.webhook_deliveries
at = tables.webhook_attempts
tm = tables.timers
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


class OutboxRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def _postgres(self) -> bool:
        return (await self.uow.connection()).dialect.name == "postgresql"

    async def _lock_rows(self, statement: Any) -> Any:
        if await self._postgres():
            return statement.with_for_update(skip_locked=True)
        return statement  # SQLite: a single process, whose writers are serialised by BEGIN IMMEDIATE

    # -- dispatcher ------------------------------------------------------------------------------
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

    async def subscribed_endpoints(self, workspace_ids: Sequence[UUID]) -> list[dict[str, Any]]:
        statement = select(ep.c.workspace_id, ep.c.id, ep.c.event_types, ep.c.scopes).where(
            ep.c.workspace_id.in_(workspace_ids), ep.c.deleted_at.is_(None)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.uow.execute(dl.insert(), list(rows))

    # -- deliveries ------------------------------------------------------------------------------
    async def claim_endpoints(
        self, now: datetime, lease_until: datetime, limit: int, *, share: int, busy: Mapping[UUID, int]
    ) -> list[dict[str, Any]]:
        """Lease up to `limit` endpoints with due deliveries, in turns across workspaces: one
        endpoint of every workspace (its longest-waiting one: oldest due delivery) before a second
        of any, and within a turn the workspaces served longest ago first (the latest lease of
        their endpoints; never served: first), so a workspace with a large backlog cannot keep
        the worker from one whose webhook just became due. A workspace gets at most `share`
        endpoints at a time, counting the `busy` ones this worker is sending to already."""
        oldest_due = (
            select(func.min(dl.c.next_attempt_at))
            .where(
                dl.c.workspace_id == ep.c.workspace_id,
                dl.c.endpoint_id == ep.c.id,
                dl.c.status == "pending",
                dl.c.next_attempt_at <= now,
            )
            .scalar_subquery()
        )
        free = or_(ep.c.lease_until.is_(None), ep.c.lease_until < now)
        live = (
            select(
                ep.c.workspace_id,
                ep.c.id,
                ep.c.lease_until,
                oldest_due.label("due"),
                func.max(ep.c.lease_until).over(partition_by=ep.c.workspace_id).label("served"),
            )
            .where(ep.c.enabled, ep.c.deleted_at.is_(None))
            .subquery()
        )
        waiting = (
            select(live)
            .where(live.c.due.is_not(None), or_(live.c.lease_until.is_(None), live.c.lease_until < now))
            .subquery()
        )
        turn = func.row_number().over(partition_by=waiting.c.workspace_id, order_by=(waiting.c.due, waiting.c.id))
        ranked = select(
            waiting.c.workspace_id, waiting.c.id, waiting.c.due, waiting.c.served, turn.label("turn")
        ).subquery()
        # Busy workspaces' first turns are skipped below: fetch enough to fill `limit` regardless.
        candidates = (
            await self.uow.execute(
                select(ranked.c.workspace_id, ranked.c.id)
                .where(ranked.c.turn <= share)
                .order_by(ranked.c.turn, ranked.c.served.asc().nulls_first(), ranked.c.due, ranked.c.workspace_id)
                .limit(limit + sum(busy.values()))
            )
        ).all()
        held = Counter(busy)
        chosen: list[tuple[UUID, UUID]] = []
        for candidate in candidates:
            if len(chosen) == limit:
                break
            if held[candidate.workspace_id] < share:
                held[candidate.workspace_id] += 1
                chosen.append((candidate.workspace_id, candidate.id))
        if not chosen:
            return []
        # Another worker may have leased some since: lock what is still free (PostgreSQL skips
        # rows another claim holds, and re-checks the lease of rows changed meanwhile).
        statement = await self._lock_rows(
            select(ep).where(
                tuple_(ep.c.workspace_id, ep.c.id).in_(chosen), ep.c.enabled, ep.c.deleted_at.is_(None), free
            )
        )
        rows = {(r["workspace_id"], r["id"]): dict(r) for r in (await self.uow.execute(statement)).mappings()}
        if rows:
            await self.uow.execute(
                update(ep)
                .where(ep.c.workspace_id == bindparam("_ws"), ep.c.id == bindparam("_id"))
                .values(lease_until=lease_until),
                [{"_ws": ws, "_id": id_} for ws, id_ in rows],
            )
        return [{**rows[key], "lease_until": lease_until} for key in chosen if key in rows]

    async def due_deliveries(
        self, workspace_id: UUID, endpoint_id: UUID, now: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Due deliveries of one endpoint in sequence order, with the event they carry."""
        statement = (
            select(dl, ev.c.occurred_at, ev.c.api_version, ev.c.actor, ev.c.data, ev.c.previous_attributes)
            .join(ev, and_(ev.c.workspace_id == dl.c.workspace_id, ev.c.id == dl.c.event_id))
            .where(
                dl.c.workspace_id == workspace_id,
                dl.c.endpoint_id == endpoint_id,
                dl.c.status == "pending",
                dl.c.next_attempt_at <= now,
            )
            .order_by(dl.c.sequence)
            .limit(limit)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def endpoint(self, workspace_id: UUID, endpoint_id: UUID) -> dict[str, Any] | None:
        statement = select(ep).where(ep.c.workspace_id == workspace_id, ep.c.id == endpoint_id)
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row else None

    async def record_attempt(self, attempt: dict[str, Any], delivery: dict[str, Any], *, after: int) -> bool:
        """Log the attempt and count it; move the delivery on only if no other attempt was counted
        since it was sent (`after` attempts before it). A sender stalled past its lease can overlap
        the next one: its late outcome is logged and counted but never sets a delivery back (e.g.
        a timeout recorded after another attempt succeeded). A success is the exception: the
        receiver has the webhook, so it marks the delivery succeeded whenever it comes (else a
        failure recorded first would have it sent again, or `failed`). Whether the delivery moved."""
        where = (dl.c.workspace_id == attempt["workspace_id"], dl.c.id == attempt["delivery_id"])
        await self.uow.execute(at.insert(), attempt)
        await self.uow.execute(update(dl).where(*where).values(attempts=dl.c.attempts + 1))
        if delivery["status"] == "succeeded":
            moves = dl.c.status != "succeeded"
        else:
            moves = and_(dl.c.status == "pending", dl.c.attempts == after + 1)
        result = await self.uow.execute(update(dl).where(*where, moves).values(**delivery))
        return bool(result.rowcount)

    async def update_endpoint(
        self, workspace_id: UUID, endpoint_id: UUID, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        statement = (
            update(ep)
            .where(ep.c.workspace_id == workspace_id, ep.c.id == endpoint_id)
            .values(version=ep.c.version + 1, **values)
            .returning(ep)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row else None

    async def renew_lease(self, workspace_id: UUID, endpoint_id: UUID, held: datetime, until: datetime) -> bool:
        """Extend the lease this sender holds (`held`); False when it has lapsed and another
        worker has the endpoint's queue now."""
        statement = (
            update(ep)
            .where(ep.c.workspace_id == workspace_id, ep.c.id == endpoint_id, ep.c.lease_until == held)
            .values(lease_until=until)
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def release_endpoint(
        self, workspace_id: UUID, endpoint_id: UUID, now: datetime, held: datetime | None = None
    ) -> None:
        """Give the endpoint's queue back: its lease ends `now` (kept: when a workspace was last
        served orders the claims); with `held`, only if that lease is still the one in place (a
        sender whose lease lapsed must not free the queue another worker took over)."""
        where = [ep.c.workspace_id == workspace_id, ep.c.id == endpoint_id]
        if held is not None:
            where.append(ep.c.lease_until == held)
        await self.uow.execute(update(ep).where(*where).values(lease_until=now))

    # -- timers ----------------------------------------------------------------------------------
    async def claim_timers(self, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
        statement = await self._lock_rows(
            select(tm)
            .where(
                tm.c.status == "pending", tm.c.run_at <= now, or_(tm.c.lease_until.is_(None), tm.c.lease_until < now)
            )
            .order_by(tm.c.run_at)
            .limit(limit)
        )
        rows = [dict(r) for r in (await self.uow.execute(statement)).mappings()]
        if rows:
            await self.uow.execute(
                update(tm)
                .where(tm.c.workspace_id == bindparam("_ws"), tm.c.id == bindparam("_id"))
                .values(lease_until=lease_until),
                [{"_ws": r["workspace_id"], "_id": r["id"]} for r in rows],
            )
        return rows

    async def next_timer_due(self) -> datetime | None:
        """When the earliest pending timer is due (the partial index ix_timers_due answers it)."""
        statement = select(tm.c.run_at).where(tm.c.status == "pending").order_by(tm.c.run_at).limit(1)
        return (await self.uow.execute(statement)).scalar()

    # -- first-response SLA --------------------------------------------------------------------
    async def next_sla_due(self) -> datetime | None:
        """The earliest pending first-response deadline of a live lead (not archived, not merged), any
        workspace (index ix_leads_sla_pending)."""
        ld = tables.leads
        statement = (
            select(ld.c.first_response_due_at)
            .where(ld.c.sla_status == "pending", ld.c.archived_at.is_(None), ld.c.merged_into_id.is_(None))
            .order_by(ld.c.first_response_due_at)
            .limit(1)
        )
        return (await self.uow.execute(statement)).scalar()

    async def breach_due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Mark up to `limit` pending live leads (not archived, not merged) whose deadline has passed as
        breached; the changed leads.
        Rows another worker is breaching are skipped (SKIP LOCKED), so each breach happens once."""
        ld = tables.leads
        due = await self._lock_rows(
            select(ld.c.workspace_id, ld.c.id)
            .where(
                ld.c.sla_status == "pending",
                ld.c.first_response_due_at <= now,
                ld.c.archived_at.is_(None),  # nobody acts on an archived or merged lead
                ld.c.merged_into_id.is_(None),
            )
            .order_by(ld.c.first_response_due_at)
            .limit(limit)
        )
        rows = (await self.uow.execute(due)).all()
        if not rows:
            return []
        changed = []
        by_workspace: dict[UUID, list[UUID]] = {}
        for workspace_id, lead_id in rows:
            by_workspace.setdefault(workspace_id, []).append(lead_id)
        for workspace_id, ids in by_workspace.items():
            statement = (
                update(ld)
                .where(ld.c.workspace_id == workspace_id, ld.c.id.in_(ids), ld.c.sla_status == "pending")
                .values(sla_status="breached", version=ld.c.version + 1)
                .returning(ld)
            )
            changed.extend(dict(r) for r in (await self.uow.execute(statement)).mappings())
        return changed

    async def finish_timer(self, workspace_id: UUID, timer_id: UUID, values: dict[str, Any]) -> None:
        await self.uow.execute(
            update(tm).where(tm.c.workspace_id == workspace_id, tm.c.id == timer_id).values(**values)
        )

    # -- jobs ------------------------------------------------------------------------------------
    async def lost_jobs(self, before: datetime, max_attempts: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` running jobs whose lease expired before `before` (a lease before now: a
        live worker whose renewals failed for a while, the database away, is not mistaken for a
        dead one) on their last attempt (`max_attempts` claims used): their worker died running
        them (out of memory, a native crash), and a claim must not start them again. Not locked:
        each is failed in a transaction of its own, only if still lost then (`end_lost_job`)."""
        jb = tables.jobs
        statement = (
            select(jb)
            .where(jb.c.status == "running", jb.c.lease_until < before, jb.c.attempts >= max_attempts)
            .order_by(jb.c.lease_until)
            .limit(limit)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def end_lost_job(
        self, workspace_id: UUID, job_id: UUID, attempt: int, before: datetime, values: dict[str, Any]
    ) -> bool:
        """End a lost job (`lost_jobs`) only while it still is: the same claim, its lease still
        expired before `before` (not renewed since by a worker that was alive after all), not
        ended by another claim meanwhile (PostgreSQL re-checks this on the row it waits for);
        whether it was."""
        jb = tables.jobs
        statement = (
            update(jb)
            .where(jb.c.workspace_id == workspace_id, jb.c.id == job_id, jb.c.status == "running")
            .where(jb.c.attempts == attempt, jb.c.lease_until < before)
            .values(version=jb.c.version + 1, **values)
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def claim_jobs(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        per_kind: int,
        max_attempts: int,
        lost_before: datetime,
    ) -> list[dict[str, Any]]:
        """Claim up to `limit` jobs, at most one per workspace, fairly (in the order of jobs.py: fair_heads): queued
        jobs and running ones whose worker's lease expired (it died) with attempts left (fewer than
        `max_attempts` claims). A job on its last attempt whose lease expired after `lost_before`
        (`lost_jobs`) is not claimed, and still counts as running."""
        jb = tables.jobs
        heads = fair_heads(now, per_kind, max_attempts, lost_before)
        statement = (
            select(jb)
            .join(heads, and_(heads.c.workspace_id == jb.c.workspace_id, heads.c.id == jb.c.id))
            # Checked again on the locked row: a job another worker claimed since this statement's
            # snapshot is no longer waiting (PostgreSQL re-evaluates this on the row it locks).
            .where(claimable(now, max_attempts))
            .order_by(heads.c.busy, heads.c.turn, jb.c.created_at, jb.c.id)
            .limit(limit)
        )
        if await self._postgres():
            statement = statement.with_for_update(of=jb, skip_locked=True)
        rows = [dict(r) for r in (await self.uow.execute(statement)).mappings()]
        for row in rows:
            await self.update_job(
                row["workspace_id"],
                row["id"],
                {
                    "status": "running",
                    "lease_until": lease_until,
                    "started_at": row["started_at"] or now,
                    "attempts": row["attempts"] + 1,
                },
            )
        return rows

    async def renew_job_lease(self, workspace_id: UUID, job_id: UUID, attempt: int, lease_until: datetime) -> bool:
        """Extend a running job's lease while its claim is still the latest (no new version: the
        lease is the worker's bookkeeping, not a change a client sees); whether it is still ours."""
        jb = tables.jobs
        statement = (
            update(jb)
            .where(jb.c.workspace_id == workspace_id, jb.c.id == job_id, jb.c.status == "running")
            .where(jb.c.attempts == attempt)
            .values(lease_until=lease_until)
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def release_job(self, workspace_id: UUID, job_id: UUID, attempt: int, now: datetime) -> bool:
        """A stopping worker hands its job back: the lease ends now, and the claim it ran under is
        taken back (`attempts` one lower), so the next claim resumes the job without using up one
        of its attempts. Only while that claim is still the latest; whether it was."""
        jb = tables.jobs
        statement = (
            update(jb)
            .where(jb.c.workspace_id == workspace_id, jb.c.id == job_id, jb.c.status == "running")
            .where(jb.c.attempts == attempt)
            .values(lease_until=now, attempts=attempt - 1)
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def update_job(
        self, workspace_id: UUID, job_id: UUID, values: dict[str, Any], *, attempt: int | None = None
    ) -> bool:
        """With `attempt`: only while the job is still that claim's (a worker stalled past its lease
        whose job another worker took over must not move it back or end it); whether it moved."""
        jb = tables.jobs
        statement = update(jb).where(jb.c.workspace_id == workspace_id, jb.c.id == job_id)
        if attempt is not None:
            statement = statement.where(jb.c.status == "running", jb.c.attempts == attempt)
        result = await self.uow.execute(statement.values(version=jb.c.version + 1, **values))
        return bool(result.rowcount)

    # -- health ----------------------------------------------------------------------------------
    async def backlog(self) -> tuple[int, datetime | None]:
        """Undelivered work: events not yet dispatched plus deliveries pending for enabled endpoints,
        and the oldest one's time."""
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
