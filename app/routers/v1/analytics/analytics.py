"""Customer analytics: refresh (a job), the fitted model, CLV by group, and a contact's value."""

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer
from app.routers.dependencies import Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute, problem_doc
from app.schemas.analytics.analytics import (
    AlertReason,
    AlertStatus,
    ChurnAlertRead,
    ClvCacRead,
    ClvGroupsRead,
    CohortsRead,
    CustomerValueItem,
    GroupBy,
    Metric,
    ModelRead,
    RefreshRequest,
    RfmRead,
    ValueRead,
)
from app.schemas.common import Page
from app.schemas.events.jobs import JobRead
from app.services.analytics import analytics, retention
from app.services.context import Context

router = APIRouter(prefix="/v1", tags=["Analytics"], route_class=CrmRoute)
NO_SNAPSHOT = {404: problem_doc("No analytics snapshot yet: none has completed in this workspace")}


@router.post(
    "/analytics/refresh",
    status_code=202,
    summary="Recompute the customer analytics snapshot now (a job; it also runs nightly and after large imports)",
    description="Fits BG/NBD + Gamma-Gamma on the workspace's purchases up to `as_of` and stores every customer's "
    "historic, simple, retention-based and predictive CLV. With `calibration_end`, also fits on the purchases up "
    "to it and reports predicted vs actual purchases after it (`GET /v1/analytics/model`, `holdout`).",
    response_model=JobRead,
    responses={202: {"description": "Accepted: poll the job at Location"}},
)
async def refresh_analytics(
    ctx: Annotated[Context, require_idempotent("analytics:write")], body: RefreshRequest | None = None
) -> Answer:
    body = body or RefreshRequest()
    job = await analytics.enqueue_refresh(
        ctx, as_of=body.as_of, calibration_end=body.calibration_end, cause="requested"
    )
    return Answer(job, location=f"/v1/jobs/{job['id']}")


@router.get(
    "/analytics/model",
    summary="The fitted CLV models of the latest snapshot, with the calibration/holdout check",
    description="Parameters named as in the literature (BG/NBD `r`, `alpha`, `a`, `b`; Gamma-Gamma `p`, `q`, `v`) "
    "in `time_unit` (days). 404 until a refresh has completed.",
    response_model=ModelRead,
    responses=NO_SNAPSHOT,
)
async def get_analytics_model(ctx: Annotated[Context, require("analytics:read")]) -> ModelRead:
    return analytics.model_read(await analytics.latest(ctx))


@router.get(
    "/analytics/clv",
    summary="Customer lifetime value by group: count, sum, mean and percentiles",
    description="From the latest snapshot. A customer with several tags counts in each tag's group; customers "
    "without a value for the dimension form the group with `key: null`. 404 until a refresh has completed.",
    response_model=ClvGroupsRead,
    responses=NO_SNAPSHOT,
)
async def get_clv_by_group(
    ctx: Annotated[Context, require("analytics:read")],
    group_by: Annotated[GroupBy, Query(description="The dimension to group customers by")],
    metric: Annotated[Metric, Query(description="The value summed and described")] = Metric.PREDICTED_CLV,
) -> ClvGroupsRead:
    return ClvGroupsRead.model_validate(await analytics.clv_groups(ctx, group_by.value, metric.value))


@router.get(
    "/contacts/{contact_id}/value",
    summary="A customer's value: historic, simple, retention-based and predictive CLV, P(alive)",
    description="From the latest analytics snapshot (`as_of`, `computed_at`); `status` says when there is none yet "
    "or the contact had not bought by then.",
    response_model=ValueRead,
)
async def get_contact_value(contact_id: UUID, ctx: Annotated[Context, require("contacts:read")]) -> ValueRead:
    return ValueRead.model_validate(await analytics.value_of(ctx, contact_id))


Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=200, description="Customers a page")]


CONTACT_FIELDS = {"contact_name", "contact_email"}


def _listed(ctx: Context, page: Page[Any]) -> bytes:
    """A page whose items carry the contact's name and email only for a key holding contacts:read:
    for any other key the two fields are left out (absent, not null)."""
    hidden = None if ctx.allows("contacts:read") else {"data": {"__all__": CONTACT_FIELDS}}
    return page.__pydantic_serializer__.to_json(page, exclude=hidden)


def _page(ctx: Context, items: list[dict[str, object]], next_cursor: str | None) -> bytes:
    data = [CustomerValueItem.model_validate(i) for i in items]
    return _listed(ctx, Page[CustomerValueItem](data=data, next_cursor=next_cursor))


@router.get(
    "/analytics/rfm",
    summary="RFM segments: sizes, revenue share, and moves since the previous snapshot",
    response_model=RfmRead,
    responses=NO_SNAPSHOT,
)
async def get_rfm(ctx: Annotated[Context, require("analytics:read")]) -> RfmRead:
    return RfmRead.model_validate(await analytics.rfm(ctx))


@router.get(
    "/analytics/churn",
    summary="Customers at risk of churning, the most value at risk first",
    description="Medium and high churn levels unless `level` says otherwise; each with its reasons and the expected "
    "next purchase. Items carry the contact's name and email (`contact_name`, `contact_email`) only for a key "
    "holding `contacts:read`; for other keys the two fields are absent.",
    response_model=Page[CustomerValueItem],
    responses=NO_SNAPSHOT,
)
async def list_churn_risks(
    ctx: Annotated[Context, require("analytics:read")],
    level: Annotated[Literal["low", "medium", "high"] | None, Query()] = None,
    owner_id: Annotated[UUID | None, Query()] = None,
    segment: Annotated[str | None, Query(max_length=32, description="An RFM segment id")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> bytes:
    filters = {"level": level, "owner_id": owner_id, "segment": segment}
    return _page(ctx, *await analytics.ranked_customers(ctx, "churn", cursor=cursor, limit=limit, filters=filters))


AlertSort = sort_enum("ChurnAlertSort", "raised_on", "clv_at_risk", "churn_score")


@router.get(
    "/analytics/churn-alerts",
    summary="Churn alerts: customers at high risk or overdue against their own rhythm, and their outcome",
    description="Every alert the refreshes raised, newest analysis date first by default: open, rescued (ordered "
    "again within the window) or churned; `announced: false` for those over a first snapshot's cap (listed, "
    "with no event and no rescue task). Items carry the contact's name and email (`contact_name`, "
    "`contact_email`) only for a key holding `contacts:read`; for other keys the two fields are absent.",
    response_model=Page[ChurnAlertRead],
)
async def list_churn_alerts(
    ctx: Annotated[Context, require("analytics:read")],
    page: Annotated[Paging, paging(AlertSort, "-raised_on")],
    status: Annotated[AlertStatus | None, Query(description="open, rescued or churned")] = None,
    reason: Annotated[AlertReason | None, Query(description="Why it was raised")] = None,
    churn_level: Annotated[Literal["low", "medium", "high"] | None, Query(description="The level then")] = None,
    announced: Annotated[bool | None, Query()] = None,
    contact_id: Annotated[UUID | None, Query()] = None,
    owner_id: Annotated[UUID | None, Query()] = None,
    raised_after: Annotated[date | None, Query(description="Raised on or after this analysis date")] = None,
    raised_before: Annotated[date | None, Query(description="Raised on or before this analysis date")] = None,
) -> bytes:
    found = await retention.list_alerts(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, status=status, reason=reason,
        churn_level=churn_level, announced=announced, contact_id=contact_id, owner_id=owner_id,
        raised_after=raised_after, raised_before=raised_before,
    )  # fmt: skip
    data = [ChurnAlertRead.model_validate(row) for row in found.rows]
    return _listed(ctx, Page[ChurnAlertRead](data=data, next_cursor=found.next_cursor))


@router.get(
    "/analytics/advocates",
    summary="Customers most likely to refer others, highest advocacy score first",
    response_model=Page[CustomerValueItem],
    responses=NO_SNAPSHOT,
)
async def list_advocates(
    ctx: Annotated[Context, require("analytics:read")], cursor: Cursor = None, limit: Limit = 50
) -> bytes:
    return _page(ctx, *await analytics.ranked_customers(ctx, "advocates", cursor=cursor, limit=limit))


@router.get(
    "/analytics/upsell",
    summary="Customers with the most value-added deals, then the most open recommendations",
    response_model=Page[CustomerValueItem],
    responses=NO_SNAPSHOT,
)
async def list_upsell_recommendations(
    ctx: Annotated[Context, require("analytics:read")], cursor: Cursor = None, limit: Limit = 50
) -> bytes:
    return _page(ctx, *await analytics.ranked_customers(ctx, "upsell", cursor=cursor, limit=limit))


@router.get(
    "/analytics/cohorts",
    summary="Retention and revenue by first-purchase month, as a triangle",
    response_model=CohortsRead,
    responses=NO_SNAPSHOT,
)
async def get_cohorts(ctx: Annotated[Context, require("analytics:read")]) -> CohortsRead:
    return CohortsRead.model_validate(await analytics.cohorts(ctx))


@router.get(
    "/analytics/clv-cac",
    summary="CLV against acquisition cost per channel and month: CAC, mean CLV, ratio, payback",
    response_model=ClvCacRead,
    responses=NO_SNAPSHOT,
)
async def get_clv_cac(
    ctx: Annotated[Context, require("analytics:read")],
    group: Annotated[
        Literal["channel_month", "channel", "month", "campaign"],
        Query(
            description="`campaign`: per launched campaign with a cost, its acquired customers (a first order "
            "within the attribution window, holdout left out) against the campaign's cost"
        ),
    ] = "channel_month",
) -> ClvCacRead:
    return ClvCacRead.model_validate(await analytics.clv_cac(ctx, group))
