"""The products report's answer."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.reports.products import DEFAULT_LIMIT, MAX_LIMIT, Group, Sort
from app.schemas.reports.common import PeriodRead, ReportQuery

MONEY = "A decimal string in the workspace's reporting currency"


class CategoryFigures(BaseModel):
    category: str | None = Field(description="The product's catalogue category, else the order line's (null: none)")
    units: int = Field(description="Units sold (line quantities) in purchases placed in the range")
    revenue: str = Field(
        description=f"{MONEY}: the lines' totals at their order's rate, less their share of its refunds",
        examples=["1250.00"],
    )
    margin: str | None = Field(
        description=f"{MONEY}: revenue less cost, the orders' goods cost shared over their lines by their totals; "
        "null when some order of it has no cost"
    )
    customers: int = Field(description="Distinct customers (orders with a known buyer)")
    repeat_rate: float | None = Field(
        description="Customers who bought it in two or more distinct orders of the range, over its customers "
        "(null: no customers)"
    )


class ProductFigures(CategoryFigures):
    sku: str | None = Field(description="The product's SKU (null: the lines without one, together)")
    name: str | None


class ProductPeriod(PeriodRead):
    model_config = ConfigDict(extra="forbid")

    units: int
    revenue: str = Field(description=MONEY)
    margin: str | None = Field(description=f"{MONEY}: the period's revenue less cost (null: an order without cost)")
    customers: int = Field(description="Distinct customers who bought in the period")
    repeat_rate: float | None = Field(
        description="Of them, those with two or more distinct orders in the period (null: no customers)"
    )


class ProductsReport(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    interval: str
    currency: str = Field(description="The reporting currency the amounts are in")
    group: Literal["product", "category"] | None = Field(description="The only list computed (null: both)")
    category: str | None = Field(description="The category the report is limited to (null: all)")
    sort: Literal["revenue", "units", "customers", "margin"]
    unconverted_orders: int = Field(
        description="Purchases in the range left out of revenue and margin until an exchange rate converts them"
    )
    products: list[ProductFigures] = Field(description="The first `limit` products by `sort`")
    categories: list[CategoryFigures] = Field(description="The first `limit` categories by `sort`")
    periods: list[ProductPeriod] = Field(description="Units and revenue of all products (of `category`) per period")

    # `from` is a Python keyword: the field is from_, answered as `from`.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ProductsParams(ReportQuery):
    """`GET /v1/reports/products`'s parameters as a scheduled digest stores them: `interval`,
    `group`, `category`, `sort` and `limit`; the leads' filters do not apply."""

    group: Group | None = Field(default=None, description="Only this list (the other empty); default both")
    category: str | None = Field(default=None, min_length=1, max_length=200, description="Only its products")
    sort: Sort = Field(default="revenue", description="What ranks the products and categories (descending)")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="How many products and categories")
    owner_id: None = Field(default=None, description="Not a filter of this report")
    team_id: None = Field(default=None, description="Not a filter of this report")
    source: None = Field(default=None, description="Not a filter of this report")
    form_id: None = Field(default=None, description="Not a filter of this report")
    utm_campaign: None = Field(default=None, description="Not a filter of this report")
    campaign_id: None = Field(default=None, description="Not a filter of this report")
