"""A lead's or contact's timeline: engagements, activities, tasks, temperature/stage and owner
changes and status actions, merged in time order, keyset-paginated; only the kinds of entry the
caller's scopes may read (`app/domain/leads/timeline.py: KIND_SCOPES`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from app.db.repositories.leads.timeline import kinds_of
from app.domain.errors import NotFound
from app.domain.leads.timeline import Entry, merge, readable_kinds
from app.domain.pagination import Sort, encode_cursor
from app.schemas.customers.relationships import TaskRead
from app.schemas.events.events import EventRead
from app.schemas.journeys.journeys import JourneyStepRead
from app.schemas.leads.engagements import EngagementRead, StateChangeRead
from app.schemas.leads.routing import ActivityRead, AssignmentRead
from app.services.context import Context
from app.services.leads import sensitive

READ: dict[str, type[BaseModel]] = {
    "engagement": EngagementRead,
    "activity": ActivityRead,
    "task": TaskRead,
    "state_change": StateChangeRead,
    "assignment": AssignmentRead,
    "status": EventRead,
    "journey_step": JourneyStepRead,
}


async def page(
    ctx: Context, subject: str, subject_id: UUID, *, sort: Sort, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    repo = ctx.timeline
    if not await repo.subject_exists(subject, subject_id):
        raise NotFound(f"no {subject} with this id")
    kinds = readable_kinds(ctx.scopes, kinds_of(subject))
    found = await repo.page(subject, subject_id, sort, cursor, limit, kinds=kinds)
    entries, last = merge([Entry(k, t, r["id"], r) for k, t, r in found], limit, sort.descending)
    data = [
        {
            "kind": e.kind,
            "id": e.id,
            "occurred_at": e.occurred_at,
            "data": READ[e.kind].model_validate(e.row).model_dump(mode="json"),
        }
        for e in entries
    ]
    next_cursor = encode_cursor(sort, last.occurred_at.isoformat(), str(last.id)) if last is not None else None
    # A list: no sensitive value (an engagement's filled fields, a step that set one).
    return await sensitive.scrubbed(ctx, data), next_cursor


def withheld_kinds(ctx: Context, subject: str) -> list[str]:
    """The kinds of entry a subject's timeline leaves out because the caller lacks their scope."""
    readable = readable_kinds(ctx.scopes, kinds_of(subject))
    return [kind for kind in kinds_of(subject) if kind not in readable]
