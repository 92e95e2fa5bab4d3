"""The columns of the customers context's core rows, as repositories return them: `AccountRow`,
`ContactRow`, `OpportunityRow`, `OrderRow`. One key per column of app/db/tables.py with its Python
type (a nullable column's may be None; a JSON column's is Any); tests/unit/test_rows.py keeps them
equal to the tables. Types only: at run time a row is the dict the database answered."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict
from uuid import UUID


class AccountRow(TypedDict):
    """A row of `accounts`."""

    workspace_id: UUID
    id: UUID
    name: str
    domain: str | None
    industry: str | None
    company_size: str | None
    country: str | None
    province: str | None
    city: str | None
    owner_id: UUID | None
    tags: Any
    lead_id: UUID | None
    archived_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str


class ContactRow(TypedDict):
    """A row of `contacts`."""

    workspace_id: UUID
    id: UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    email_key: str | None
    phone: str | None
    phone_e164: str | None
    phone_valid: bool
    job_title: str | None
    account_id: UUID | None
    owner_id: UUID | None
    tags: Any
    interests: Any
    country: str | None
    province: str | None
    city: str | None
    timezone: str | None
    lead_id: UUID | None
    archived_at: datetime | None
    acquisition_channel: str | None
    acquired_at: datetime | None
    customer_since: datetime | None
    orders_count: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    revenue_minor: int
    refunded_minor: int
    average_order_value_minor: int | None
    revenue_by_currency: Any
    unconverted_orders: int
    reporting_currency: str | None
    active_until: datetime | None
    import_id: UUID | None
    loyalty_points: int
    addresses: Any
    referred_by_contact_id: UUID | None
    referrals_count: int
    erased_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str


class OpportunityRow(TypedDict):
    """A row of `opportunities`."""

    workspace_id: UUID
    id: UUID
    name: str
    account_id: UUID | None
    contact_id: UUID | None
    owner_id: UUID | None
    amount_minor: int | None
    currency: str
    stage: str
    probability: int
    expected_close_date: date | None
    type: str
    close_reason: str | None
    closed_at: datetime | None
    lead_id: UUID | None
    archived_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str


class OrderRow(TypedDict):
    """A row of `orders`."""

    workspace_id: UUID
    id: UUID
    source: str
    external_id: str
    contact_id: UUID | None
    customer: Any
    status: str
    currency: str
    subtotal_minor: int | None
    discount_minor: int
    tax_minor: int
    shipping_minor: int
    total_minor: int
    refunded_minor: int
    cost_minor: int | None
    reporting_currency: str
    reporting_total_minor: int | None
    reporting_refunded_minor: int | None
    exchange_rate: str | None
    conversion: str
    placed_at: datetime
    placed_on: date
    source_updated_at: datetime
    coupon: str | None
    sales_channel: str | None
    line_items: Any
    content_hash: str
    notes: str | None
    import_id: UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str
