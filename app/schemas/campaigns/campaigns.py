"""Campaigns on the wire: the definition a client writes (shape and ranges here; the rules across
fields in app/domain/campaigns/campaigns.py, whose 422s name the path), what it reads back, and the
reviews."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import Actor, Currency, Name, RequestModel, ResourceRead, Unset, UtcDatetime
from app.schemas.weekdays import LocalTime

Channel = Literal["email", "sms", "whatsapp"]
Status = Literal["draft", "in_review", "approved", "scheduled", "piloting", "sending", "sent", "paused", "cancelled"]
Decision = Literal["approve", "reject", "request_changes"]
Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Amount = Annotated[
    str,
    Field(
        pattern=r"^\d{1,15}(\.\d{1,4})?$",
        description="A decimal string in `currency`, never a JSON number; at most the currency's decimals",
        examples=["250.00"],
    ),
]


class CampaignAudience(RequestModel):
    """Who receives it: contacts or leads, narrowed by a saved segment (contacts only) and/or
    conditions, less the people of excluded segments (contacts only)."""

    type: Literal["contacts", "leads"]
    segment_id: UUID | None = Field(default=None, description="A saved segment (a contact segment)")
    conditions: dict[str, Any] | None = Field(
        default=None,
        description="In the journeys' condition language, on the audience's fields",
        examples=[{"all": [{"field": "tags", "op": "eq", "value": "vip"}]}],
    )
    exclude_segment_ids: list[UUID] = Field(default_factory=list, max_length=20)


class CampaignVariant(RequestModel):
    name: str = Field(min_length=1, max_length=64, description="Also the link's `utm_content` when `utm` is on")
    template_id: UUID = Field(description="A live template of the campaign's channel")
    weight: int = Field(ge=1, le=1000, description="Its share of the audience: weight / the sum of weights")


class AutoPause(RequestModel):
    max_unsubscribe_rate: Rate | None = Field(default=None, description="Pause when the pilot's rate passes this")
    max_complaint_rate: Rate | None = Field(default=None, description="Pause when the pilot's rate passes this")


class CampaignPilot(RequestModel):
    """Send to a part of the audience first (a percentage or a count, exactly one), wait, and go on
    unless the pilot's rates pass the limits."""

    percent: int | None = Field(default=None, ge=1, le=100)
    count: int | None = Field(default=None, ge=1, le=10_000_000)
    wait_hours: int = Field(default=24, ge=1, le=720)
    auto_pause: AutoPause | None = None
    winner_only: bool = Field(
        default=False,
        description="After the wait, send the rest only the winning variant when the pilot has a significant "
        "winner (p < 0.05, `min_sample` reached in each variant); otherwise the rest is split as planned",
    )

    @model_validator(mode="after")
    def _one_size(self) -> CampaignPilot:
        if (self.percent is None) == (self.count is None):
            raise ValueError("give exactly one of percent and count")
        return self


class SendAt(RequestModel):
    """`{"at": RFC 3339}` (an instant), or `{"date", "local_time"}` (that time in each recipient's
    time zone, else the workspace's)."""

    at: AwareDatetime | None = None
    date: dt.date | None = None
    local_time: LocalTime | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SendAt:
        if self.at is not None and self.date is None and self.local_time is None:
            try:  # one instant, one spelling: stored in UTC
                self.at = self.at.astimezone(dt.UTC)
            except OverflowError:
                raise ValueError("at: not a time this service can store") from None
            return self
        if self.at is None and self.date is not None and self.local_time is not None:
            return self
        raise ValueError('give {"at"} or {"date", "local_time"}')


class CampaignGoal(RequestModel):
    """What counts as a conversion: an event of the catalogue (`order.created`, `lead.qualified`)
    or an engagement type (`meeting_booked`)."""

    event: str | None = Field(default=None, max_length=64, examples=["order.created"])
    engagement: str | None = Field(default=None, max_length=64, examples=["meeting_booked"])

    @model_validator(mode="after")
    def _one_kind(self) -> CampaignGoal:
        if (self.event is None) == (self.engagement is None):
            raise ValueError("give exactly one of event and engagement")
        return self


class CampaignCost(RequestModel):
    amount: Amount
    currency: Currency


class CampaignCreate(RequestModel):
    """A campaign in draft. A draft may leave out its audience and variants; submitting it may not."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Nowruz sale",
                    "channel": "email",
                    "audience": {"type": "contacts", "segment_id": "01a24c50-a4c5-74f2-91a8-70b96b882950"},
                    "variants": [
                        {"name": "a", "template_id": "01a24c50-a4c5-74f2-91a8-70b96b882951", "weight": 1},
                        {"name": "b", "template_id": "01a24c50-a4c5-74f2-91a8-70b96b882952", "weight": 1},
                    ],
                    "holdout_percent": 10,
                    "pilot": {"percent": 10, "wait_hours": 4, "auto_pause": {"max_unsubscribe_rate": 0.01}},
                    "send_at": {"date": "2027-03-15", "local_time": "10:00"},
                    "goal": {"event": "order.created"},
                    "cost": {"amount": "250.00", "currency": "USD"},
                }
            ]
        }
    )

    name: Name
    channel: Channel
    audience: CampaignAudience | None = None
    variants: list[CampaignVariant] = Field(default_factory=list, max_length=26)
    holdout_percent: int = Field(default=0, ge=0, le=50, description="Kept out of the send, to measure against")
    pilot: CampaignPilot | None = None
    send_at: SendAt | None = Field(default=None, description="null: at launch")
    goal: CampaignGoal | None = None
    attribution_days: int = Field(default=7, ge=1, le=365, description="A goal reached this long after the send counts")
    cost: CampaignCost | None = None
    utm: bool = Field(default=True, description="Tag links with utm_campaign and utm_content (the variant's name)")


class CampaignUpdate(RequestModel):
    """Each field sent replaces its value whole. A change to what is sent, to whom, when or how
    (all but `name`, `goal`, `attribution_days` and `cost`) withdraws every approval and returns the
    campaign to draft."""

    name: Name = Unset
    channel: Channel = Unset
    audience: CampaignAudience | None = None
    variants: list[CampaignVariant] = Field(default=Unset, max_length=26)
    holdout_percent: int = Field(default=Unset, ge=0, le=50)
    pilot: CampaignPilot | None = None
    send_at: SendAt | None = None
    goal: CampaignGoal | None = None
    attribution_days: int = Field(default=Unset, ge=1, le=365)
    cost: CampaignCost | None = None
    utm: bool = Unset


class CampaignVariantRead(BaseModel):
    name: str
    template_id: UUID
    weight: int


class CampaignCostRead(BaseModel):
    amount: str
    currency: str


class CampaignProgress(BaseModel):
    recipients: int = Field(description="The frozen audience, holdout included")
    holdout: int = Field(description="Kept out: sent nothing")
    pending: int = Field(description="Not messaged yet (the pilot's wait, the channel's rate)")
    queued: int = Field(description="Messages waiting for their time or the channel")
    sent: int = Field(description="Messages that went (sent, delivered, bounced, or perhaps: unknown)")
    blocked: int = Field(description="Messages not sent: no consent, suppressed, the frequency cap... (see the report)")
    failed: int
    counted_at: UtcDatetime = Field(
        description="When these were counted: the worker counts again every couple of seconds while the campaign "
        "sends or has messages queued (each count that changes something is a new version)"
    )


class CampaignRead(ResourceRead):
    id: UUID
    name: str
    channel: Channel
    status: Status
    audience: dict[str, Any] | None = Field(description="`{type, segment_id?, conditions?, exclude_segment_ids?}`")
    variants: list[CampaignVariantRead]
    holdout_percent: int
    pilot: dict[str, Any] | None
    send_at: dict[str, Any] | None = Field(description='`{"at"}` or `{"date", "local_time"}`; null: at launch')
    goal: dict[str, Any] | None
    attribution_days: int
    cost: CampaignCostRead | None
    utm: bool
    author_member_id: UUID | None = Field(description="The member bound to the key that created it")
    contributors: list[UUID] = Field(
        default_factory=list,
        description="Members who wrote it, changed what is reviewed or submitted it (with keys bound to them): "
        "none of them may approve it",
    )
    approvals: int = Field(description="Members whose approval counts now (each once)")
    required_approvals: int = Field(description="As set when it was submitted; a draft shows the current setting")
    review_groups: int = Field(description="Distinct review groups of the members whose approval counts")
    required_review_groups: int
    missing: list[str] = Field(
        description="What launch still lacks, e.g. `2 more approvals`, `approvals from 1 more review group`",
        examples=[["2 more approvals", "approvals from 1 more review group"]],
    )
    submitted_at: UtcDatetime | None
    approved_at: UtcDatetime | None
    cancelled_at: UtcDatetime | None
    seed: int | None = Field(
        default=None, description="Drawn at launch: with the frozen audience it reproduces every recipient's arm"
    )
    launched_at: UtcDatetime | None = None
    starts_at: UtcDatetime | None = Field(default=None, description="When sending begins (or began)")
    pilot_started_at: UtcDatetime | None = None
    rest_due_at: UtcDatetime | None = Field(default=None, description="The pilot's wait over: the rest goes from then")
    paused_at: UtcDatetime | None = None
    pause_reason: dict[str, Any] | None = Field(
        default=None,
        description="Why it paused: `{reason: manual}`, or the pilot's figures (`pilot_unsubscribe_rate`, "
        "`pilot_complaint_rate`: rates, counts and limits)",
    )
    winner: str | None = Field(default=None, description="The variant the rest went with (a significant pilot winner)")
    finished_at: UtcDatetime | None = Field(default=None, description="Every recipient's message at a final status")
    progress: CampaignProgress | None = Field(default=None, description="A launched campaign's recipients, so far")
    created_by: Actor
    updated_by: Actor


class ReviewCreate(RequestModel):
    decision: Decision
    comment: str | None = Field(default=None, max_length=2000)


class ReviewRead(BaseModel):
    id: UUID
    campaign_id: UUID
    member_id: UUID
    decision: Decision
    comment: str | None
    review_group: str | None = Field(description="The member's review group when they reviewed")
    counts: bool = Field(description="An approval that counts now (a member's first since the last edit)")
    withdrawn_at: UtcDatetime | None = Field(description="When an edit, or the member's later rejection, took it back")
    created_at: UtcDatetime


class MoneyRead(BaseModel):
    amount: str = Field(description="A decimal string, exact")
    currency: str


class UpliftRead(BaseModel):
    absolute: float = Field(description="The variant's conversion rate minus the holdout's (0.012 = 1.2 points)")
    absolute_interval: list[float] = Field(description="Its 95% Wald interval [low, high]")
    relative: float | None = Field(description="Its rate over the holdout's, minus 1; none at a 0 holdout rate")
    relative_interval: list[float] | None = Field(
        description="95% log interval of the rate ratio, minus 1; none without a conversion in either arm"
    )
    interval: str = Field(description="How the intervals are made")


class ArmRead(BaseModel):
    name: str = Field(description="The variant's name, or `holdout`")
    recipients: int = Field(description="Drawn to this arm (intention to treat: blocked ones count too)")
    queued: int
    sent: int
    delivered: int
    failed: int
    blocked: dict[str, int] = Field(description="Messages blocked, by reason (no_consent, suppressed...)")
    blocked_total: int
    opened: int
    clicked: int
    replied: int
    unsubscribed: int
    complained: int
    conversions: int = Field(description="Recipients who reached the goal within the attribution window")
    conversion_rate: float | None
    new_customers: int = Field(description="Recipients whose first order ever fell within the window")
    revenue: MoneyRead = Field(description="Orders placed within the window, net of refunds, in the reporting currency")
    uplift: UpliftRead | None = Field(default=None, description="Against the holdout (variants, with a holdout)")


class VariantComparisonRead(BaseModel):
    variant: str
    difference: float | None = Field(description="Its conversion rate minus the control's")
    p_value: float | None
    p_adjusted: float | None = Field(description="Holm-adjusted over the comparisons with the control")


class ComparisonRead(BaseModel):
    method: str
    control: str = Field(description="The first variant")
    min_sample: int = Field(description="Recipients each arm needs before a winner is declared")
    comparisons: list[VariantComparisonRead]
    winner: str | None = Field(description="Only when p < 0.05 and every arm compared reached `min_sample`")


class CampaignReport(BaseModel):
    campaign_id: UUID
    status: Status
    goal: dict[str, Any] | None
    attribution_days: int
    variants: list[ArmRead]
    holdout: ArmRead | None = Field(description="The control group that was sent nothing (null without one)")
    comparison: ComparisonRead | None = Field(description="With two variants or more")
    cost: CampaignCostRead | None
    conversions: int = Field(description="In the variants (the holdout's not included)")
    new_customers: int
    cost_per_conversion: MoneyRead | None
    cac: MoneyRead | None = Field(description="Cost per new customer (a first order within the window)")
    computed_at: UtcDatetime
