"""Quotes for a customer: lines and totals; a decided quote is final."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.service_records import QuoteCreate, QuoteFilters, QuoteRead, QuoteUpdate
from app.services.context import Context
from app.services.customers import records
from app.services.customers.service_records import QUOTE

router = APIRouter(prefix="/v1/quotes", tags=["Quotes"], route_class=CrmRoute)
QuotesSort = sort_enum("QuotesSort", "created_at")


@router.post("", status_code=201, summary="Create a quote", response_model=QuoteRead)
async def create_quote(body: QuoteCreate, ctx: Annotated[Context, require_idempotent("quotes:write")]) -> Answer:
    row = await records.create(ctx, QUOTE, body.model_dump())
    return Answer(row, location=f"/v1/quotes/{row['id']}")


@router.get("", summary="List quotes", response_model=Page[QuoteRead])
async def list_quotes(
    ctx: Annotated[Context, require("quotes:read")],
    page: Annotated[Paging, paging(QuotesSort)],
    filters: Annotated[QuoteFilters, Query()],
) -> RowPage:
    return await records.list_records(
        ctx, QUOTE, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get("/{quote_id}", summary="Get a quote", response_model=QuoteRead, openapi_extra={"x-conditional": True})
async def get_quote(quote_id: UUID, ctx: Annotated[Context, require("quotes:read")]) -> Row:
    return await records.get(ctx, QUOTE, quote_id)


@router.patch("/{quote_id}", summary="Update a quote", response_model=QuoteRead)
async def update_quote(
    quote_id: UUID, body: QuoteUpdate, ctx: Annotated[Context, require("quotes:write")], if_match: IfMatch = None
) -> Row:
    _, row = await records.update(ctx, QUOTE, quote_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return row


@router.delete(
    "/{quote_id}", summary="Archive a quote (hidden from lists unless archived=true)", response_model=QuoteRead
)
async def archive_quote(
    quote_id: UUID, ctx: Annotated[Context, require("quotes:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, QUOTE, quote_id, if_match=if_match)
