"""Orders, refunds, customers (shop side), products and exchange rates on the wire."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from app.domain.customers.orders import OrderStatus
from app.domain.money import from_minor
from app.schemas.common import Actor, BatchRequest, Country, Currency, RequestModel, ResourceRead, UtcDatetime

Money = Annotated[
    str,
    Field(
        pattern=r"^\d{1,15}(\.\d{1,4})?$",
        description="A decimal string in the order's currency, never a JSON number; at most the currency's decimals",
        examples=["129.90"],
    ),
]
Source = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="The shop platform or system: shopify, woocommerce, magento, prestashop, custom …",
        examples=["shopify"],
    ),
]
ExternalId = Annotated[str, Field(min_length=1, max_length=255, examples=["450789469"])]
Text200 = Annotated[str, Field(max_length=200)]
Text500 = Annotated[str, Field(max_length=500)]


class Address(RequestModel):
    type: Literal["billing", "shipping"] = "shipping"
    country: Country | None = None
    province: Text200 | None = None
    city: Text200 | None = None
    postal_code: Annotated[str, Field(max_length=32)] | None = None
    line1: Text500 | None = None
    line2: Text500 | None = None


class CustomerIn(RequestModel):
    """The shop's customer. `external_id` is the shop's customer id (absent for guest checkouts)."""

    external_id: ExternalId | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    phone: Annotated[str, Field(max_length=64)] | None = None
    first_name: Text200 | None = None
    last_name: Text200 | None = None
    addresses: list[Address] = Field(default_factory=list, max_length=20)


class CustomerSync(CustomerIn):
    """An item of `POST /v1/customers/batch`."""

    source: Source


class LineItem(RequestModel):
    sku: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    name: Text500 | None = None
    category: Text200 | None = None
    quantity: int = Field(ge=0, le=1_000_000)
    unit_price: Money
    total: Money | None = Field(default=None, description="Defaults to quantity x unit_price")


class RefundIn(RequestModel):
    external_id: ExternalId = Field(description="The shop's refund id: a refund is recorded once per source and id")
    amount: Money
    reason: Text500 | None = None
    refunded_at: UtcDatetime


class OrderIn(RequestModel):
    """An item of `POST /v1/orders/batch`: an order as the shop has it now."""

    source: Source
    external_id: ExternalId
    customer: CustomerIn | None = None
    status: OrderStatus
    currency: Currency
    subtotal: Money | None = None
    discount: Money = "0"
    tax: Money = "0"
    shipping: Money = "0"
    total: Money
    refunded_total: Money = Field(
        default="0", description="Refunded so far; the order's refunded amount is the larger of this and its refunds"
    )
    cost: Money | None = Field(default=None, description="What the goods cost you (margin for CLV)")
    reporting_total: Money | None = Field(
        default=None,
        description="The shop's own amount in the workspace currency (e.g. Shopify's shop money); used instead "
        "of an exchange rate when `reporting_currency` is the workspace's",
    )
    reporting_currency: Currency | None = None
    placed_at: UtcDatetime
    source_updated_at: UtcDatetime = Field(description="The shop's own update time: the newer one wins")
    coupon: Annotated[str, Field(max_length=100)] | None = None
    sales_channel: Annotated[str, Field(max_length=100)] | None = None
    line_items: list[LineItem] = Field(default_factory=list, max_length=1000)
    refunds: list[RefundIn] = Field(default_factory=list, max_length=200)

    @field_validator("placed_at", "source_updated_at")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. Z)")
        return value


# Each item is validated as an OrderIn of its own (one bad order is that order's error): as
# objects here, so the envelope's own check does not copy every order's fields once more.
_OBJECTS = {"type": "array", "items": {"type": "object", "additionalProperties": True}, "minItems": 1, "maxItems": 1000}


class OrderBatch(BatchRequest):
    orders: Annotated[list[Any], WithJsonSchema(_OBJECTS)] = Field(
        min_length=1,
        max_length=1000,
        description="Up to 1,000 orders (each an OrderIn), upserted by (source, external_id)",
    )


class ValidOrderBatch(BaseModel):
    """OrderBatch with every order valid, validated whole from the body's text (the batch route's
    fast path, app/routers/route.py `prevalidated`); not part of the API's document."""

    model_config = ConfigDict(extra="forbid")

    orders: list[OrderIn] = Field(min_length=1, max_length=1000)


class CustomerBatch(BatchRequest):
    customers: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Up to 1,000 customers (each a CustomerSync)"
    )


class OrderUpdate(RequestModel):
    """Changes made in the CRM. The shop's next newer sync of the order replaces the shop's fields."""

    status: OrderStatus | None = None
    cost: Money | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None


class LineItemRead(BaseModel):
    sku: str | None
    product_id: UUID | None
    name: str | None
    category: str | None
    quantity: int
    unit_price: str
    total: str


class OrderRead(ResourceRead):
    id: UUID
    source: str
    external_id: str
    contact_id: UUID | None
    customer: dict[str, Any] | None
    status: OrderStatus
    currency: str
    subtotal: str | None
    discount: str
    tax: str
    shipping: str
    total: str
    refunded_total: str
    net_total: str = Field(description="total - refunded_total")
    cost: str | None
    reporting_currency: str
    reporting_total: str | None = Field(description="null while no exchange rate converts the order")
    reporting_refunded_total: str | None
    exchange_rate: str | None = Field(description="Reporting units per order unit, when converted with a rate")
    conversion: Literal["same", "converted", "missing"]
    placed_at: UtcDatetime
    placed_on: date = Field(description="placed_at's date in the workspace's time zone")
    source_updated_at: UtcDatetime
    coupon: str | None
    sales_channel: str | None
    line_items: list[LineItemRead]
    notes: str | None
    created_by: Actor
    updated_by: Actor


class RefundCreate(RefundIn):
    pass


class RefundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    order_id: UUID
    source: str
    external_id: str
    amount: str
    currency: str
    reason: str | None
    refunded_at: UtcDatetime
    created_at: UtcDatetime


class ProductCreate(RequestModel):
    sku: Annotated[str, Field(min_length=1, max_length=255)]
    name: Text500 | None = None
    category: Text200 | None = None
    price: Money | None = None
    currency: Currency | None = Field(default=None, description="Of the price; defaults to the workspace's")


class ProductUpdate(RequestModel):
    name: Text500 | None = None
    category: Text200 | None = None
    price: Money | None = None
    currency: Currency | None = None


class ProductRead(ResourceRead):
    id: UUID
    sku: str
    name: str | None
    category: str | None
    price: str | None
    currency: str | None
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor

    @model_validator(mode="before")
    @classmethod
    def _price(cls, data: Any) -> Any:
        if isinstance(data, dict) and "price_minor" in data:
            data = dict(data)
            minor, currency = data.pop("price_minor"), data.get("currency")
            data["price"] = from_minor(minor, currency) if minor is not None and currency else None
        return data


class ExchangeRateCreate(RequestModel):
    currency: Currency = Field(description="The order currency converted from")
    rate: Annotated[str, Field(pattern=r"^\d{1,12}(\.\d{1,12})?$", examples=["0.92"])] = Field(
        description="Units of the workspace's reporting currency per unit of `currency`, as a decimal string"
    )
    effective_on: date = Field(description="The date the rate is for (orders placed on that local date)")

    @field_validator("rate")
    @classmethod
    def _positive(cls, value: str) -> str:
        if float(value) <= 0:
            raise ValueError("must be greater than 0")
        return value


class ExchangeRateRead(ResourceRead):
    id: UUID
    currency: str
    quote_currency: str = Field(description="The reporting currency the rate converts into")
    rate: str
    effective_on: date
    created_by: Actor
    updated_by: Actor


class ExchangeRateResult(ExchangeRateRead):
    orders_converted: int = Field(description="Orders waiting for this rate that it converted now")


class CustomerConverted(BaseModel):
    """A contact's first purchase (`customer.converted`), linking where they came from."""

    contact_id: UUID
    lead_id: UUID | None = Field(description="The originating lead (qualified, or converted by this purchase)")
    opportunity_id: UUID | None = Field(description="The originating lead's opportunity, if it had one")
    order_id: UUID = Field(description="The first purchase")
    converted_at: UtcDatetime = Field(description="When the first purchase was placed")
    acquisition_channel: str | None
