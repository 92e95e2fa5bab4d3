"""Payments against invoices: voided, never archived."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.service_records import PaymentCreate, PaymentFilters, PaymentRead, PaymentUpdate
from app.services.context import Context
from app.services.customers import records, service_records
from app.services.customers.service_records import PAYMENT

router = APIRouter(prefix="/v1/payments", tags=["Payments"], route_class=CrmRoute)
PaymentsSort = sort_enum("PaymentsSort", "created_at")


@router.post("", status_code=201, summary="Create a payment", response_model=PaymentRead)
async def create_payment(body: PaymentCreate, ctx: Annotated[Context, require_idempotent("payments:write")]) -> Answer:
    row = await service_records.create_payment(ctx, body.model_dump())
    return Answer(row, location=f"/v1/payments/{row['id']}")


@router.get("", summary="List payments", response_model=Page[PaymentRead])
async def list_payments(
    ctx: Annotated[Context, require("payments:read")],
    page: Annotated[Paging, paging(PaymentsSort)],
    filters: Annotated[PaymentFilters, Query()],
) -> RowPage:
    return await records.list_records(
        ctx, PAYMENT, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get("/{payment_id}", summary="Get a payment", response_model=PaymentRead, openapi_extra={"x-conditional": True})
async def get_payment(payment_id: UUID, ctx: Annotated[Context, require("payments:read")]) -> Row:
    return await records.get(ctx, PAYMENT, payment_id)


@router.patch("/{payment_id}", summary="Update a payment", response_model=PaymentRead)
async def update_payment(
    payment_id: UUID, body: PaymentUpdate, ctx: Annotated[Context, require("payments:write")], if_match: IfMatch = None
) -> Row:
    _, row = await records.update(ctx, PAYMENT, payment_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return row


@router.delete(
    "/{payment_id}",
    summary="Void a payment: its amount no longer counts as paid (the invoice's status follows)",
    response_model=PaymentRead,
)
async def void_payment(
    payment_id: UUID, ctx: Annotated[Context, require("payments:write")], if_match: IfMatch = None
) -> Row:
    return await service_records.void_payment(ctx, payment_id, if_match=if_match)
