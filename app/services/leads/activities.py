"""Activities: the calls, emails, messages, meetings and notes logged about a lead. The first
qualifying one (outbound, by a member, not automated) is the lead's first response."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.errors import ErrorList, NotFound
from app.domain.events import events as types
from app.domain.leads import sla as rules
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.leads.routing import ActivityRead
from app.services.context import Context
from app.services.customers import records
from app.services.events import events
from app.services.leads import sla

FUTURE_SLACK = timedelta(minutes=5)


async def create(ctx: Context, values: dict[str, Any]) -> Row:
    errors = ErrorList()
    if values.get("member_id") is None and ctx.actor.type == "member" and ctx.actor.id:
        values["member_id"] = UUID(ctx.actor.id)
    await records.check_links(ctx, values, errors)
    lead = await ctx.leads.get(values["lead_id"]) if values.get("lead_id") else None
    occurred_at = values.get("occurred_at") or ctx.now
    if occurred_at > ctx.now + FUTURE_SLACK:
        errors.add("occurred_at", "is in the future")
    errors.raise_if_any()
    response = rules.is_response(values["type"], values["direction"], values["automated"], values.get("member_id"))
    first = lead is not None and response and lead["first_responded_at"] is None
    if first and lead is not None and await sla.record_response(ctx, lead, occurred_at) is None:
        first = False  # another response was recorded first
    if lead is not None:
        await ctx.leads.touch_activity(lead["id"], occurred_at)
    row = await ctx.activities.create(
        {
            **values,
            "id": new_id(),
            "occurred_at": occurred_at,
            "first_response": first,
            "created_at": ctx.now,
            "created_by": str(ctx.actor),
        }
    )
    await events.record(ctx, types.ACTIVITY_CREATED, ActivityRead.model_validate(row))
    return row


async def get(ctx: Context, activity_id: UUID) -> Row:
    row = await ctx.activities.get(activity_id)
    if row is None:
        raise NotFound("no activity with this id")
    return row


async def list_activities(ctx: Context, *, sort: Sort, cursor: str | None, limit: int, **filters: Any) -> Page:
    return await ctx.activities.list(sort=sort, cursor=cursor, limit=limit, **filters)
