"""Invoices to a customer, paid by payments (its status follows them)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.service_records import InvoiceCreate, InvoiceFilters, InvoiceRead, InvoiceUpdate
from app.services.context import Context
from app.services.customers import records, service_records
from app.services.customers.service_records import INVOICE

router = APIRouter(prefix="/v1/invoices", tags=["Invoices"], route_class=CrmRoute)
InvoicesSort = sort_enum("InvoicesSort", "created_at")


@router.post("", status_code=201, summary="Create an invoice", response_model=InvoiceRead)
async def create_invoice(body: InvoiceCreate, ctx: Annotated[Context, require_idempotent("invoices:write")]) -> Answer:
    row = await records.create(ctx, INVOICE, body.model_dump())
    return Answer(row, location=f"/v1/invoices/{row['id']}")


@router.get("", summary="List invoices", response_model=Page[InvoiceRead])
async def list_invoices(
    ctx: Annotated[Context, require("invoices:read")],
    page: Annotated[Paging, paging(InvoicesSort)],
    filters: Annotated[InvoiceFilters, Query()],
) -> RowPage:
    return await service_records.list_invoices(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get(
    "/{invoice_id}", summary="Get an invoice", response_model=InvoiceRead, openapi_extra={"x-conditional": True}
)
async def get_invoice(invoice_id: UUID, ctx: Annotated[Context, require("invoices:read")]) -> Row:
    return await records.get(ctx, INVOICE, invoice_id)


@router.patch("/{invoice_id}", summary="Update an invoice", response_model=InvoiceRead)
async def update_invoice(
    invoice_id: UUID, body: InvoiceUpdate, ctx: Annotated[Context, require("invoices:write")], if_match: IfMatch = None
) -> Row:
    _, row = await records.update(ctx, INVOICE, invoice_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return row


@router.delete(
    "/{invoice_id}", summary="Archive an invoice (hidden from lists unless archived=true)", response_model=InvoiceRead
)
async def archive_invoice(
    invoice_id: UUID, ctx: Annotated[Context, require("invoices:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, INVOICE, invoice_id, if_match=if_match)
