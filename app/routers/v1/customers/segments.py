"""Saved segments: named filters of the contacts list, with their current count."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.routers.dependencies import (
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
from app.schemas.common import Page
from app.schemas.customers.relationships import ContactRead
from app.schemas.customers.segments import SegmentCreate, SegmentRead, SegmentUpdate
from app.services.context import Context
from app.services.customers import records, segments
from app.services.customers.segments import SEGMENT

router = APIRouter(prefix="/segments", tags=["Segments"], route_class=CrmRoute)
SegmentSort = sort_enum("SegmentSort", "created_at")
MemberSort = sort_enum("SegmentContactSort", "created_at", "last_order_at")


@router.post("", status_code=201, summary="Save a segment (a named contacts filter)", response_model=SegmentRead)
async def create_segment(
    request: Request, body: SegmentCreate, ctx: Annotated[Context, require_idempotent("contacts:write")]
) -> Response:
    row = await records.create(ctx, SEGMENT, body.model_dump())
    read = SegmentRead.model_validate({**row, "count": await segments.count(ctx, row)})
    return resource_response(request, read, status_code=201, location=f"/v1/segments/{row['id']}")


@router.get("", summary="List saved segments (without counts)", response_model=Page[SegmentRead])
async def list_segments(
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(SegmentSort)],
    archived: bool = False,
) -> Response:
    result = await records.list_records(
        ctx, SEGMENT, sort=page.sort, cursor=page.cursor, limit=page.limit, archived=archived
    )
    return page_response(SegmentRead, result.rows, result.next_cursor)


@router.get(
    "/{segment_id}",
    summary="Get a segment with how many contacts match it now",
    response_model=SegmentRead,
    openapi_extra={"x-conditional": True},
)
async def get_segment(
    request: Request, segment_id: UUID, ctx: Annotated[Context, require("contacts:read")]
) -> Response:
    row = await records.get(ctx, SEGMENT, segment_id)
    read = SegmentRead.model_validate({**row, "count": await segments.count(ctx, row)})
    return resource_response(request, read)


@router.get(
    "/{segment_id}/contacts",
    summary="The contacts a segment matches now (the contacts list with its filters)",
    response_model=Page[ContactRead],
)
async def list_segment_contacts(
    segment_id: UUID,
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(MemberSort)],
) -> Response:
    result = await segments.contacts(ctx, segment_id, sort=page.sort, cursor=page.cursor, limit=page.limit)
    return page_response(ContactRead, result.rows, result.next_cursor)


@router.patch("/{segment_id}", summary="Rename a segment or change its filters", response_model=SegmentRead)
async def update_segment(
    request: Request,
    segment_id: UUID,
    body: SegmentUpdate,
    ctx: Annotated[Context, require("contacts:write")],
    if_match: IfMatch = None,
) -> Response:
    _, row = await records.update(ctx, SEGMENT, segment_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return resource_response(request, SegmentRead.model_validate(row))


@router.delete("/{segment_id}", summary="Archive a segment", response_model=SegmentRead)
async def archive_segment(
    request: Request, segment_id: UUID, ctx: Annotated[Context, require("contacts:write")], if_match: IfMatch = None
) -> Response:
    row = await records.archive(ctx, SEGMENT, segment_id, if_match=if_match)
    return resource_response(request, SegmentRead.model_validate(row))
