"""Acquisition costs: what a channel cost in a month, against which CLV is weighed (`GET /v1/analytics/clv-cac`)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.analytics.acquisition_costs import (
    AcquisitionCostCreate,
    AcquisitionCostFilters,
    AcquisitionCostRead,
    AcquisitionCostUpdate,
)
from app.schemas.common import Page
from app.services.analytics.acquisition_costs import ACQUISITION_COST
from app.services.context import Context
from app.services.customers import records

router = APIRouter(prefix="/v1/acquisition-costs", tags=["Analytics"], route_class=CrmRoute)
AnalyticsSort = sort_enum("AnalyticsSort", "created_at")


@router.post("", status_code=201, summary="Create an acquisition_cost", response_model=AcquisitionCostRead)
async def create_acquisition_cost(
    body: AcquisitionCostCreate, ctx: Annotated[Context, require_idempotent("analytics:write")]
) -> Answer:
    row = await records.create(ctx, ACQUISITION_COST, body.model_dump())
    return Answer(row, location=f"/v1/acquisition-costs/{row['id']}")


@router.get("", summary="List acquisition-costs", response_model=Page[AcquisitionCostRead])
async def list_acquisition_costs(
    ctx: Annotated[Context, require("analytics:read")],
    page: Annotated[Paging, paging(AnalyticsSort)],
    filters: Annotated[AcquisitionCostFilters, Query()],
) -> RowPage:
    return await records.list_records(
        ctx, ACQUISITION_COST, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get(
    "/{acquisition_cost_id}",
    summary="Get an acquisition_cost",
    response_model=AcquisitionCostRead,
    openapi_extra={"x-conditional": True},
)
async def get_acquisition_cost(acquisition_cost_id: UUID, ctx: Annotated[Context, require("analytics:read")]) -> Row:
    return await records.get(ctx, ACQUISITION_COST, acquisition_cost_id)


@router.patch("/{acquisition_cost_id}", summary="Update an acquisition_cost", response_model=AcquisitionCostRead)
async def update_acquisition_cost(
    acquisition_cost_id: UUID,
    body: AcquisitionCostUpdate,
    ctx: Annotated[Context, require("analytics:write")],
    if_match: IfMatch = None,
) -> Row:
    _, row = await records.update(
        ctx, ACQUISITION_COST, acquisition_cost_id, body.model_dump(exclude_unset=True), if_match=if_match
    )
    return row


@router.delete(
    "/{acquisition_cost_id}",
    summary="Archive an acquisition_cost (hidden from lists unless archived=true)",
    response_model=AcquisitionCostRead,
)
async def archive_acquisition_cost(
    acquisition_cost_id: UUID, ctx: Annotated[Context, require("analytics:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, ACQUISITION_COST, acquisition_cost_id, if_match=if_match)
