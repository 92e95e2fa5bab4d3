"""Jobs: long work runs in the worker; the API answers 202 with the job to poll."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.errors import NotFound
from app.domain.events.jobs import fingerprint
from app.domain.pagination import Sort
from app.ids import new_id
from app.services.context import Context

# A queued twin can start (leave `queued`) between our insert's conflict and our read of it: then
# the insert is tried again, and wins.
ENQUEUE_ATTEMPTS = 3


async def enqueue(ctx: Context, kind: str, params: dict[str, Any]) -> Row:
    """Queue a job, or answer the identical one (same kind and parameters) still queued: a second
    request for the same work while the first has not started adds nothing. Race-safe: the unique
    partial index `ix_jobs_queued_fingerprint` lets one of two concurrent inserts in."""
    repo = ctx.jobs
    digest = fingerprint(kind, params)
    for _ in range(ENQUEUE_ATTEMPTS):
        values = {"id": new_id(), "kind": kind, "status": "queued", "params": params, "fingerprint": digest,
                  "attempts": 0, **ctx.audit_new()}  # fmt: skip
        created = await repo.create_unless_queued(values)
        if created is not None:
            return created
        queued = await repo.queued_with(digest)
        if queued is not None:
            return queued
    raise RuntimeError("an identical job kept being queued and started while this one was enqueued")


async def get(ctx: Context, job_id: UUID) -> Row:
    row = await ctx.jobs.get(job_id)
    if row is None:
        raise NotFound("no job with this id")
    return row


async def list_jobs(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, status: str | None, kind: str | None
) -> Page:
    return await ctx.jobs.list(sort=sort, cursor=cursor, limit=limit, status=status, kind=kind)
