"""Accounts, contacts, opportunities and tasks; qualification requests and results."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.domain.analytics.retention import SEGMENTS
from app.domain.customers.opportunities import OpportunityStage, OpportunityType
from app.domain.leads.lifecycle import CompanySize
from app.domain.money import from_minor
from app.schemas.common import Actor, Country, Currency, RequestModel, ResourceRead, TimeZone, Unset, UtcDatetime
from app.schemas.customers.orders import Address
from app.schemas.leads.leads import LongText, Tag, Text, _tags

Amount = Annotated[
    str,
    Field(
        pattern=r"^\d{1,17}(\.\d{1,4})?$",
        description="A decimal string in the opportunity's currency (never a JSON number)",
        examples=["1250000.50"],
    ),
]
Domain = Annotated[str, Field(max_length=255, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", examples=["acme.example"])]
Interest = Annotated[str, Field(min_length=1, max_length=100)]


def _domain(value: str | None) -> str | None:
    return value.lower().removeprefix("www.") if value else value


# -- accounts ----------------------------------------------------------------------------------
class AccountFields(RequestModel):
    domain: Domain | None = None
    industry: Text | None = None
    company_size: CompanySize | None = None
    country: Country | None = None
    province: Text | None = None
    city: Text | None = None
    owner_id: UUID | None = None

    _clean_domain = field_validator("domain")(_domain)


class AccountCreate(AccountFields):
    name: LongText = Field(min_length=1)
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    _clean_tags = field_validator("tags")(_tags)


class AccountUpdate(AccountFields):
    name: LongText = Unset
    tags: list[Tag] = Field(default=None, max_length=50)  # type: ignore[assignment]

    _clean_tags = field_validator("tags")(_tags)


class AccountRead(ResourceRead):
    id: UUID
    name: str
    domain: str | None
    industry: str | None
    company_size: CompanySize | None
    country: str | None
    province: str | None
    city: str | None
    owner_id: UUID | None
    tags: list[str]
    lead_id: UUID | None = Field(description="The lead it was qualified from")
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor


# -- contacts ----------------------------------------------------------------------------------
class ContactFields(RequestModel):
    first_name: Text | None = None
    last_name: Text | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    phone: Annotated[str, Field(max_length=64)] | None = None
    job_title: Text | None = None
    account_id: UUID | None = None
    owner_id: UUID | None = None
    country: Country | None = None
    province: Text | None = None
    city: Text | None = None
    timezone: TimeZone | None = Field(
        default=None, description="IANA time zone (quiet hours, local send times); null = the workspace's"
    )
    referred_by_contact_id: UUID | None = Field(default=None, description="The contact who referred this one")


class ContactCreate(ContactFields):
    addresses: list[Address] = Field(default_factory=list, max_length=20, description="Billing and shipping")
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    interests: list[Interest] = Field(
        default_factory=list, max_length=50, description="Declared interests (industries, hobbies, fields of work)"
    )

    _clean_tags = field_validator("tags", "interests")(_tags)


class ContactUpdate(ContactFields):
    addresses: list[Address] = Field(default=None, max_length=20)  # type: ignore[assignment]
    tags: list[Tag] = Field(default=None, max_length=50)  # type: ignore[assignment]
    interests: list[Interest] = Field(default=None, max_length=50)  # type: ignore[assignment]

    _clean_tags = field_validator("tags", "interests")(_tags)


class ContactRead(ResourceRead):
    id: UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    phone_e164: str | None
    phone_valid: bool
    job_title: str | None
    account_id: UUID | None
    owner_id: UUID | None
    tags: list[str]
    interests: list[str]
    country: str | None
    province: str | None
    city: str | None
    timezone: str | None = Field(default=None, description="IANA time zone; null = the workspace's")
    lead_id: UUID | None = Field(description="The lead it was qualified from")
    archived_at: UtcDatetime | None
    erased_at: UtcDatetime | None = Field(
        default=None,
        description="Set when a privacy erasure left this contact a tombstone: same id, its orders kept",
    )
    addresses: list[dict[str, Any]] = Field(default_factory=list, description="Billing and shipping addresses")
    referred_by_contact_id: UUID | None = Field(default=None, description="The contact who referred this one")
    referrals_count: int = Field(
        default=0,
        description="People this contact referred who converted: contacts naming it as their referrer (a referred "
        "lead counts once it is qualified or its person first buys; contact.referral_converted)",
    )

    @field_validator("addresses", mode="before")
    @classmethod
    def _no_addresses(cls, value: Any) -> Any:
        return [] if value is None else value

    # customer facts, kept current by order sync (reporting currency: the workspace's)
    acquisition_channel: str | None = Field(
        default=None, description="The originating lead's utm_source, else its source, else the first order's source"
    )
    acquired_at: UtcDatetime | None = Field(
        default=None, description="When the relationship began: the originating lead's creation, else the first order"
    )
    customer_since: UtcDatetime | None = Field(default=None, description="The first purchase")
    orders_count: int = Field(default=0, description="Purchases: paid, fulfilled or partially refunded orders")
    first_order_at: UtcDatetime | None = None
    last_order_at: UtcDatetime | None = None
    revenue: str = Field(
        default="0", description="Net of refunds, in `reporting_currency`; unconverted orders left out"
    )
    refunded: str = Field(default="0", description="Refunded, in `reporting_currency`")
    average_order_value: str | None = None
    revenue_by_currency: dict[str, str] = Field(
        default_factory=dict, description='Net revenue in each order currency, e.g. {"EUR": "120.50"}'
    )
    unconverted_orders: int = Field(default=0, description="Purchases left out of `revenue` until a rate converts them")
    reporting_currency: str | None = None
    active: bool = Field(default=False, description="Ordered within the active window (/v1/settings/customers)")
    loyalty_points: int = Field(default=0, description="Loyalty balance (/v1/contacts/{id}/loyalty)")
    created_by: Actor
    updated_by: Actor

    @model_validator(mode="before")
    @classmethod
    def _facts(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "revenue_minor" not in data:
            return data
        currency = data.get("reporting_currency")
        data = dict(data)
        for name in ("revenue", "refunded", "average_order_value"):
            minor = data.pop(f"{name}_minor", None)
            data[name] = from_minor(minor, currency) if minor is not None and currency else (
                None if name == "average_order_value" else "0")  # fmt: skip
        data["revenue_by_currency"] = data.get("revenue_by_currency") or {}
        until = data.get("active_until")
        data["active"] = until is not None and until > datetime.now(UTC)
        return data


class ReferralConverted(BaseModel):
    """A person a contact referred converted (`contact.referral_converted`): counted once on the
    referrer's `referrals_count`."""

    referrer_contact_id: UUID = Field(description="The contact who referred them (the event's resource)")
    referred_contact_id: UUID = Field(description="The referred person's contact, now naming its referrer")
    lead_id: UUID | None = Field(description="The referred lead that converted, where there is one")
    converted_by: Literal["qualification", "first_order", "contact"] = Field(
        description="qualification: the referred lead was qualified; first_order: its person's first purchase "
        "converted it; contact: a contact was created, imported or changed to name its referrer"
    )
    order_id: UUID | None = Field(default=None, description="The first purchase (first_order)")


# -- opportunities -----------------------------------------------------------------------------
class OpportunityFields(RequestModel):
    account_id: UUID | None = None
    contact_id: UUID | None = None
    owner_id: UUID | None = None
    amount: Amount | None = None
    currency: Currency | None = Field(default=None, description="ISO 4217; defaults to the workspace's")
    probability: int | None = Field(default=None, ge=0, le=100, description="Defaults to the stage's")
    expected_close_date: date | None = None
    close_reason: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="Required when moving to won or lost: one of /v1/settings/opportunity-reasons"
    )


class OpportunityCreate(OpportunityFields):
    name: LongText = Field(min_length=1)
    stage: OpportunityStage = OpportunityStage.PROSPECTING
    type: OpportunityType = OpportunityType.NEW_BUSINESS


class OpportunityUpdate(OpportunityFields):
    name: LongText = Unset
    stage: OpportunityStage = Unset
    type: OpportunityType = Unset


class OpportunityRead(ResourceRead):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    account_id: UUID | None
    contact_id: UUID | None
    owner_id: UUID | None
    amount: str | None
    currency: str
    stage: OpportunityStage
    probability: int
    expected_close_date: date | None
    type: OpportunityType
    close_reason: str | None
    closed_at: UtcDatetime | None
    lead_id: UUID | None
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor

    @model_validator(mode="before")
    @classmethod
    def _amount(cls, data: Any) -> Any:
        if isinstance(data, dict) and "amount_minor" in data:
            minor = data["amount_minor"]
            data = {**data, "amount": from_minor(minor, data["currency"]) if minor is not None else None}
        return data


# -- qualification -----------------------------------------------------------------------------
class QualifyOpportunity(RequestModel):
    name: LongText | None = Field(default=None, description="Defaults to '<company> - new business'")
    amount: Amount | None = Field(default=None, description="The estimate")
    currency: Currency | None = None
    stage: OpportunityStage = OpportunityStage.QUALIFICATION
    expected_close_date: date | None = None
    type: OpportunityType = OpportunityType.NEW_BUSINESS


class QualifyRequest(RequestModel):
    account_id: UUID | None = Field(default=None, description="Link to this account instead of matching or creating")
    contact_id: UUID | None = Field(default=None, description="Link to this contact instead of matching or creating")
    opportunity: QualifyOpportunity | None = Field(
        default_factory=QualifyOpportunity, description="null: qualify without an opportunity"
    )


class Qualification(BaseModel):
    lead_id: UUID
    account_id: UUID
    contact_id: UUID
    opportunity_id: UUID | None
    account_created: bool
    contact_created: bool
    moved: dict[str, int] = Field(description="How many engagements, activities and tasks moved to the contact")


class DisqualifyRequest(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="One of /v1/settings/disqualification-reasons"
    )
    note: Annotated[str, Field(max_length=2000)] | None = None


# -- tasks -------------------------------------------------------------------------------------
TaskStatus = Literal["open", "completed", "cancelled"]
Priority = Literal["low", "normal", "high", "urgent"]


class TaskFields(RequestModel):
    notes: Annotated[str, Field(max_length=10_000)] | None = None
    due_at: UtcDatetime | None = Field(default=None, description="A reminder (event task.due) fires then")
    assignee_id: UUID | None = None
    priority: Priority = Unset


class TaskCreate(TaskFields):
    title: LongText = Field(min_length=1)
    priority: Priority = "normal"
    lead_id: UUID | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None
    opportunity_id: UUID | None = None


class TaskUpdate(TaskFields):
    title: LongText = Unset
    status: TaskStatus = Unset


class TaskRead(ResourceRead):
    id: UUID
    title: str
    notes: str | None
    due_at: UtcDatetime | None
    assignee_id: UUID | None
    lead_id: UUID | None
    contact_id: UUID | None
    account_id: UUID | None
    opportunity_id: UUID | None
    status: TaskStatus
    priority: Priority
    completed_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor


RfmSegment = Literal[
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose_them",
    "hibernating",
    "lost",
]
assert set(RfmSegment.__args__) == set(SEGMENTS)  # type: ignore[attr-defined]


class ContactFilters(BaseModel):
    """The contacts list's filters (also a saved segment's)."""

    archived: bool = Field(default=False, description="true: only archived records")
    account_id: UUID | None = None
    owner_id: UUID | None = None
    email: str | None = Field(default=None, max_length=320, description="Exact, case-insensitive")
    country: Country | None = None
    active: bool | None = Field(default=None, description="Ordered within the active window (/v1/settings/customers)")
    has_orders: bool | None = Field(default=None, description="true: customers (at least one purchase)")
    acquisition_channel: str | None = Field(default=None, max_length=100)
    import_id: UUID | None = Field(default=None, description="Created by this CSV import")
    tag: str | None = Field(default=None, max_length=100, description="A group (tag) such as VIP")
    interest: str | None = Field(default=None, max_length=100, description="A declared interest")
    province: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=200)
    last_order_after: datetime | None = Field(default=None, description="Last order at or after")
    last_order_before: datetime | None = Field(default=None, description="Last order before")
    revenue_min: str | None = Field(
        default=None, pattern=r"^\d{1,15}(\.\d{1,4})?$", description="Total spent (net), at least; reporting currency"
    )
    revenue_max: str | None = Field(
        default=None, pattern=r"^\d{1,15}(\.\d{1,4})?$", description="Total spent (net), at most; reporting currency"
    )
    referred_by_contact_id: UUID | None = Field(default=None, description="Referred by this contact")
    rfm_segment: RfmSegment | None = Field(default=None, description="RFM segment in the latest analytics snapshot")
    churn_level: Literal["low", "medium", "high"] | None = Field(
        default=None, description="Churn level in the latest analytics snapshot"
    )
    clv_min: str | None = Field(
        default=None, pattern=r"^\d{1,15}(\.\d{1,4})?$", description="Predicted CLV at least (latest snapshot)"
    )
    clv_max: str | None = Field(
        default=None, pattern=r"^\d{1,15}(\.\d{1,4})?$", description="Predicted CLV at most (latest snapshot)"
    )
