"""`/v1/campaigns`: define a campaign, submit it for review, review it (members only), launch it,
pause, resume or cancel it, and read its report."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from app.domain.campaigns.reviews import Decision
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.campaigns.campaigns import (
    CampaignCreate,
    CampaignRead,
    CampaignReport,
    CampaignUpdate,
    Channel,
    ReviewCreate,
    ReviewRead,
    Status,
)
from app.schemas.common import Page
from app.services.campaigns import campaigns, report, reviews, sending
from app.services.context import Context

router = APIRouter(prefix="/v1/campaigns", tags=["Campaigns"], route_class=CrmRoute)
CampaignSort = sort_enum("CampaignSort", "created_at", "name")
ReviewSort = sort_enum("ReviewSort", "created_at")


class CampaignFilters(BaseModel):
    status: Status | None = None
    channel: Channel | None = None
    created_after: AwareDatetime | None = Field(default=None, description="Created at or after (with its offset)")
    created_before: AwareDatetime | None = Field(default=None, description="Created before (with its offset)")


@router.post(
    "",
    status_code=201,
    summary="Create a campaign (in draft)",
    description="A 422 names each problem's path (`variants.1.template_id`, `audience.conditions.all.0.field`). "
    "A draft may leave out its audience and variants; submitting it may not. Its author is the member bound "
    "to the key, who cannot approve it.",
    response_model=CampaignRead,
)
async def create_campaign(
    body: CampaignCreate, ctx: Annotated[Context, require_idempotent("campaigns:write")]
) -> Answer:
    row = await campaigns.create(ctx, body.model_dump(mode="json"))
    return Answer(row, location=f"/v1/campaigns/{row['id']}")


@router.get("", summary="List campaigns", response_model=Page[CampaignRead])
async def list_campaigns(
    ctx: Annotated[Context, require("campaigns:read")],
    page: Annotated[Paging, paging(CampaignSort)],
    filters: Annotated[CampaignFilters, Query()],
) -> RowPage:
    return await campaigns.list_campaigns(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit,
                                          **filters.model_dump())  # fmt: skip


@router.get("/{campaign_id}", summary="Get a campaign", response_model=CampaignRead,
            openapi_extra={"x-conditional": True})  # fmt: skip
async def get_campaign(campaign_id: UUID, ctx: Annotated[Context, require("campaigns:read")]) -> Row:
    return await campaigns.get_shown(ctx, campaign_id)


@router.patch(
    "/{campaign_id}",
    summary="Edit a campaign (a change to what is sent, to whom, when or how withdraws its approvals)",
    description="Each field sent replaces its value. Changing anything but `name`, `goal`, `attribution_days` and "
    "`cost` withdraws every approval (kept in the reviews, marked withdrawn) and returns the campaign to draft. "
    "Cancelled: 409.",
    response_model=CampaignRead,
)
async def update_campaign(
    campaign_id: UUID,
    body: CampaignUpdate,
    ctx: Annotated[Context, require("campaigns:write")],
    if_match: IfMatch = None,
) -> Row:
    return await campaigns.update(ctx, campaign_id, body.model_dump(mode="json", exclude_unset=True), if_match=if_match)


@router.post(
    "/{campaign_id}/submit",
    summary="Submit a draft for review (campaign.submitted)",
    description="409 unless it is a draft; 422 naming what it still lacks (`audience`, `variants`) or what is no "
    "longer valid (a template archived since).",
    response_model=CampaignRead,
)
async def submit_campaign(
    campaign_id: UUID, ctx: Annotated[Context, require("campaigns:write")], if_match: IfMatch = None
) -> Row:
    return await campaigns.submit(ctx, campaign_id, if_match=if_match)


@router.post(
    "/{campaign_id}/cancel",
    summary="Cancel a campaign (final)",
    description="409 when it is cancelled already.",
    response_model=CampaignRead,
)
async def cancel_campaign(
    campaign_id: UUID, ctx: Annotated[Context, require("campaigns:write")], if_match: IfMatch = None
) -> Row:
    return await campaigns.cancel(ctx, campaign_id, if_match=if_match)


@router.post(
    "/{campaign_id}/reviews",
    summary="Review a campaign in review: approve, reject or request changes (a member-bound key)",
    description="Needs `campaigns:review` and a key bound to a member (else 409 `/problems/member-key-required`). "
    "409 unless the campaign is in review or when the member is deactivated; one of its `contributors` (its "
    "author, a member who changed what is reviewed or submitted it) approving it: 409 `/problems/self-review`. "
    "Answers the campaign after the review.",
    response_model=CampaignRead,
)
async def review_campaign(
    campaign_id: UUID,
    body: ReviewCreate,
    ctx: Annotated[Context, require_idempotent("campaigns:review")],
    if_match: IfMatch = None,
) -> Row:
    return await reviews.review(ctx, campaign_id, Decision(body.decision), body.comment, if_match=if_match)


@router.get(
    "/{campaign_id}/reviews",
    summary="A campaign's reviews: every one, withdrawn approvals and repeated ones included",
    response_model=Page[ReviewRead],
)
async def list_campaign_reviews(
    campaign_id: UUID,
    ctx: Annotated[Context, require("campaigns:read")],
    page: Annotated[Paging, paging(ReviewSort)],
) -> RowPage:
    return await reviews.history(ctx, campaign_id, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.post(
    "/{campaign_id}/launch",
    summary="Launch an approved campaign (campaign.launched)",
    description="The audience is read and frozen; each recipient is drawn to the holdout, the pilot and a variant "
    "by a new `seed` (kept on the campaign). Sending begins at `send_at` (or now): the pilot first, the rest after "
    "its `wait_hours` unless its unsubscribe or complaint rate crosses `auto_pause` (then `paused`, "
    "`campaign.paused` with the figures). Consent, suppressions, quiet hours and the frequency cap are checked for "
    "each recipient; the blocked are counted by reason. 409 naming what is missing until it is approved (a draft, "
    "in review, cancelled, too few approvals), or when it was launched already.",
    response_model=CampaignRead,
)
async def launch_campaign(
    campaign_id: UUID, ctx: Annotated[Context, require_idempotent("campaigns:write")], if_match: IfMatch = None
) -> Row:
    return await sending.launch(ctx, campaign_id, if_match=if_match)


@router.post(
    "/{campaign_id}/pause",
    summary="Pause a launched campaign (campaign.paused)",
    description="No more messages are handed out until it is resumed (those queued already still go). 409 unless "
    "it is scheduled, piloting or sending.",
    response_model=CampaignRead,
)
async def pause_campaign(
    campaign_id: UUID, ctx: Annotated[Context, require("campaigns:write")], if_match: IfMatch = None
) -> Row:
    return await sending.pause(ctx, campaign_id, if_match=if_match)


@router.post(
    "/{campaign_id}/resume",
    summary="Resume a paused campaign",
    description="It goes on where it stopped; one its pilot paused goes on to the rest at once. 409 unless paused.",
    response_model=CampaignRead,
)
async def resume_campaign(
    campaign_id: UUID, ctx: Annotated[Context, require("campaigns:write")], if_match: IfMatch = None
) -> Row:
    return await sending.resume(ctx, campaign_id, if_match=if_match)


@router.get(
    "/{campaign_id}/report",
    summary="A campaign's results: per variant and holdout, uplift with a 95% interval, variants compared",
    description="Counted by intention to treat (every recipient drawn to an arm counts in it). Conversions are "
    "the goal reached within `attribution_days` of a recipient's message (the holdout: of their due time); "
    "revenue is the orders placed in that window, net of refunds, in the reporting currency. Uplift is each "
    "variant's conversion rate against the holdout's with the Wald interval of the difference; variants are "
    "compared with the pooled two-proportion z-test, a winner only at p < 0.05 with `min_sample` in each arm.",
    response_model=CampaignReport,
)
async def get_campaign_report(campaign_id: UUID, ctx: Annotated[Context, require("campaigns:read")]) -> Row:
    return await report.report(ctx, campaign_id)
