"""`/v1/journeys`: define, publish, pause, resume and archive journeys; submit a draft for review and
review it (members only); enrol people by hand; follow their enrolments (`/v1/enrolments/{id}`:
every step each ran)."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.domain.campaigns.reviews import Decision
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.campaigns.campaigns import ReviewCreate
from app.schemas.common import Page
from app.schemas.journeys.journeys import (
    EnrolmentCreate,
    EnrolmentDetail,
    EnrolmentRead,
    JourneyCreate,
    JourneyRead,
    JourneyReviewRead,
    JourneyStats,
    JourneyUpdate,
    JourneyVersionRead,
)
from app.services.context import Context
from app.services.journeys import enrolments, journeys, reviews

router = APIRouter(prefix="/v1/journeys", tags=["Journeys"], route_class=CrmRoute)
enrolment_router = APIRouter(prefix="/v1/enrolments", tags=["Journeys"], route_class=CrmRoute)
JourneySort = sort_enum("JourneySort", "created_at", "name")
EnrolmentSort = sort_enum("EnrolmentSort", "created_at")
JourneyReviewSort = sort_enum("JourneyReviewSort", "created_at")


class JourneyFilters(BaseModel):
    status: Literal["draft", "active", "paused", "archived"] | None = Field(
        default=None, description="Default: every journey but archived ones"
    )
    audience: Literal["leads", "contacts"] | None = None


class JourneyReviewFilters(BaseModel):
    version: int | None = Field(default=None, ge=1, le=2_147_483_647, description="Reviews of this draft version")


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
    "`trigger.conditions.all.0.op`). A draft may leave a send step's `template_id` null; publishing may not. The "
    "member bound to the key is the draft's first contributor, who cannot approve it.",
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
    return await journeys.read(ctx, journey_id)


@router.patch(
    "/{journey_id}",
    summary="Edit a journey's draft (an active journey gets a new draft version; its enrolments keep theirs)",
    description="Each part sent replaces the draft's. A change to a draft withdraws every approval of it (kept in "
    "its reviews, marked withdrawn) and takes it out of review; the editor's member joins its `contributors`. "
    "Archived: 409; a published journey keeps its audience (422).",
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
    description="409 when archived or without a draft; 422 naming what the draft still leaves open "
    "(`steps.N.template_id`) or a reference no longer valid. A draft that sends marketing (a `send` step with "
    "purpose `marketing`), when the `campaigns` setting `approvals_apply_to_journeys` is on, must be approved "
    "first: else 409 `/problems/approval-required`, its `missing` naming what it lacks "
    "(`submission for review`, `2 more approvals`).",
    response_model=JourneyRead,
)
async def publish_journey(
    journey_id: UUID, ctx: Annotated[Context, require("journeys:write")], if_match: IfMatch = None
) -> Row:
    return await journeys.publish(ctx, journey_id, if_match=if_match)


@router.post(
    "/{journey_id}/submit",
    summary="Submit the draft for review (journey.submitted)",
    description="409 when archived, without a draft, or when the draft is in review or approved already; 422 "
    "naming what the draft still leaves open, as publishing does. The bar is the workspace's `campaigns` settings "
    "now (`required_approvals`, `require_distinct_review_groups`); the caller's member joins the draft's "
    "`contributors`. Approvals that still count (an unedited draft sent back by a rejection) count again: "
    "when they clear the bar it is approved at once (journey.approved).",
    response_model=JourneyRead,
)
async def submit_journey(
    journey_id: UUID, ctx: Annotated[Context, require("journeys:write")], if_match: IfMatch = None
) -> Row:
    return await reviews.submit(ctx, journey_id, if_match=if_match)


@router.post(
    "/{journey_id}/reviews",
    summary="Review the draft in review: approve, reject or request changes (a member-bound key)",
    description="Needs `campaigns:review` and a key bound to a member (else 409 `/problems/member-key-required`). "
    "409 unless the draft is in review, or when the member is deactivated; one of the draft's `contributors` (a "
    "member who wrote, edited or submitted it) approving it: 409 `/problems/self-review`. A rejection or a "
    "request for changes takes the draft out of review and withdraws that member's approval. Answers the journey "
    "after the review (journey.reviewed; journey.approved when it reaches the bar).",
    response_model=JourneyRead,
)
async def review_journey(
    journey_id: UUID,
    body: ReviewCreate,
    ctx: Annotated[Context, require_idempotent("campaigns:review")],
    if_match: IfMatch = None,
) -> Row:
    return await reviews.review(ctx, journey_id, Decision(body.decision), body.comment, if_match=if_match)


@router.get(
    "/{journey_id}/reviews",
    summary="A journey's reviews: every one of every draft, withdrawn approvals and repeated ones included",
    response_model=Page[JourneyReviewRead],
)
async def list_journey_reviews(
    journey_id: UUID,
    ctx: Annotated[Context, require("journeys:read")],
    page: Annotated[Paging, paging(JourneyReviewSort)],
    filters: Annotated[JourneyReviewFilters, Query()],
) -> RowPage:
    return await reviews.history(ctx, journey_id, version=filters.version, sort=page.sort, cursor=page.cursor,
                                 limit=page.limit)  # fmt: skip


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
