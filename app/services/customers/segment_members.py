"""Who is in each saved segment (run by the worker every SEGMENT_REFRESH_SECONDS): a segment's
filters are evaluated against the contacts as they are now, its stored members updated, and each
contact that entered or left emits `contact.segment_entered` / `contact.segment_exited` (a journey
with a segment trigger enrols on the first). A segment's first evaluation records its members
without events: who was in it before it was watched did not enter it then."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.events import events as types
from app.schemas.customers.segments import SegmentMembership
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.customers import relationships
from app.services.customers.segments import query_of
from app.services.events import events


async def evaluate_all(database: Database, now: datetime) -> int:
    """Every live segment of every workspace, a transaction per workspace; how many segments."""
    async with UnitOfWork(database, write=False) as uow:
        workspaces = await uow.segment_queue().workspaces()
    evaluated = 0
    for workspace_id in workspaces:
        async with UnitOfWork(database) as uow:
            if not await uow.segment_queue().claim(workspace_id):
                continue  # another worker evaluates it now
            ctx = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
            for segment in await ctx.segments.live():
                await evaluate(ctx, segment)
                evaluated += 1
            await uow.commit()
    return evaluated


async def evaluate(ctx: Context, segment: Mapping[str, Any]) -> tuple[int, int]:
    """(entered, left) at this evaluation of one segment."""
    query = query_of(dict(segment))
    query.pop("archived", None)
    filters, equal = await relationships.contact_filters(ctx, query)
    now_in = await ctx.contacts.matching_ids(now=ctx.now, segment=filters, **equal)
    first = await ctx.segments.evaluated_at(segment["id"]) is None
    before = await ctx.segments.members(segment["id"])
    entered, left = now_in - before, before - now_in
    await ctx.segments.enter(segment["id"], sorted(entered, key=lambda i: i.int), ctx.now)
    await ctx.segments.leave(segment["id"], sorted(left, key=lambda i: i.int))
    await ctx.segments.evaluated(segment["id"], ctx.now, len(now_in))
    if not first:
        for contact_id, event in [(c, types.CONTACT_SEGMENT_ENTERED) for c in entered] + [
            (c, types.CONTACT_SEGMENT_EXITED) for c in left
        ]:
            membership = SegmentMembership(segment_id=segment["id"], contact_id=contact_id, at=ctx.now)
            await events.record(ctx, event, membership, resource_id=contact_id)
    return len(entered), len(left)
