"""Customer analytics on the wire: the refresh request, the model, per-customer value, CLV by group.
Money is a decimal string in the snapshot's `currency` (the workspace's reporting currency)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import RequestModel, UtcDatetime


class RefreshRequest(RequestModel):
    as_of: date | None = Field(
        default=None, description="Analysis date (orders placed on it included); today in the workspace's time zone"
    )
    calibration_end: date | None = Field(
        default=None,
        description="Also fit on the orders up to this date and report predicted vs actual purchases after it "
        "(up to `as_of`); must be before `as_of`",
    )


class BgNbdRead(BaseModel):
    r: float
    alpha: float = Field(description="In `time_unit`s")
    a: float
    b: float
    log_likelihood: float
    converged: bool
    iterations: int


class GammaGammaRead(BaseModel):
    p: float
    q: float
    v: float = Field(description="In the snapshot's currency (major units)")
    log_likelihood: float
    customers: int = Field(description="Repeat buyers with a positive mean value (those the spend model is fitted on)")


class RetentionRead(BaseModel):
    rate: float = Field(description="Yearly retention r used by the simple and retention-based CLV")
    source: Literal["observed", "setting", "fallback", "unavailable"] = Field(
        description="`observed`: from the customers who bought in the year before last; `setting`: "
        "`yearly_retention_rate`; `fallback`: nobody bought in the year before last, so r = 1 - 1 / "
        "`default_relationship_years`; `unavailable`: a snapshot computed before the fallback existed (r = 0)"
    )
    customers_year_before_last: int = Field(description="Customers who bought 365-729 days before the analysis date")
    retained: int = Field(description="Of those, the ones who bought again in the last 365 days")
    annual_churn_rate: float = Field(description="1 - r")
    expected_years: float = Field(
        description="Expected length of a relationship: 1 / the annual churn rate, between 1 and 20 years"
    )


class HoldoutBucket(BaseModel):
    frequency: str = Field(description="Repeat purchases in the calibration period: 0-6, then 7+")
    customers: int
    predicted: float = Field(description="Expected purchases in the holdout period (sum over the bucket)")
    actual: int = Field(description="Purchase days in the holdout period")


class HoldoutRead(BaseModel):
    calibration_end: date
    holdout_days: int
    model: Literal["bgnbd", "simple"]
    model_reason: str | None
    bgnbd: BgNbdRead | None
    customers: int
    repeat_buyers: int
    predicted: float
    actual: int
    buckets: list[HoldoutBucket]


class MetricTotals(BaseModel):
    sum: str
    mean: str | None


class ModelRead(BaseModel):
    snapshot_id: UUID
    as_of: date
    currency: str
    time_unit: Literal["days"] = Field(description="The unit of `alpha`, recency and age")
    model: Literal["bgnbd", "simple"] = Field(
        description="`simple` when the workspace has too few repeat buyers to fit BG/NBD (`min_repeat_buyers`) or "
        "the fit did not converge: see `model_reason`"
    )
    model_reason: str | None
    spend_model: Literal["gamma_gamma", "average"]
    bgnbd: BgNbdRead | None
    gamma_gamma: GammaGammaRead | None
    customers: int
    repeat_buyers: int
    retention: RetentionRead
    totals: dict[str, MetricTotals] = Field(
        description="Per metric (historic_revenue, historic_margin, simple_clv, retention_clv, predicted_clv)"
    )
    holdout: HoldoutRead | None = Field(description="The calibration/holdout check, when `calibration_end` was given")
    settings: dict[str, object] = Field(description="The analytics settings the snapshot was computed with")
    fit_seconds: float | None = Field(description="Time to fit and apply the models")
    total_seconds: float | None = Field(description="The whole refresh, reading and writing included")
    job_id: UUID | None
    computed_at: UtcDatetime = Field(description="When the refresh started")
    completed_at: UtcDatetime | None


class HistoricValue(BaseModel):
    revenue: str = Field(description="Net revenue so far (refunds and cancellations excluded)")
    margin: str = Field(description="Revenue - cost where orders carry a cost, the default margin on the rest")
    purchases: int = Field(description="Purchase days (orders of one day are one purchase)")
    first_purchase_on: date
    last_purchase_on: date


class SimpleValue(BaseModel):
    clv: str = Field(description="average_order_value x purchases_per_year x expected_years")
    average_order_value: str
    purchases_per_year: float = Field(
        description="The customer's own rate: purchase days x 365 / the days since their first purchase (at least 90)"
    )
    expected_years: float = Field(description="Expected relationship length: 1 / the workspace's annual churn rate")
    retention_rate: float
    annual_churn_rate: float = Field(description="1 - retention_rate")


class RetentionValue(BaseModel):
    clv: str
    yearly_margin: str
    retention_rate: float
    discount_rate: float


class PredictiveValue(BaseModel):
    model: Literal["bgnbd", "simple"]
    clv: str = Field(description="Discounted net revenue over the horizon")
    margin: str = Field(description="`clv` at the customer's margin rate")
    horizon_months: int
    expected_purchases_90d: float
    expected_purchases_365d: float
    p_alive: float | None = Field(description="Chance the customer is still active (null under the simple model)")
    expected_order_value: str | None
    frequency: int = Field(description="Repeat purchase days (x)")
    recency: int = Field(description="Days from the first to the last purchase (t_x)")
    age: int = Field(description="Days from the first purchase to the analysis date (T)")
    time_unit: Literal["days"] = "days"


NextPurchaseBasis = Literal["own_rhythm", "model", "workspace_median"]
NEXT_PURCHASE = (
    "When the customer is expected to buy next: their last purchase day + their typical interval between "
    "purchases (rounded to whole days), at the start of that day in the workspace's time zone"
)
NEXT_PURCHASE_BASIS = (
    "Where the interval comes from: `own_rhythm` (2 purchase days or more: their mean interval), `model` (one "
    "purchase day, BG/NBD fitted: the model's mean interval for their history, (alpha + T) / r days), "
    "`workspace_median` (one purchase day, simple model: the workspace's median interval between repeat purchases)"
)
CONTACT_NAME = (
    "The contact's first and last name (null: neither is known). Present only for a key holding `contacts:read`"
)
CONTACT_EMAIL = "The contact's email (null: none). Present only for a key holding `contacts:read`"


class ValueRead(BaseModel):
    contact_id: UUID
    status: Literal["ready", "no_snapshot", "not_a_customer"] = Field(
        description="`no_snapshot`: no analytics refresh has completed yet; `not_a_customer`: the contact had no "
        "purchase by the snapshot's analysis date"
    )
    snapshot_id: UUID | None
    as_of: date | None
    computed_at: UtcDatetime | None
    currency: str | None
    historic: HistoricValue | None
    simple: SimpleValue | None
    retention_based: RetentionValue | None
    predictive: PredictiveValue | None
    rfm: RfmValue | None = None
    churn: ChurnValue | None = None
    recommendations: list[RecommendationRead] = Field(default_factory=list)
    advocacy: AdvocacyValue | None = None
    value_added_deals: int | None = None
    expected_next_purchase_at: UtcDatetime | None = Field(
        default=None, description=f"{NEXT_PURCHASE} (null: not known, or no snapshot with it)"
    )
    purchase_interval_days: float | None = Field(
        default=None, description="The customer's typical days between purchases (see `next_purchase_basis`)"
    )
    next_purchase_basis: NextPurchaseBasis | None = Field(default=None, description=NEXT_PURCHASE_BASIS)


class GroupBy(StrEnum):
    ACQUISITION_CHANNEL = "acquisition_channel"
    ACQUISITION_MONTH = "acquisition_month"
    TAG = "tag"
    COUNTRY = "country"
    RFM_SEGMENT = "rfm_segment"


class Metric(StrEnum):
    PREDICTED_CLV = "predicted_clv"
    HISTORIC_REVENUE = "historic_revenue"
    SIMPLE_CLV = "simple_clv"
    RETENTION_CLV = "retention_clv"


class GroupRead(BaseModel):
    key: str | None = Field(description="The group (null: customers without one)")
    count: int
    sum: str
    mean: str
    percentiles: dict[str, str] = Field(description="p10, p25, p50, p75, p90")


class ClvGroupsRead(BaseModel):
    snapshot_id: UUID
    as_of: date
    currency: str
    group_by: GroupBy
    metric: Metric
    customers: int
    groups: list[GroupRead] = Field(description="Largest first, at most 200; a customer with several tags is in each")


class SegmentChange(BaseModel):
    """`customer.segment_changed`: a customer's RFM segment moved between two snapshots."""

    contact_id: UUID
    snapshot_id: UUID
    as_of: date
    previous_segment: str
    segment: str
    recency_score: int
    frequency_score: int
    monetary_score: int


class ChurnReason(BaseModel):
    factor: Literal[
        "inactive_model", "overdue", "falling_order_rate", "support_tickets", "unpaid_invoices", "inactivity",
        "contract", "falling_engagement",
    ]  # fmt: skip
    value: float = Field(description="The factor, 0-1")
    weight: float = Field(description="Its share of the score (weights of the factors that apply, normalised)")
    contribution: float = Field(description="value x weight; the contributions sum to the score")


AlertReason = Literal["high_risk", "overdue"]
AlertStatus = Literal["open", "rescued", "churned"]


class ChurnAlertRead(BaseModel):
    """A churn alert: a customer at high churn risk, or overdue past the tolerance of their own
    rhythm (`customer.churn_risk_raised` when announced), and its outcome (`customer.rescued`:
    ordered again within the window; `customer.churned`: did not)."""

    id: UUID
    contact_id: UUID
    contact_name: str | None = Field(default=None, description=CONTACT_NAME)
    contact_email: str | None = Field(default=None, description=CONTACT_EMAIL)
    snapshot_id: UUID = Field(description="The snapshot the alert came from")
    reason: AlertReason = Field(
        description="`high_risk`: the churn level was high; `overdue`: the days since the last purchase passed "
        "`churn_overdue_tolerance` x the customer's typical interval (high risk wins when both apply)",
    )
    churn_level: Literal["low", "medium", "high"] = Field(description="The churn level then")
    announced: bool = Field(
        description="false: over a first snapshot's cap (`churn_first_snapshot_alert_cap`): listed, with no event "
        "and no rescue task",
    )
    status: AlertStatus = Field(description="open, or its outcome")
    raised_on: date = Field(description="The snapshot's analysis date")
    window_ends_on: date
    churn_score: float
    clv_at_risk: str
    currency: str
    reasons: list[ChurnReason]
    days_since_last_purchase: int | None
    purchase_interval_days: float | None = Field(description="The customer's typical days between purchases then")
    expected_next_purchase_at: UtcDatetime | None = Field(description=NEXT_PURCHASE)
    owner_id: UUID | None
    task_id: UUID | None = Field(description="The rescue task, when the workspace creates them")
    outcome: Literal["rescued", "churned"] | None
    resolved_on: date | None


class RecommendationRead(BaseModel):
    category: str
    score: float = Field(description="1 for a declared interest; the rule's confidence for a co-purchase")
    reason: Literal["interest", "co_purchase"]
    because_of: str = Field(description="The declared interest, or the category the customer bought")
    lift: float | None
    confidence: float | None


class RfmValue(BaseModel):
    recency_score: int
    frequency_score: int
    monetary_score: int
    segment: str
    label: str
    days_since_last_purchase: int


class ChurnValue(BaseModel):
    score: float
    level: Literal["low", "medium", "high"]
    reasons: list[ChurnReason] = Field(description="Largest contribution first; they sum to the score")
    clv_at_risk: str = Field(description="Simple CLV x churn score")


class AdvocacyValue(BaseModel):
    score: float = Field(description="0-100")
    parts: dict[str, float | None] = Field(
        description="referrals_converted, referrals_made, satisfaction, rewards, orders: each 0-1 (null: no data)"
    )


class CustomerValueItem(BaseModel):
    """A customer in a ranked analytics list (from the latest snapshot)."""

    contact_id: UUID
    contact_name: str | None = Field(default=None, description=CONTACT_NAME)
    contact_email: str | None = Field(default=None, description=CONTACT_EMAIL)
    owner_id: UUID | None
    rfm_segment: str | None
    recency_score: int | None
    frequency_score: int | None
    monetary_score: int | None
    churn_score: float | None
    churn_level: Literal["low", "medium", "high"] | None
    churn_reasons: list[ChurnReason]
    clv_at_risk: str | None
    predicted_clv: str
    historic_revenue: str
    advocacy_score: float | None
    value_added_deals: int | None
    recommendations: list[RecommendationRead]
    expected_next_purchase_at: UtcDatetime | None = Field(default=None, description=NEXT_PURCHASE)
    purchase_interval_days: float | None = None
    next_purchase_basis: NextPurchaseBasis | None = Field(default=None, description=NEXT_PURCHASE_BASIS)
    currency: str


class RfmSegmentRead(BaseModel):
    segment: str
    label: str
    customers: int
    share: float
    revenue: str
    revenue_share: float


class RfmMove(BaseModel):
    from_segment: str | None = Field(description="null: not a customer in the previous snapshot")
    to_segment: str
    customers: int


class RfmRead(BaseModel):
    snapshot_id: UUID
    as_of: date
    currency: str
    customers: int
    segments: list[RfmSegmentRead]
    previous_snapshot_id: UUID | None
    movement: list[RfmMove] | None = Field(description="Since the previous snapshot; null for a first snapshot")


class CohortPeriodRead(BaseModel):
    offset: int = Field(description="Months since the cohort's month")
    customers: int = Field(description="Customers of the cohort who bought in that month")
    retention: float
    revenue: str


class CohortRead(BaseModel):
    month: str = Field(description="YYYY-MM: the month of the customers' first purchase")
    customers: int
    periods: list[CohortPeriodRead]


class CohortsRead(BaseModel):
    snapshot_id: UUID
    as_of: date
    currency: str
    cohorts: list[CohortRead]


class ClvCacRow(BaseModel):
    channel: str | None
    month: str | None = Field(description="YYYY-MM; by campaign: the month it was launched")
    campaign_id: UUID | None = Field(default=None, description="By campaign (`group=campaign`)")
    campaign: str | None = Field(default=None, description="The campaign's name (`group=campaign`)")
    customers: int = Field(description="Customers acquired (acquisition channel and month of the snapshot)")
    spend: str
    cac: str | None = Field(description="spend / customers")
    mean_clv: str | None = Field(description="Mean predicted CLV (revenue) of those customers")
    mean_clv_margin: str | None = Field(
        description="Mean predicted CLV x each customer's gross margin rate (orders' cost where known, "
        "`default_margin` otherwise): the profit they are expected to bring"
    )
    clv_cac_ratio: float | None = Field(
        description="mean_clv_margin / cac: expected profit per customer against what acquiring one cost. About 3 "
        "(3:1) is the usual health mark; below 1 the channel loses money on each customer. Null before the "
        "snapshot carries margins (refresh) or without spend"
    )
    revenue_clv_cac_ratio: float | None = Field(
        description="mean_clv / cac: predicted revenue against acquisition cost (what clv_cac_ratio meant before); "
        "not comparable with the 3:1 mark"
    )
    payback_months: float | None = Field(description="CAC / the customers' mean monthly margin")


class ClvCacRead(BaseModel):
    snapshot_id: UUID
    as_of: date
    currency: str
    group: Literal["channel_month", "channel", "month", "campaign"]
    rows: list[ClvCacRow]
    unconverted_spend: dict[str, str] = Field(
        description="Spend in other currencies without an exchange rate (per currency), left out"
    )


ValueRead.model_rebuild()
