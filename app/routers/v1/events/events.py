from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.events.events import EventRead
from app.schemas.events.jobs import JobRead, RedactionCreate
from app.services.context import Context
from app.services.events import events, jobs

router = APIRouter(prefix="/v1/events", tags=["Events"], route_class=CrmRoute)
EventSort = sort_enum("EventSort", "id")


@router.get(
    "",
    summary="List events (catch up after an outage)",
    description="Only the event types whose resource the key may read (`lead.*` needs `leads:read`; "
    "workspace-level types need `admin`). Filtering by a type the key may not read is a 403.",
    response_model=Page[EventRead],
)
async def list_events(
    ctx: Annotated[Context, require("events:read")],
    page: Annotated[Paging, paging(EventSort, default="id")],
    type: Annotated[list[str] | None, Query(description="Only these types (repeat the parameter)")] = None,
    resource_id: Annotated[str | None, Query(max_length=64)] = None,
    occurred_after: Annotated[datetime | None, Query(description="At or after this time")] = None,
    occurred_before: Annotated[datetime | None, Query(description="Before this time")] = None,
    after_sequence: Annotated[int | None, Query(ge=0, description="Only events with a higher sequence")] = None,
) -> RowPage:
    return await events.list_events(
        ctx,
        sort=page.sort,
        cursor=page.cursor,
        limit=page.limit,
        types_=type,
        resource_id=resource_id,
        occurred_after=occurred_after,
        occurred_before=occurred_before,
        after_sequence=after_sequence,
    )


@router.post(
    "/redactions",
    status_code=202,
    summary="Erase the data of every event about a resource (data-protection requests)",
    description="Only the events whose types the key may read (as `GET /v1/events` shows them; `admin`: every "
    "type): the job's `params.scopes` records the key's scopes, and its result `{\"redacted\": N}` counts only "
    "those events. Events of other types about the resource keep their data; a key that may read them "
    "(e.g. `admin`) erases them with a request of its own.",
    response_model=JobRead,
    responses={202: {"description": "Accepted: poll the job at Location"}},
)
async def redact_events(body: RedactionCreate, ctx: Annotated[Context, require_idempotent("events:write")]) -> Answer:
    job = await jobs.enqueue(ctx, "events.redact", events.redaction_params(ctx, body.resource_id))
    return Answer(job, location=f"/v1/jobs/{job['id']}")


@router.get(
    "/{event_id}",
    summary="Get an event",
    description="403 when the key may not read the event's type.",
    response_model=EventRead,
)
async def get_event(event_id: UUID, ctx: Annotated[Context, require("events:read")]) -> Row:
    return await events.get(ctx, event_id)
