"""Jobs: long work runs in the worker; the API answers 202 with the job to poll."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.errors import NotFound
from app.domain.pagination import Sort
from app.ids import new_id
from app.services.context import Context


async def enqueue(ctx: Context, kind: str, params: dict[str, Any]) -> Row:
    return await ctx.uow.jobs(ctx.workspace_id).create(
        {"id": new_id(), "kind": kind, "status": "queued", "params": params, "attempts": 0, **ctx.audit_new()}
    )


async def get(ctx: Context, job_id: UUID) -> Row:
    row = await ctx.uow.jobs(ctx.workspace_id).get(job_id)
    if row is None:
        raise NotFound("no job with this id")
    return row


async def list_jobs(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, status: str | None, kind: str | None
) -> Page:
    return await ctx.uow.jobs(ctx.workspace_id).list(sort=sort, cursor=cursor, limit=limit, status=status, kind=kind)
