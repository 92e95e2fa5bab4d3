"""Customer analytics: refresh (a job), the fitted model, CLV by group, and a contact's value."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.routers.dependencies import JSON, require, require_idempotent, resource_response
from app.routers.route import CrmRoute, problem_doc
from app.schemas.analytics import ClvGroupsRead, GroupBy, Metric, ModelRead, RefreshRequest, ValueRead
from app.schemas.jobs import JobRead
from app.services import analytics
from app.services.context import Context

router = APIRouter(tags=["Analytics"], route_class=CrmRoute)
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
async def refresh(
    request: Request, ctx: Annotated[Context, require_idempotent("analytics:write")], body: RefreshRequest | None = None
) -> Response:
    body = body or RefreshRequest()
    job = await analytics.enqueue_refresh(
        ctx, as_of=body.as_of, calibration_end=body.calibration_end, cause="requested"
    )
    return resource_response(request, JobRead.model_validate(job), status_code=202, location=f"/v1/jobs/{job['id']}")


@router.get(
    "/analytics/model",
    summary="The fitted CLV models of the latest snapshot, with the calibration/holdout check",
    description="Parameters named as in the literature (BG/NBD `r`, `alpha`, `a`, `b`; Gamma-Gamma `p`, `q`, `v`) "
    "in `time_unit` (days). 404 until a refresh has completed.",
    response_model=ModelRead,
    responses=NO_SNAPSHOT,
)
async def model(ctx: Annotated[Context, require("analytics:read")]) -> Response:
    snapshot = await analytics.latest(ctx)
    return Response(analytics.model_read(snapshot).model_dump_json(), media_type=JSON)


@router.get(
    "/analytics/clv",
    summary="Customer lifetime value by group: count, sum, mean and percentiles",
    description="From the latest snapshot. A customer with several tags counts in each tag's group; customers "
    "without a value for the dimension form the group with `key: null`. 404 until a refresh has completed.",
    response_model=ClvGroupsRead,
    responses=NO_SNAPSHOT,
)
async def clv_by_group(
    ctx: Annotated[Context, require("analytics:read")],
    group_by: Annotated[GroupBy, Query(description="The dimension to group customers by")],
    metric: Annotated[Metric, Query(description="The value summed and described")] = Metric.PREDICTED_CLV,
) -> Response:
    data = await analytics.clv_groups(ctx, group_by.value, metric.value)
    return Response(ClvGroupsRead.model_validate(data).model_dump_json(), media_type=JSON)


@router.get(
    "/contacts/{contact_id}/value",
    summary="A customer's value: historic, simple, retention-based and predictive CLV, P(alive)",
    description="From the latest analytics snapshot (`as_of`, `computed_at`); `status` says when there is none yet "
    "or the contact had not bought by then.",
    response_model=ValueRead,
)
async def contact_value(contact_id: UUID, ctx: Annotated[Context, require("contacts:read")]) -> Response:
    data = await analytics.value_of(ctx, contact_id)
    return Response(ValueRead.model_validate(data).model_dump_json(), media_type=JSON)
