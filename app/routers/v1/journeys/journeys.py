"""`/v1/journeys`: define, publish, pause, resume and archive journeys; enrol people by hand; follow
their enrolments (`/v1/enrolments/{id}`: every step each ran)."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.journeys.journeys import (
    EnrolmentCreate,
    EnrolmentDetail,
    EnrolmentRead,
    JourneyCreate,
    JourneyRead,
    JourneyStats,
    JourneyUpdate,
    JourneyVersionRead,
)
from app.services.context import Context
from app.services.journeys import enrolments, journeys

router = APIRouter(prefix="/v1/journeys", tags=["Journeys"], route_class=CrmRoute)
enrolment_router = APIRouter(prefix="/v1/enrolments", tags=["Journeys"], route_class=CrmRoute)
JourneySort = sort_enum("JourneySort", "created_at", "name")
EnrolmentSort = sort_enum("EnrolmentSort", "created_at")


class JourneyFilters(BaseModel):
    status: Literal["draft", "active", "paused", "archived"] | None = Field(
        default=None, description="Default: every journey but archived ones"
    )
    audience: Literal["leads", "contacts"] | None = None


class EnrolmentFilters(BaseModel):
    status: Literal["active", "completed", "exited"] | None = None
    step: str | None = Field(default=None, max_length=64, description="The step it is at (`current_step`)")
    variant: str | None = Field(default=None, max_length=64)
    exit_reason: str | None = Field(default=None, max_length=200)


@router.post(
    "",
    status_code=201,
    summary="Create a journey (in draft), from a document or a built-in template",
    description="The document is checked whole: a 422 names each problem's path (`steps.2.then`, "
    "`trigger.conditions.all.0.op`). A draft may leave a send step's `template_id` null; publishing may not.",
    response_model=JourneyRead,
)
async def create_journey(body: JourneyCreate, ctx: Annotated[Context, require_idempotent("journeys:write")]) -> Answer:
    row = await journeys.create(ctx, body.model_dump(exclude_none=True))
    return Answer(row, location=f"/v1/journeys/{row['id']}")


@router.get("", summary="List journeys", response_model=Page[JourneyRead])
async def list_journeys(
    ctx: Annotated[Context, require("journeys:read")],
    page: Annotated[Paging, paging(JourneySort)],
    filters: Annotated[JourneyFilters, Query()],
) -> RowPage:
    return await journeys.list_journeys(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit,
                                        **filters.model_dump())  # fmt: skip


@router.get("/{journey_id}", summary="Get a journey", response_model=JourneyRead,
            openapi_extra={"x-conditional": True})  # fmt: skip
async def get_journey(journey_id: UUID, ctx: Annotated[Context, require("journeys:read")]) -> Row:
    return await journeys.shown(ctx, await journeys.get(ctx, journey_id))


@router.patch(
    "/{journey_id}",
    summary="Edit a journey's draft (an active journey gets a new draft version; its enrolments keep theirs)",
    response_model=JourneyRead,
)
async def update_journey(
    journey_id: UUID, body: JourneyUpdate, ctx: Annotated[Context, require("journeys:write")], if_match: IfMatch = None
) -> Row:
    return await journeys.update(ctx, journey_id, body.model_dump(exclude_unset=True), if_match=if_match)


@router.delete(
    "/{journey_id}",
    summary="Archive a journey: no one enters any more, and every active enrolment exits (journey_archived)",
    response_model=JourneyRead,
)
async def archive_journey(
    journey_id: UUID, ctx: Annotated[Context, require("journeys:write")], if_match: IfMatch = None
) -> Row:
    return await journeys.archive(ctx, journey_id, if_match=if_match)


@router.post(
    "/{journey_id}/publish",
    summary="Publish the draft: it becomes the active version and the journey active",
    response_model=JourneyRead,
)
async def publish_journey(
    journey_id: UUID, ctx: Annotated[Context, require("journeys:write")], if_match: IfMatch = None
) -> Row:
    return await journeys.publish(ctx, journey_id, if_match=if_match)


@router.post(
    "/{journey_id}/pause",
    summary="Pause: no step runs and no one enters; waits that fall due meanwhile run at resume",
    response_model=JourneyRead,
)
async def pause_journey(
    journey_id: UUID, ctx: Annotated[Context, require("journeys:write")], if_match: IfMatch = None
) -> Row:
    return await journeys.pause(ctx, journey_id, if_match=if_match)


@router.post("/{journey_id}/resume", summary="Resume a paused journey", response_model=JourneyRead)
async def resume_journey(
    journey_id: UUID, ctx: Annotated[Context, require("journeys:write")], if_match: IfMatch = None
) -> Row:
    return await journeys.resume(ctx, journey_id, if_match=if_match)


@router.get(
    "/{journey_id}/versions/{number}",
    summary="A version of a journey's document",
    response_model=JourneyVersionRead,
    openapi_extra={"x-conditional": True},
)
async def get_journey_version(
    journey_id: UUID,
    number: Annotated[int, Path(ge=1, le=2_147_483_647)],
    ctx: Annotated[Context, require("journeys:read")],
) -> Row:
    return await journeys.version(ctx, journey_id, number)


@router.post(
    "/{journey_id}/enrolments",
    status_code=201,
    summary="Enrol a lead or a contact by hand (also needs the person's write scope)",
    description="409 unless the journey is active and the person may enter (not in it now, and its re-enrolment "
    "rule allows); 422 for a person of the other audience or not of this workspace.",
    response_model=EnrolmentRead,
)
async def enrol_person(
    journey_id: UUID, body: EnrolmentCreate, ctx: Annotated[Context, require_idempotent("journeys:write")]
) -> Answer:
    row = await enrolments.enrol_by_hand(ctx, journey_id, body.lead_id, body.contact_id)
    return Answer(row, location=f"/v1/enrolments/{row['id']}")


@router.get(
    "/{journey_id}/enrolments",
    summary="A journey's enrolments",
    response_model=Page[EnrolmentRead],
)
async def list_enrolments(
    journey_id: UUID,
    ctx: Annotated[Context, require("journeys:read")],
    page: Annotated[Paging, paging(EnrolmentSort)],
    filters: Annotated[EnrolmentFilters, Query()],
) -> RowPage:
    return await enrolments.list_enrolments(ctx, journey_id, sort=page.sort, cursor=page.cursor, limit=page.limit,
                                            filters=filters.model_dump())  # fmt: skip


@router.get(
    "/{journey_id}/stats",
    summary="A journey's statistics: per step, goal conversion, and per split variant with a two-proportion test",
    response_model=JourneyStats,
)
async def get_journey_stats(journey_id: UUID, ctx: Annotated[Context, require("journeys:read")]) -> Row:
    return await enrolments.stats(ctx, journey_id)


@enrolment_router.get(
    "/{enrolment_id}",
    summary="An enrolment with every step it ran (times and results: message ids, task ids, the branch taken)",
    response_model=EnrolmentDetail,
    openapi_extra={"x-conditional": True},
)
async def get_enrolment(enrolment_id: UUID, ctx: Annotated[Context, require("journeys:read")]) -> Row:
    return await enrolments.get(ctx, enrolment_id)
