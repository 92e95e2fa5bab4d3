"""Orders synced from shops, their refunds, shop customers and exchange rates."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.domain.customers.orders import OrderFilters, OrderStatus
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute, prevalidated
from app.schemas.common import Currency, Page
from app.schemas.customers.orders import (
    CustomerBatch,
    ExchangeRateCreate,
    ExchangeRateRead,
    ExchangeRateResult,
    OrderBatch,
    OrderRead,
    OrderUpdate,
    RefundCreate,
    RefundRead,
    ValidOrderBatch,
)
from app.schemas.leads.leads import BatchResult
from app.services.context import Context
from app.services.customers import exchange_rates, orders
from app.services.customers import shop_customers as customers

router = APIRouter(prefix="/v1/orders", tags=["Orders"], route_class=CrmRoute)
customer_router = APIRouter(prefix="/v1/customers", tags=["Customers"], route_class=CrmRoute)
rates_router = APIRouter(prefix="/v1/exchange-rates", tags=["Exchange rates"], route_class=CrmRoute)
OrderSort = sort_enum("OrderSort", "placed_at", "created_at")
RateSort = sort_enum("ExchangeRateSort", "effective_on", "created_at")
BATCH_BODY_LIMIT = 16 * 1024 * 1024


@router.post(
    "/batch",
    summary="Create or update up to 1,000 orders (by source and external_id); per-item results",
    description="The shop's `source_updated_at` decides: newer wins, equal with other content updates, older is "
    "`unchanged` with `reason: stale`, an identical resend is `unchanged` (`reason: identical`) and emits nothing. "
    "Customers are matched to contacts (shop id, then email, then phone) or created.",
    response_model=BatchResult,
    openapi_extra={"x-max-body-bytes": BATCH_BODY_LIMIT},
)
@prevalidated(ValidOrderBatch)
async def sync_orders(body: OrderBatch, ctx: Annotated[Context, require_idempotent("orders:write")]) -> BatchResult:
    return BatchResult.model_validate({"results": await orders.sync(ctx, body.orders)})


class OrderQuery(BaseModel):
    """The orders list's query parameters (shared by the CSV export)."""

    contact_id: UUID | None = Field(default=None, description="The customer")
    status: OrderStatus | None = None
    source: str | None = Field(default=None, max_length=32)
    currency: Currency | None = None
    conversion: Literal["same", "converted", "missing"] | None = Field(
        default=None, description="missing: orders waiting for an exchange rate"
    )
    placed_after: datetime | None = Field(default=None, description="Placed at or after")
    placed_before: datetime | None = Field(default=None, description="Placed before")
    import_id: UUID | None = Field(default=None, description="Created by this CSV import")


@router.get("", summary="List orders", response_model=Page[OrderRead])
async def list_orders(
    ctx: Annotated[Context, require("orders:read")],
    page: Annotated[Paging, paging(OrderSort, "-placed_at")],
    filters: Annotated[OrderQuery, Query()],
) -> RowPage:
    asked = OrderFilters(**filters.model_dump())
    result = await orders.list_orders(ctx, asked, sort=page.sort, cursor=page.cursor, limit=page.limit)
    return RowPage([orders.view(r) for r in result.rows], result.next_cursor)


@router.get("/{order_id}", summary="Get an order", response_model=OrderRead, openapi_extra={"x-conditional": True})
async def get_order(order_id: UUID, ctx: Annotated[Context, require("orders:read")]) -> Row:
    return orders.view(await orders.get(ctx, order_id))


@router.patch("/{order_id}", summary="Change an order in the CRM (status, cost, notes)", response_model=OrderRead)
async def update_order(
    order_id: UUID, body: OrderUpdate, ctx: Annotated[Context, require("orders:write")], if_match: IfMatch = None
) -> Row:
    return orders.view(await orders.update(ctx, order_id, body.model_dump(exclude_unset=True), if_match=if_match))


@router.post(
    "/{order_id}/refunds",
    status_code=201,
    summary="Record a refund (once per source and refund id; 200 with the stored one when it is known)",
    response_model=RefundRead,
    responses={200: {"description": "The refund was recorded before", "model": RefundRead}},
)
async def add_order_refund(
    order_id: UUID,
    body: RefundCreate,
    ctx: Annotated[Context, require_idempotent("orders:write")],
    if_match: IfMatch = None,
) -> Answer:
    row, created = await orders.add_refund(ctx, order_id, body, if_match=if_match)
    return Answer(
        orders.refund_view(row), status_code=201 if created else 200, location=f"/v1/orders/{order_id}/refunds"
    )


class RefundList(BaseModel):
    data: list[RefundRead]


@router.get("/{order_id}/refunds", summary="An order's refunds, oldest first", response_model=RefundList)
async def list_order_refunds(order_id: UUID, ctx: Annotated[Context, require("orders:read")]) -> RefundList:
    return RefundList.model_validate({"data": [orders.refund_view(r) for r in await orders.refunds(ctx, order_id)]})


@customer_router.post(
    "/batch",
    summary="Create or update up to 1,000 shop customers (contacts matched by shop id, email, then phone)",
    description="Each item names its `source` and the shop's customer `external_id` (absent for guest "
    "checkouts). A matched contact keeps what was typed in the CRM; the shop fills its empty fields.",
    response_model=BatchResult,
    openapi_extra={"x-max-body-bytes": BATCH_BODY_LIMIT},
)
async def sync_customers(
    body: CustomerBatch, ctx: Annotated[Context, require_idempotent("contacts:write")]
) -> BatchResult:
    return BatchResult.model_validate({"results": await customers.batch_upsert(ctx, body.customers)})


class RateFilters(BaseModel):
    currency: Currency | None = None
    effective_after: date | None = Field(default=None, description="On or after")
    effective_before: date | None = Field(default=None, description="Before")


@rates_router.post(
    "",
    summary="Set the rate of a currency for a date (converts the orders waiting for it)",
    description="Creates the rate, or replaces the rate stored for the same currency and date (200). Orders in "
    "that currency placed on that date (or up to `exchange_rate_max_age_days` later) that could not be converted "
    "are converted now.",
    status_code=201,
    response_model=ExchangeRateResult,
    responses={200: {"description": "The date's rate was replaced", "model": ExchangeRateResult}},
)
async def set_exchange_rate(
    body: ExchangeRateCreate, ctx: Annotated[Context, require_idempotent("exchange_rates:write")]
) -> Answer:
    row, created, converted = await exchange_rates.set_rate(ctx, body.model_dump())
    return Answer({**row, "orders_converted": converted}, status_code=201 if created else 200,
                  location=f"/v1/exchange-rates/{row['id']}")  # fmt: skip


@rates_router.get("", summary="List exchange rates", response_model=Page[ExchangeRateRead])
async def list_exchange_rates(
    ctx: Annotated[Context, require("exchange_rates:read")],
    page: Annotated[Paging, paging(RateSort, "-effective_on")],
    filters: Annotated[RateFilters, Query()],
) -> RowPage:
    return await exchange_rates.list_rates(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit,
                                           **filters.model_dump())  # fmt: skip


@rates_router.get(
    "/{rate_id}", summary="Get an exchange rate", response_model=ExchangeRateRead,
    openapi_extra={"x-conditional": True},
)  # fmt: skip
async def get_exchange_rate(rate_id: UUID, ctx: Annotated[Context, require("exchange_rates:read")]) -> Row:
    return await exchange_rates.get(ctx, rate_id)
