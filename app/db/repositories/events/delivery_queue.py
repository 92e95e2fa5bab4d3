"""The worker's queue of webhook deliveries (cross-workspace): claiming endpoints with due
deliveries in fair turns across workspaces (a lease on the endpoint's queue), the due deliveries of
a claimed endpoint, and recording attempts (one at a time or a batch in one go)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Integer, Select, and_, bindparam, func, or_, select, tuple_, update

from app.db import tables
from app.db.repositories.base import next_version
from app.db.repositories.events.queue import CrossWorkspaceQueue

ev = tables.events
ep = tables.webhook_endpoints
dl = tables.webhook_deliveries
at = tables.webhook_attempts


@cache
def _candidates_statement() -> Select[Any]:
    """The endpoints a claim may lease, in turns (`claim_endpoints`), built once (parameters `_now`,
    `_share`, `_limit`). Built per pass, its subqueries would copy the endpoints' columns into
    reference cycles left to the cyclic garbage collector, every poll of every worker, busy or
    idle, and the processes run that collector rarely (app/__main__.py `_tune_gc`)."""
    now = bindparam("_now", type_=dl.c.next_attempt_at.type)
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
    return (
        select(ranked.c.workspace_id, ranked.c.id)
        .where(ranked.c.turn <= bindparam("_share", type_=Integer()))
        .order_by(ranked.c.turn, ranked.c.served.asc().nulls_first(), ranked.c.due, ranked.c.workspace_id)
        .limit(bindparam("_limit", type_=Integer()))
    )


class DeliveryQueue(CrossWorkspaceQueue):
    # -- claims ------------------------------------------------------------------------------------
    async def claim_endpoints(
        self, now: datetime, lease_until: datetime, limit: int, *, share: int, busy: Mapping[UUID, int]
    ) -> list[dict[str, Any]]:
        """Lease up to `limit` endpoints with due deliveries, in turns across workspaces: one
        endpoint of every workspace (its longest-waiting one: oldest due delivery) before a second
        of any, and within a turn the workspaces served longest ago first (the latest lease of
        their endpoints; never served: first), so a workspace with a large backlog cannot keep
        the worker from one whose webhook just became due. A workspace gets at most `share`
        endpoints at a time, counting the `busy` ones this worker is sending to already."""
        # Busy workspaces' first turns are skipped below: fetch enough to fill `limit` regardless.
        params = {"_now": now, "_share": share, "_limit": limit + sum(busy.values())}
        candidates = (await self.uow.execute(_candidates_statement(), params)).all()
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
        free = or_(ep.c.lease_until.is_(None), ep.c.lease_until < now)
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

    # -- deliveries and attempts -------------------------------------------------------------------
    async def due_deliveries(
        self, workspace_id: UUID, endpoint_id: UUID, now: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Due deliveries of one endpoint in sequence order, with the event they carry."""
        statement = (
            select(
                dl, ev.c.occurred_at, ev.c.api_version, ev.c.actor, ev.c.data, ev.c.previous_attributes, ev.c.request_id
            )
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

    async def record_attempts(self, attempts: list[tuple[dict[str, Any], dict[str, Any], int]]) -> list[bool]:
        """`record_attempt` for a batch, in a few statements whatever its size: (attempt, delivery
        values, `after`) each. Whether each delivery moved, in the batch's order."""
        if not attempts:
            return []
        await self.uow.execute(at.insert(), [attempt for attempt, _, _ in attempts])
        where = (dl.c.workspace_id == bindparam("_ws"), dl.c.id == bindparam("_id"))
        keys = [{"_ws": attempt["workspace_id"], "_id": attempt["delivery_id"]} for attempt, _, _ in attempts]
        await self.uow.execute(update(dl).where(*where).values(attempts=dl.c.attempts + 1), keys)
        columns = list(attempts[0][1])
        moves = {
            "succeeded": dl.c.status != "succeeded",
            "other": and_(dl.c.status == "pending", dl.c.attempts == bindparam("_after") + 1),
        }
        for kind, condition in moves.items():
            rows = [
                {**key, "_after": after, **{f"_v_{column}": values[column] for column in columns}}
                for key, (_, values, after) in zip(keys, attempts, strict=True)
                if (values["status"] == "succeeded") == (kind == "succeeded")
            ]
            if not rows:
                continue
            if kind == "succeeded":
                rows = [{k: v for k, v in row.items() if k != "_after"} for row in rows]
            statement = (
                update(dl)
                .where(*where, condition)
                .values(**{column: bindparam(f"_v_{column}", type_=dl.c[column].type) for column in columns})
            )
            await self.uow.execute(statement, rows)
        # A delivery this batch moved carries its attempt's time (another sender's never does).
        ids = [attempt["delivery_id"] for attempt, _, _ in attempts]
        workspace_id = attempts[0][0]["workspace_id"]
        now = {
            r.id: r.last_attempt_at
            for r in await self.uow.execute(
                select(dl.c.id, dl.c.last_attempt_at).where(dl.c.workspace_id == workspace_id, dl.c.id.in_(ids))
            )
        }
        return [now.get(attempt["delivery_id"]) == values["last_attempt_at"] for attempt, values, _ in attempts]

    async def update_endpoint(
        self, workspace_id: UUID, endpoint_id: UUID, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        statement = (
            update(ep)
            .where(ep.c.workspace_id == workspace_id, ep.c.id == endpoint_id)
            .values(version=next_version(ep), **values)
            .returning(ep)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row else None
