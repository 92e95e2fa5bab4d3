"""Opportunities: deals with an amount and a stage, won or lost with a reason."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.domain.customers.opportunities import OpportunityStage, OpportunityType
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.relationships import OpportunityCreate, OpportunityRead, OpportunityUpdate
from app.services.context import Context
from app.services.customers import records, relationships
from app.services.customers.relationships import OPPORTUNITY

router = APIRouter(prefix="/v1/opportunities", tags=["Opportunities"], route_class=CrmRoute)
OpportunitiesSort = sort_enum("OpportunitiesSort", "created_at")


class OpportunityFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived records")
    account_id: UUID | None = None
    contact_id: UUID | None = None
    owner_id: UUID | None = None
    stage: OpportunityStage | None = None
    type: OpportunityType | None = None


@router.post("", status_code=201, summary="Create an opportunity", response_model=OpportunityRead)
async def create_opportunity(
    body: OpportunityCreate, ctx: Annotated[Context, require_idempotent("opportunities:write")]
) -> Answer:
    row = await relationships.create_opportunity(ctx, body.model_dump())
    return Answer(row, location=f"/v1/opportunities/{row['id']}")


@router.get("", summary="List opportunities", response_model=Page[OpportunityRead])
async def list_opportunities(
    ctx: Annotated[Context, require("opportunities:read")],
    page: Annotated[Paging, paging(OpportunitiesSort)],
    filters: Annotated[OpportunityFilters, Query()],
) -> RowPage:
    return await records.list_records(
        ctx, OPPORTUNITY, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get(
    "/{opportunity_id}",
    summary="Get an opportunity",
    response_model=OpportunityRead,
    openapi_extra={"x-conditional": True},
)
async def get_opportunity(opportunity_id: UUID, ctx: Annotated[Context, require("opportunities:read")]) -> Row:
    return await records.get(ctx, OPPORTUNITY, opportunity_id)


@router.patch("/{opportunity_id}", summary="Update an opportunity", response_model=OpportunityRead)
async def update_opportunity(
    opportunity_id: UUID,
    body: OpportunityUpdate,
    ctx: Annotated[Context, require("opportunities:write")],
    if_match: IfMatch = None,
) -> Row:
    return await relationships.update_opportunity(
        ctx, opportunity_id, body.model_dump(exclude_unset=True), if_match=if_match
    )


@router.delete(
    "/{opportunity_id}",
    summary="Archive an opportunity (hidden from lists unless archived=true)",
    response_model=OpportunityRead,
)
async def archive_opportunity(
    opportunity_id: UUID, ctx: Annotated[Context, require("opportunities:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, OPPORTUNITY, opportunity_id, if_match=if_match)
