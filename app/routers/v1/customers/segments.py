"""Saved segments: named filters of the contacts list, with their current count."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.relationships import ContactRead
from app.schemas.customers.segments import SegmentCreate, SegmentRead, SegmentUpdate
from app.services.context import Context
from app.services.customers import records, segments
from app.services.customers.segments import SEGMENT

router = APIRouter(prefix="/v1/segments", tags=["Segments"], route_class=CrmRoute)
SegmentSort = sort_enum("SegmentSort", "created_at")
MemberSort = sort_enum("SegmentContactSort", "created_at", "last_order_at")


@router.post("", status_code=201, summary="Save a segment (a named contacts filter)", response_model=SegmentRead)
async def create_segment(body: SegmentCreate, ctx: Annotated[Context, require_idempotent("contacts:write")]) -> Answer:
    row = await records.create(ctx, SEGMENT, body.model_dump())
    return Answer({**row, "count": await segments.count(ctx, row)}, location=f"/v1/segments/{row['id']}")


@router.get("", summary="List saved segments (without counts)", response_model=Page[SegmentRead])
async def list_segments(
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(SegmentSort)],
    archived: bool = False,
) -> RowPage:
    return await records.list_records(
        ctx, SEGMENT, sort=page.sort, cursor=page.cursor, limit=page.limit, archived=archived
    )


@router.get(
    "/{segment_id}",
    summary="Get a segment with how many contacts match it now",
    response_model=SegmentRead,
    openapi_extra={"x-conditional": True},
)
async def get_segment(segment_id: UUID, ctx: Annotated[Context, require("contacts:read")]) -> Row:
    row = await records.get(ctx, SEGMENT, segment_id)
    return {**row, "count": await segments.count(ctx, row)}


@router.get(
    "/{segment_id}/contacts",
    summary="The contacts a segment matches now (the contacts list with its filters)",
    response_model=Page[ContactRead],
)
async def list_segment_contacts(
    segment_id: UUID,
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(MemberSort)],
) -> RowPage:
    return await segments.contacts(ctx, segment_id, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.patch("/{segment_id}", summary="Rename a segment or change its filters", response_model=SegmentRead)
async def update_segment(
    segment_id: UUID, body: SegmentUpdate, ctx: Annotated[Context, require("contacts:write")], if_match: IfMatch = None
) -> Row:
    _, row = await records.update(ctx, SEGMENT, segment_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return row


@router.delete("/{segment_id}", summary="Archive a segment", response_model=SegmentRead)
async def archive_segment(
    segment_id: UUID, ctx: Annotated[Context, require("contacts:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, SEGMENT, segment_id, if_match=if_match)
