"""A customer's service and finance records on the wire: tickets, contracts, quotes, invoices and
payments. Money is a decimal string beside its currency (docs/conventions.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from app.domain.money import from_minor
from app.schemas.common import Actor, Currency, RequestModel, ResourceRead, Unset, UtcDatetime

Money = Annotated[str, Field(pattern=r"^\d{1,15}(\.\d{1,4})?$", examples=["1250.00"])]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
TicketStatus = Literal["open", "pending", "solved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Channel = Literal["email", "phone", "chat", "web", "social", "in_person", "other"]
BillingPeriod = Literal["monthly", "quarterly", "yearly", "one_time"]
RenewalStatus = Literal["none", "due", "renewed", "not_renewing"]
QuoteStatus = Literal["draft", "sent", "accepted", "declined", "expired"]
InvoiceStatus = Literal["draft", "open", "partially_paid", "paid", "void"]
PaymentMethod = Literal["card", "bank_transfer", "cash", "wallet", "other"]


def _money(row: Any, name: str) -> Any:
    """`<name>_minor` in the row's currency as the decimal string the API shows."""
    if isinstance(row, dict) and f"{name}_minor" in row and name not in row:
        value = row[f"{name}_minor"]
        row = {**row, name: from_minor(value, row["currency"]) if value is not None else None}
    return row


class Customer(RequestModel):
    contact_id: UUID | None = None
    account_id: UUID | None = None


# -- tickets -------------------------------------------------------------------------------------
class TicketCreate(Customer):
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[str, Field(max_length=10_000)] | None = None
    status: TicketStatus = "open"
    priority: Priority = "normal"
    channel: Channel = "email"
    assignee_id: UUID | None = None
    opened_at: UtcDatetime | None = Field(default=None, description="Defaults to now")
    first_response_at: UtcDatetime | None = None


class TicketUpdate(RequestModel):
    subject: Annotated[str, Field(min_length=1, max_length=300)] = Unset
    description: Annotated[str, Field(max_length=10_000)] | None = None
    status: TicketStatus = Unset
    priority: Priority = Unset
    channel: Channel = Unset
    assignee_id: UUID | None = None
    first_response_at: UtcDatetime | None = None
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="1-5, once solved or closed")
    satisfaction_comment: Annotated[str, Field(max_length=1000)] | None = None


class TicketRead(ResourceRead):
    id: UUID
    contact_id: UUID | None
    account_id: UUID | None
    subject: str
    description: str | None
    status: TicketStatus
    priority: Priority
    channel: Channel
    assignee_id: UUID | None
    opened_at: UtcDatetime
    first_response_at: UtcDatetime | None
    solved_at: UtcDatetime | None = Field(description="Set when it becomes solved; cleared when reopened")
    closed_at: UtcDatetime | None
    satisfaction: int | None
    satisfaction_comment: str | None
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor


class TicketFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived records")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    status: TicketStatus | None = None
    priority: Priority | None = None
    channel: Channel | None = None
    assignee_id: UUID | None = None


# -- contracts -----------------------------------------------------------------------------------
class ContractCreate(Customer):
    name: Text200
    start_on: date
    end_on: date | None = None
    value: Money | None = None
    currency: Currency | None = Field(default=None, description="Defaults to the workspace's")
    billing_period: BillingPeriod = "yearly"
    renewal_status: RenewalStatus = "none"
    auto_renew: bool = False

    @model_validator(mode="after")
    def _dates(self) -> ContractCreate:
        if self.end_on is not None and self.end_on < self.start_on:
            raise ValueError("end_on is before start_on")
        return self


class ContractUpdate(RequestModel):
    name: Text200 = Unset
    start_on: date = Unset
    end_on: date | None = None
    value: Money | None = None
    currency: Currency = Unset
    billing_period: BillingPeriod = Unset
    renewal_status: RenewalStatus = Unset
    auto_renew: bool = Unset


class ContractRead(ResourceRead):
    id: UUID
    contact_id: UUID | None
    account_id: UUID | None
    name: str
    start_on: date
    end_on: date | None
    value: str | None
    currency: str
    billing_period: BillingPeriod
    renewal_status: RenewalStatus
    auto_renew: bool
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor

    @model_validator(mode="before")
    @classmethod
    def _amounts(cls, row: Any) -> Any:
        return _money(row, "value")


class ContractFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived records")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    renewal_status: RenewalStatus | None = None
    ends_before: date | None = Field(default=None, description="Ending before this date (renewals coming up)")


# -- quotes --------------------------------------------------------------------------------------
class QuoteLine(RequestModel):
    sku: Annotated[str, Field(max_length=255)] | None = None
    name: Annotated[str, Field(max_length=500)] | None = None
    quantity: int = Field(ge=1, le=1_000_000)
    unit_price: Money
    discount: Money = "0"


class QuoteCreate(Customer):
    opportunity_id: UUID
    number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    currency: Currency | None = Field(default=None, description="Defaults to the opportunity's, else the workspace's")
    lines: list[QuoteLine] = Field(min_length=1, max_length=500)
    valid_until: date | None = None


class QuoteUpdate(RequestModel):
    number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    lines: list[QuoteLine] = Field(default=Unset, min_length=1, max_length=500)
    valid_until: date | None = None
    status: QuoteStatus = Unset


class QuoteRead(ResourceRead):
    id: UUID
    opportunity_id: UUID
    contact_id: UUID | None
    account_id: UUID | None
    number: str | None
    currency: str
    lines: list[dict[str, Any]] = Field(description="Each with its `total` (quantity x unit_price - discount)")
    total: str
    status: QuoteStatus
    valid_until: date | None
    sent_at: UtcDatetime | None
    decided_at: UtcDatetime | None = Field(description="When it was accepted, declined or expired")
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor

    @model_validator(mode="before")
    @classmethod
    def _amounts(cls, row: Any) -> Any:
        return _money(row, "total")


class QuoteFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived records")
    opportunity_id: UUID | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None
    status: QuoteStatus | None = None


# -- invoices and payments -------------------------------------------------------------------------
class InvoiceCreate(Customer):
    number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    currency: Currency | None = Field(default=None, description="Defaults to the workspace's")
    amount_due: Money
    status: Literal["draft", "open"] = "open"
    issued_on: date | None = None
    due_on: date | None = None


class InvoiceUpdate(RequestModel):
    number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    amount_due: Money = Unset
    status: Literal["draft", "open", "void"] = Field(
        default=Unset, description="paid and partially_paid follow the payments; void needs no live payment"
    )
    issued_on: date | None = None
    due_on: date | None = None


class InvoiceRead(ResourceRead):
    id: UUID
    contact_id: UUID | None
    account_id: UUID | None
    number: str | None
    currency: str
    amount_due: str
    amount_paid: str
    balance: str = Field(description="amount_due - amount_paid")
    status: InvoiceStatus
    issued_on: date | None
    due_on: date | None
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor

    @model_validator(mode="before")
    @classmethod
    def _amounts(cls, row: Any) -> Any:
        if isinstance(row, dict) and "amount_due_minor" in row:
            row = _money(_money(row, "amount_due"), "amount_paid")
            row = {**row, "balance": from_minor(row["amount_due_minor"] - row["amount_paid_minor"], row["currency"])}
        return row


class InvoiceFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived records")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    status: InvoiceStatus | None = None
    unpaid: bool | None = Field(default=None, description="true: open or partially paid")
    due_before: date | None = Field(default=None, description="Due before this date (overdue: today)")


class PaymentCreate(RequestModel):
    invoice_id: UUID
    amount: Money
    currency: Currency | None = Field(default=None, description="The invoice's (another one is a 422)")
    paid_at: UtcDatetime | None = Field(default=None, description="Defaults to now")
    method: PaymentMethod = "other"
    reference: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="Your id for it (a gateway's transaction id): recorded once"
    )


class PaymentUpdate(RequestModel):
    method: PaymentMethod = Unset
    paid_at: UtcDatetime = Unset


class PaymentRead(ResourceRead):
    id: UUID
    invoice_id: UUID
    contact_id: UUID | None
    account_id: UUID | None
    amount: str
    currency: str
    paid_at: UtcDatetime
    method: PaymentMethod
    reference: str | None
    voided_at: UtcDatetime | None = Field(description="Voided: its amount no longer counts as paid")
    created_by: Actor
    updated_by: Actor

    @model_validator(mode="before")
    @classmethod
    def _amounts(cls, row: Any) -> Any:
        return _money(row, "amount")


class PaymentFilters(BaseModel):
    invoice_id: UUID | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None
