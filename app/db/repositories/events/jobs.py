"""Jobs of one workspace, and the fair order in which workers take queued jobs (the claim
itself, across workspaces, is in job_queue.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, func, or_, select

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key, where_equal
from app.db.wakeups import JOBS

t = tables.jobs
SORTABLE = {"created_at": datetime_key(t.c.created_at)}


class JobRepository(TenantRepository):
    table = t

    async def get(self, job_id: UUID) -> Row | None:
        return await self._get_by_id(job_id)

    async def create(self, values: Mapping[str, Any]) -> Row:
        self.uow.wake(JOBS)
        return await self._insert(values)

    async def create_unless_queued(self, values: Mapping[str, Any]) -> Row | None:
        """Insert the job unless one with its fingerprint is queued (the unique partial index
        ix_jobs_queued_fingerprint): None then. On PostgreSQL a concurrent insert of the same
        fingerprint makes this one wait for its commit, then do nothing."""
        row = await self._insert_unless_exists(values)
        if row is not None:
            self.uow.wake(JOBS)
        return row

    async def queued_with(self, fingerprint: str) -> Row | None:
        statement = select(t).where(self.scope, t.c.fingerprint == fingerprint, t.c.status == "queued")
        return await self._one(statement)

    async def last_result(self, kind: str, *, among: int) -> dict[str, Any] | None:
        """The result of the latest succeeded job of this kind among the workspace's `among` latest
        jobs (a bounded read along (workspace_id, created_at, id)); None when there is none."""
        latest = select(t.c.kind, t.c.status, t.c.result, t.c.created_at, t.c.id).where(self.scope)
        latest = latest.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(among).subquery()
        statement = (
            select(latest.c.result)
            .where(latest.c.kind == kind, latest.c.status == "succeeded")
            .order_by(latest.c.created_at.desc(), latest.c.id.desc())
            .limit(1)
        )
        result = (await self.uow.execute(statement)).scalar()
        return dict(result) if isinstance(result, dict) else None

    async def list(
        self, *, sort: Any, cursor: str | None, limit: int, status: str | None = None, kind: str | None = None
    ) -> Page:
        statement = where_equal(select(t).where(self.scope), {t.c.status: status, t.c.kind: kind})
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)


def claimable(now: Any, max_attempts: Any) -> Any:
    """A job a claim may take: queued, or running with its lease expired (its worker died or
    stalled) and attempts left. `now` and `max_attempts`: values or bind parameters."""
    return or_(
        t.c.status == "queued",
        and_(t.c.status == "running", t.c.lease_until < now, t.c.attempts < max_attempts),
    )


def fair_heads(now: Any, per_kind: Any, max_attempts: Any, lost_before: Any) -> Any:
    """The job each waiting workspace would run next, with what orders the claim: `busy` (the
    workspace's running jobs), then `turn`.

    A job may start only while its workspace runs fewer than `per_kind` jobs of its kind (counting
    the same kind's older waiting jobs, so two concurrent claims cannot both pass the limit: a row
    locked by one claim is still ranked by the other). A workspace's head is its oldest job that may
    start. Workspaces take turns by how long they have waited: since their head was queued, or since
    their last job started, whichever is later. A workspace served just now goes behind every
    workspace already waiting, so a job waits for at most one start per other waiting workspace
    before its own workspace's turn, however many jobs the others queued (round robin). Before the
    turns come the running counts: a workspace with nothing running goes before one that already
    holds slots (its other kinds), so a freed slot goes to a workspace that has none. A running job
    whose lease expired is waiting again only while it has attempts left (`max_attempts`): one that
    used them all (its process died on the last one) is neither waiting nor running, so it holds
    up nothing queued behind it (the claim fails it: job_queue.py `lost_jobs`) once its lease expired
    before `lost_before` (one more lease); until then its worker may still be alive and running it
    (its renewals failing for a while), so it still counts as running. Plain SQL (CTEs, window
    functions): the same on SQLite and PostgreSQL. The arguments: values or bind parameters (the
    claim's statement is built once: job_queue.py)."""
    jb = t
    live = (
        select(jb.c.workspace_id, jb.c.kind, func.count().label("running"))
        .where(
            jb.c.status == "running",
            or_(jb.c.lease_until >= now, and_(jb.c.attempts >= max_attempts, jb.c.lease_until >= lost_before)),
        )
        .group_by(jb.c.workspace_id, jb.c.kind)
        .cte("live")
    )
    waiting = (
        select(
            jb.c.workspace_id,
            jb.c.id,
            jb.c.kind,
            jb.c.created_at,
            func.row_number()
            .over(partition_by=(jb.c.workspace_id, jb.c.kind), order_by=(jb.c.created_at, jb.c.id))
            .label("place"),
        )
        .where(claimable(now, max_attempts))
        .cte("waiting")
    )
    startable = (
        select(
            waiting.c.workspace_id,
            waiting.c.id,
            waiting.c.created_at,
            func.row_number()
            .over(partition_by=waiting.c.workspace_id, order_by=(waiting.c.created_at, waiting.c.id))
            .label("head"),
        )
        .select_from(
            waiting.outerjoin(live, and_(live.c.workspace_id == waiting.c.workspace_id, live.c.kind == waiting.c.kind))
        )
        .where(waiting.c.place + func.coalesce(live.c.running, 0) <= per_kind)
        .cte("startable")
    )
    busy = (
        select(live.c.workspace_id, func.sum(live.c.running).label("running")).group_by(live.c.workspace_id).cte("busy")
    )
    served = jb.alias("served")
    last_start = (
        select(func.max(served.c.started_at)).where(served.c.workspace_id == startable.c.workspace_id).scalar_subquery()
    )
    turn = case((last_start > startable.c.created_at, last_start), else_=startable.c.created_at)
    return (
        select(
            startable.c.workspace_id,
            startable.c.id,
            func.coalesce(busy.c.running, 0).label("busy"),
            turn.label("turn"),
        )
        .select_from(startable.outerjoin(busy, busy.c.workspace_id == startable.c.workspace_id))
        .where(startable.c.head == 1)
        .subquery("heads")
    )
