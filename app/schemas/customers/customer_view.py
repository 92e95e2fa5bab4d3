"""The customer 360 view on the wire."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.domain.customers.customer_view import SECTIONS
from app.schemas.common import UtcDatetime
from app.schemas.customers.service_records import ContractRead, InvoiceRead, QuoteRead, TicketRead


class OrderSummary(BaseModel):
    count: int = Field(description="Purchases (paid, fulfilled, partially refunded)")
    revenue: str = Field(description="Net of refunds, in `currency` (the reporting currency)")
    refunded: str
    average_order_value: str | None
    currency: str
    customer_since: UtcDatetime | None
    first_order_at: UtcDatetime | None
    last_order_at: UtcDatetime | None


class TicketSummary(BaseModel):
    open: int = Field(description="Open or pending")
    total: int
    satisfaction_average: float | None = Field(description="1-5, over the rated tickets")
    satisfaction_count: int
    recent_open: list[TicketRead]


class ContractSummary(BaseModel):
    active: int
    active_value: dict[str, str] = Field(description="Per currency")
    ending_within_90_days: int
    renewals: list[ContractRead] = Field(description="Ending within 90 days, soonest first")


class QuoteSummary(BaseModel):
    open: int = Field(description="Draft or sent")
    open_total: dict[str, str] = Field(description="Per currency")
    recent_open: list[QuoteRead]


class InvoiceSummary(BaseModel):
    unpaid: int = Field(description="Open or partially paid")
    balance: dict[str, str] = Field(description="Still due, per currency")
    overdue: int = Field(description="Unpaid and past their due date")
    recent_unpaid: list[InvoiceRead]


class ValueAdded(BaseModel):
    count: int = Field(description="Won upsell and cross-sell opportunities")
    amount: dict[str, str] = Field(description="Per currency")


class Referrals(BaseModel):
    count: int
    referred_by_contact_id: Any = None
    recent: list[dict[str, Any]] = Field(description="The latest contacts it referred (id, names)")


class Customer360(BaseModel):
    """Each section shows only when the key holds its resource's read scope; a section left out is
    named in `withheld`, so a client can tell "none" from "not yours to see"."""

    kind: str = Field(description="contact | account")
    profile: dict[str, Any] | None = Field(default=None, description="The contact or account as GET returns it")
    orders: OrderSummary | None = Field(default=None, description="`orders:read`")
    loyalty_points: int | None = Field(default=None, description="`contacts:read` (accounts: `accounts:read`)")
    referrals: Referrals | None = Field(default=None, description="`contacts:read` (accounts: `accounts:read`)")
    tickets: TicketSummary | None = Field(default=None, description="`tickets:read`")
    contracts: ContractSummary | None = Field(default=None, description="`contracts:read`")
    quotes: QuoteSummary | None = Field(default=None, description="`quotes:read`")
    invoices: InvoiceSummary | None = Field(default=None, description="`invoices:read` (with their payments)")
    value_added_deals: ValueAdded | None = Field(default=None, description="`opportunities:read`")
    timeline: list[dict[str, Any]] | None = Field(
        default=None,
        description="The 10 latest entries (contacts; accounts: empty) of the kinds the key may read "
        "(engagements, activities: `leads:read`; tasks: `tasks:read`)",
    )
    withheld: list[str] = Field(
        default_factory=list,
        description="Sections left out because the key lacks their scope, in the view's order; "
        "`timeline.<kind>` for kinds of timeline entry left out",
        examples=[["orders", "tickets", "invoices", "timeline.task"]],
    )

    def to_json(self) -> str:
        """Withheld sections are left out of the document, not sent as null."""
        return self.model_dump_json(exclude={name for name in SECTIONS if getattr(self, name) is None})
