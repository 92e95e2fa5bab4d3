"""The worker's queue of jobs (cross-workspace): claiming queued jobs fairly (the order is
jobs.py's fair_heads), the leases of running ones, and ending the jobs whose worker died."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Integer, Select, and_, bindparam, select, update

from app.db import tables
from app.db.repositories.base import next_version
from app.db.repositories.events.jobs import claimable, fair_heads
from app.db.repositories.events.queue import CrossWorkspaceQueue


@cache
def _claim_statement(postgres: bool) -> Select[Any]:
    """The claim, built once (parameters `_now`, `_per_kind`, `_max_attempts`, `_lost_before`,
    `_limit`). Built per pass, its CTEs and alias would copy the jobs table's columns into
    reference cycles, some 110 KB a pass (every poll of every worker, busy or idle) left to the
    cyclic garbage collector, which the processes run rarely (app/__main__.py `_tune_gc`)."""
    jb = tables.jobs
    now = bindparam("_now", type_=jb.c.lease_until.type)
    max_attempts = bindparam("_max_attempts", type_=jb.c.attempts.type)
    lost_before = bindparam("_lost_before", type_=jb.c.lease_until.type)
    heads = fair_heads(now, bindparam("_per_kind", type_=Integer()), max_attempts, lost_before)
    statement = (
        select(jb)
        .join(heads, and_(heads.c.workspace_id == jb.c.workspace_id, heads.c.id == jb.c.id))
        # Checked again on the locked row: a job another worker claimed since this statement's
        # snapshot is no longer waiting (PostgreSQL re-evaluates this on the row it locks).
        .where(claimable(now, max_attempts))
        .order_by(heads.c.busy, heads.c.turn, jb.c.created_at, jb.c.id)
        .limit(bindparam("_limit", type_=Integer()))
    )
    return statement.with_for_update(of=jb, skip_locked=True) if postgres else statement


class JobQueue(CrossWorkspaceQueue):
    # -- claims ------------------------------------------------------------------------------------
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
        statement = _claim_statement(await self._postgres())
        params = {"_now": now, "_per_kind": per_kind, "_max_attempts": max_attempts, "_lost_before": lost_before,
                  "_limit": limit}  # fmt: skip
        rows = [dict(r) for r in (await self.uow.execute(statement, params)).mappings()]
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
        result = await self.uow.execute(statement.values(version=next_version(jb), **values))
        return bool(result.rowcount)

    # -- lost jobs ---------------------------------------------------------------------------------
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
            .values(version=next_version(jb), **values)
        )
        return bool((await self.uow.execute(statement)).rowcount)
