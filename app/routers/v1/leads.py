from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.domain.leads.lifecycle import LeadStatus, Source
from app.routers.dependencies import (
    JSON,
    IfMatch,
    Paging,
    page_response,
    paging,
    require,
    require_idempotent,
    resource_response,
    sort_enum,
)
from app.routers.route import CrmRoute
from app.schemas.common import Country, Page
from app.schemas.leads import BatchResult, LeadBatch, LeadCreate, LeadRead, LeadUpdate
from app.services import leads
from app.services.context import Context

router = APIRouter(prefix="/leads", tags=["Leads"], route_class=CrmRoute)
LeadSort = sort_enum("LeadSort", "created_at", "updated_at")
BATCH_BODY_LIMIT = 5 * 1024 * 1024


@router.post("", status_code=201, summary="Create a lead", response_model=LeadRead)
async def create_lead(
    request: Request, body: LeadCreate, ctx: Annotated[Context, require_idempotent("leads:write")]
) -> Response:
    row = await leads.create(ctx, body.model_dump())
    return resource_response(request, LeadRead.model_validate(row), status_code=201, location=f"/v1/leads/{row['id']}")


@router.post(
    "/batch",
    summary="Create or update up to 500 leads (matched by external_id); per-item results",
    response_model=BatchResult,
    openapi_extra={"x-max-body-bytes": BATCH_BODY_LIMIT},
)
async def batch_leads(body: LeadBatch, ctx: Annotated[Context, require_idempotent("leads:write")]) -> Response:
    results = await leads.batch_upsert(ctx, body.leads)
    return Response(BatchResult.model_validate({"results": results}).model_dump_json(), media_type=JSON)


@router.get(
    "",
    summary="List leads",
    description="Filter by custom fields with `cf.<key>=<value>` (equality, typed by the field's definition).",
    response_model=Page[LeadRead],
)
async def list_leads(
    request: Request,
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(LeadSort)],
    q: Annotated[str | None, Query(max_length=200, description="Name, email, company or phone; Persian-aware")] = None,
    status: Annotated[LeadStatus | None, Query()] = None,
    source: Annotated[Source | None, Query()] = None,
    owner_id: Annotated[UUID | None, Query()] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    country: Annotated[Country | None, Query()] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    created_before: Annotated[datetime | None, Query()] = None,
    updated_after: Annotated[datetime | None, Query()] = None,
    updated_before: Annotated[datetime | None, Query()] = None,
    archived: Annotated[bool, Query(description="true: only archived leads")] = False,
) -> Response:
    custom = {k[3:]: v for k, v in request.query_params.items() if k.startswith("cf.") and len(k) > 3}
    result = await leads.list_leads(
        ctx,
        sort=page.sort,
        cursor=page.cursor,
        limit=page.limit,
        q=q,
        custom_filters=custom,
        archived=archived,
        status=status,
        source=source,
        owner_id=owner_id,
        tag=tag,
        country=country,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        updated_before=updated_before,
    )
    return page_response(LeadRead, result.rows, result.next_cursor)


@router.get("/{lead_id}", summary="Get a lead", response_model=LeadRead, openapi_extra={"x-conditional": True})
async def get_lead(request: Request, lead_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> Response:
    return resource_response(request, LeadRead.model_validate(await leads.get(ctx, lead_id)))


@router.patch("/{lead_id}", summary="Update a lead", response_model=LeadRead)
async def update_lead(
    request: Request,
    lead_id: UUID,
    body: LeadUpdate,
    ctx: Annotated[Context, require("leads:write")],
    if_match: IfMatch = None,
) -> Response:
    row = await leads.update(ctx, lead_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return resource_response(request, LeadRead.model_validate(row))


@router.delete("/{lead_id}", summary="Archive a lead (hidden from lists unless archived=true)", response_model=LeadRead)
async def archive_lead(
    request: Request, lead_id: UUID, ctx: Annotated[Context, require("leads:write")], if_match: IfMatch = None
) -> Response:
    row = await leads.archive(ctx, lead_id, if_match=if_match)
    return resource_response(request, LeadRead.model_validate(row))
