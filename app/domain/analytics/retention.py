"""Retention analytics, pure: RFM scores and segments, churn risk with its reasons, the expected next
purchase and who gets a churn alert, category affinity and recommendations, advocacy, cohort
triangles and CLV:CAC, and a snapshot's retention insights from them (`compute`). Arrays or plain
values in, no I/O; "today" is passed in (as day numbers, or the analysis date)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, Literal, Protocol
from uuid import UUID

import numpy as np
from numpy.typing import NDArray

from app.domain.analytics.clv import valuation
from app.domain.analytics.clv.arrays import FloatArray, as_float
from app.domain.money import estimate_text
from app.domain.reports import periods
from app.domain.reports.periods import ReportCalendar

IntArray = NDArray[np.int64]

# -- RFM ---------------------------------------------------------------------------------------------

SEGMENTS: dict[str, str] = {
    "champions": "Champions",
    "loyal": "Loyal",
    "potential_loyalist": "Potential loyalist",
    "new": "New customers",
    "promising": "Promising",
    "need_attention": "Need attention",
    "about_to_sleep": "About to sleep",
    "at_risk": "At risk",
    "cant_lose_them": "Can't lose them",
    "hibernating": "Hibernating",
    "lost": "Lost",
}
# The segment of every (R, FM) cell: rows R = 5 … 1, columns FM = 1 … 5. Each cell has exactly one.
GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    4: ("promising", "potential_loyalist", "loyal", "champions", "champions"),
    3: ("promising", "need_attention", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "about_to_sleep", "at_risk", "at_risk", "cant_lose_them"),
    1: ("lost", "hibernating", "at_risk", "cant_lose_them", "cant_lose_them"),
}


def quintile_scores(values: FloatArray, *, higher_is_better: bool = True) -> IntArray:
    """Scores 1-5 by quintile within the group: 1 + ⌊5 × (customers with a strictly worse value) / n⌋.
    Equal values always get equal scores (a tie takes the score of its lowest position); a value
    shared by many customers can leave a score unused."""
    v = as_float(values)
    if not higher_is_better:
        v = -v
    n = len(v)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    worse = np.searchsorted(np.sort(v), v, side="left")
    return (1 + (5 * worse) // n).astype(np.int64)


@dataclass(frozen=True)
class Rfm:
    recency: IntArray
    frequency: IntArray
    monetary: IntArray
    fm: IntArray
    segment: list[str]


def rfm(days_since_last: FloatArray, purchases: FloatArray, revenue: FloatArray) -> Rfm:
    """R from the days since the last purchase (fewer is better), F from purchase days, M from net
    revenue; FM = (F + M) / 2 rounded half up; the segment from the (R, FM) grid."""
    r = quintile_scores(days_since_last, higher_is_better=False)
    f = quintile_scores(purchases)
    m = quintile_scores(revenue)
    fm = (f + m + 1) // 2
    return Rfm(r, f, m, fm, [GRID[int(ri)][int(fmi) - 1] for ri, fmi in zip(r, fm, strict=True)])


# -- churn risk ---------------------------------------------------------------------------------------

ChurnLevel = Literal["low", "medium", "high"]
FACTORS = (
    "inactive_model",
    "overdue",
    "falling_order_rate",
    "support_tickets",
    "unpaid_invoices",
    "inactivity",
    "contract",
    "falling_engagement",
)


@dataclass(frozen=True)
class ChurnWeights:
    inactive_model: float = 0.35  # 1 − P(alive)
    overdue: float = 0.2  # against the customer's own interval between purchases
    falling_order_rate: float = 0.1  # fewer purchases in the last year than in the one before
    support_tickets: float = 0.1  # open, or rated 1-2
    unpaid_invoices: float = 0.1  # overdue and unpaid
    inactivity: float = 0.15  # days since the last purchase against the active window
    contract: float = 0.55  # customers with a live contract: its renewal state instead of the rhythm
    # fewer engagements (opens, clicks, replies, visits) in the last 90 days than in the 90 before;
    # only for customers with at least ENGAGEMENT_BASE engagements in the earlier period
    falling_engagement: float = 0.1

    def of(self, factor: str) -> float:
        return float(getattr(self, factor))


@dataclass(frozen=True)
class ChurnInputs:
    """Per customer (equal-length arrays); NaN where a factor does not apply."""

    p_alive: FloatArray
    days_since_last: FloatArray
    typical_interval: FloatArray  # mean days between purchases (NaN for one purchase)
    purchases_last_year: FloatArray
    purchases_year_before: FloatArray
    open_tickets: FloatArray
    low_rated_tickets: FloatArray
    overdue_invoices: FloatArray
    contract_risk: FloatArray  # 0-1 from the live contract's renewal state; NaN without a contract
    # engagements in the last ENGAGEMENT_PERIOD_DAYS and in the same period before (NaN: no data)
    engagements_last: FloatArray | None = None
    engagements_before: FloatArray | None = None


@dataclass(frozen=True)
class Reason:
    factor: str
    value: float  # the factor, 0-1
    weight: float  # its share of the score (the weights of the factors that apply, normalised)
    contribution: float  # value × weight; the contributions sum to the score


@dataclass(frozen=True)
class Churn:
    score: FloatArray
    level: list[ChurnLevel]
    reasons: list[list[Reason]]  # per customer, largest contribution first, zero ones left out


def contract_risk(renewal_status: str | None, days_to_end: float | None, auto_renew: bool) -> float:
    """0-1 from a live contract: not renewing or ended 1; renewed or auto-renewing 0; due (or none
    and ending) rising from 0.3 to 1 over the last 90 days."""
    if renewal_status == "not_renewing" or (days_to_end is not None and days_to_end < 0):
        return 1.0
    if renewal_status == "renewed" or auto_renew:
        return 0.0
    if days_to_end is None:
        return 0.3 if renewal_status == "due" else 0.0
    if renewal_status == "due" or days_to_end <= 90:
        return float(min(1.0, max(0.3, 1 - days_to_end / 90)))
    return 0.0


ENGAGEMENT_PERIOD_DAYS = 90
ENGAGEMENT_BASE = 2  # fewer engagements than this in the earlier period say nothing about a drop


def falling_engagement(last: FloatArray | None, before: FloatArray | None, n: int) -> FloatArray:
    """0-1: how far a customer's engagements fell from the earlier period to the last one; NaN
    (the factor does not apply) without a base of ENGAGEMENT_BASE engagements to fall from."""
    if last is None or before is None:
        return np.full(n, np.nan)
    last, before = as_float(last), as_float(before)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.clip((before - last) / before, 0, 1)
    return np.where(before >= ENGAGEMENT_BASE, drop, np.nan)


def churn(
    inputs: ChurnInputs,
    *,
    weights: ChurnWeights,
    active_window_days: float,
    medium: float,
    high: float,
    fallback_interval: float | None,
) -> Churn:
    """Score = Σ weightᵢ × factorᵢ over the factors that apply to the customer, the weights
    normalised to sum to 1 over those. Customers with a live contract are judged on it instead of
    their purchase rhythm (the model, overdue, falling rate and inactivity factors do not apply)."""
    n = len(as_float(inputs.days_since_last))
    contract = as_float(inputs.contract_risk)
    has_contract = ~np.isnan(contract)
    interval = as_float(inputs.typical_interval)
    if fallback_interval is not None:
        interval = np.where(np.isnan(interval), fallback_interval, interval)
    since = as_float(inputs.days_since_last)
    with np.errstate(divide="ignore", invalid="ignore"):
        overdue = np.clip((since / interval - 1) / 2, 0, 1)
        before, last = as_float(inputs.purchases_year_before), as_float(inputs.purchases_last_year)
        falling = np.where(before > 0, np.clip((before - last) / before, 0, 1), np.nan)
    factors: dict[str, FloatArray] = {
        "inactive_model": 1 - as_float(inputs.p_alive),
        "overdue": np.where(np.isnan(interval), np.nan, overdue),
        "falling_order_rate": falling,
        "support_tickets": np.minimum(1.0, as_float(inputs.open_tickets) / 3 + as_float(inputs.low_rated_tickets) / 2),
        "unpaid_invoices": np.where(as_float(inputs.overdue_invoices) > 0, 1.0, 0.0),
        "inactivity": np.clip(since / active_window_days, 0, 1),
        "contract": contract,
        "falling_engagement": falling_engagement(inputs.engagements_last, inputs.engagements_before, n),
    }
    rhythm = ("inactive_model", "overdue", "falling_order_rate", "inactivity")
    for name in rhythm:
        factors[name] = np.where(has_contract, np.nan, factors[name])
    values = np.column_stack([factors[name] for name in FACTORS]) if n else np.zeros((0, len(FACTORS)))
    applies = ~np.isnan(values)
    raw = np.array([weights.of(name) for name in FACTORS])
    totals = (applies * raw).sum(axis=1)
    share = np.where(applies, raw, 0.0) / np.where(totals > 0, totals, 1.0)[:, None]
    contributions = np.where(applies, np.nan_to_num(values) * share, 0.0)
    score = np.clip(contributions.sum(axis=1), 0.0, 1.0)
    levels: list[ChurnLevel] = ["high" if s >= high else "medium" if s >= medium else "low" for s in score.tolist()]
    reasons = []
    for i in range(n):
        row = [
            Reason(FACTORS[j], float(values[i, j]), float(share[i, j]), float(contributions[i, j]))
            for j in np.argsort(-contributions[i], kind="stable")
            if contributions[i, j] > 0
        ]
        reasons.append(row)
    return Churn(score=score, level=levels, reasons=reasons)


# -- the next purchase and churn alerts -----------------------------------------------------------------

NextPurchaseBasis = Literal["own_rhythm", "model", "workspace_median"]
AlertReason = Literal["high_risk", "overdue"]


@dataclass(frozen=True)
class NextPurchase:
    interval: FloatArray  # the customer's typical days between purchases (NaN: unknown)
    basis: list[NextPurchaseBasis | None]
    expected_day: FloatArray  # day number of the expected next purchase: last purchase + interval (NaN: unknown)


def next_purchase(
    frequency: FloatArray,
    recency: FloatArray,
    age: FloatArray,
    last_day: FloatArray,
    *,
    model: tuple[float, float] | None,
    workspace_median: float | None,
) -> NextPurchase:
    """When each customer is expected to buy next: their last purchase day + their typical interval.

    - own rhythm (2 purchase days or more): their mean interval, t_x / x;
    - else, with a fitted BG/NBD model (`model` = (r, alpha), alpha in days): the model's mean interval
      for their history, 1 / E[λ | x, T] = (alpha + T) / (r + x) days (their purchase rate while alive);
    - else the workspace's median interval between repeat purchases; else unknown.
    The day is rounded to a whole day."""
    x, t_x, age_ = as_float(frequency), as_float(recency), as_float(age)
    own = x > 0
    fallback: NextPurchaseBasis | None = None
    others = np.full(len(x), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        if model is not None:
            r, alpha = model
            others, fallback = (alpha + age_) / (r + x), "model"
        elif workspace_median is not None:
            others, fallback = np.full(len(x), workspace_median), "workspace_median"
        interval = np.where(own, t_x / np.where(own, x, 1.0), others)
    interval = np.where(np.isfinite(interval) & (interval >= 0), interval, np.nan)
    basis: list[NextPurchaseBasis | None] = [
        None if np.isnan(gap) else ("own_rhythm" if mine else fallback)
        for gap, mine in zip(interval.tolist(), own.tolist(), strict=True)
    ]
    expected = as_float(last_day) + np.floor(interval + 0.5)
    return NextPurchase(interval=interval, basis=basis, expected_day=expected)


def overdue(
    days_since_last: FloatArray, interval: FloatArray, own_rhythm: NDArray[np.bool_], tolerance: float | None
) -> NDArray[np.bool_]:
    """Overdue past the tolerance of their own rhythm: more days since the last purchase than
    `tolerance` × their typical interval. Only customers with a rhythm of their own (2 purchase days
    or more) can be overdue; `tolerance` None: nobody is."""
    since, typical = as_float(days_since_last), as_float(interval)
    if tolerance is None:
        return np.zeros(len(since), dtype=bool)
    with np.errstate(invalid="ignore"):
        late = since > tolerance * typical
    return np.asarray(own_rhythm, dtype=bool) & ~np.isnan(typical) & late


def alert_blocked(last_day: FloatArray, recent: NDArray[np.bool_], churned_on: FloatArray) -> NDArray[np.bool_]:
    """Who may not be alerted now: a customer with an open alert or one raised within the cooldown
    (`recent`), or whose alert ended churned (`churned_on`: the analysis day of their latest such
    alert, NaN: none) and who has not bought since: the rescue ran its course, and alerting them
    again every cooldown would repeat it (and announce a first snapshot's unannounced backlog)."""
    churned = as_float(churned_on)
    with np.errstate(invalid="ignore"):
        quiet = ~np.isnan(churned) & (as_float(last_day) <= churned)
    return np.asarray(recent, dtype=bool) | quiet


@dataclass(frozen=True)
class AlertDecision:
    index: int  # the customer's position in the inputs
    reason: AlertReason  # high_risk when both apply
    announced: bool  # False: over the first snapshot's cap, listed but not announced


def churn_alerts(
    levels: Sequence[str],
    is_overdue: NDArray[np.bool_],
    clv_at_risk: FloatArray,
    blocked: NDArray[np.bool_],
    *,
    first_snapshot: bool,
    cap: int,
) -> list[AlertDecision]:
    """Who gets an alert: a customer at `high` risk, or overdue, who is not `blocked` (an open alert,
    or one raised within the cooldown). Highest CLV at risk first (then by position); on a first
    snapshot only the first `cap` are announced, the rest are recorded unannounced."""
    late = np.asarray(is_overdue, dtype=bool)
    stopped = np.asarray(blocked, dtype=bool)
    at_risk = as_float(clv_at_risk)
    chosen = [i for i, level in enumerate(levels) if (level == "high" or late[i]) and not stopped[i]]
    chosen.sort(key=lambda i: (-at_risk[i], i))
    return [
        AlertDecision(i, "high_risk" if levels[i] == "high" else "overdue", not first_snapshot or rank < cap)
        for rank, i in enumerate(chosen)
    ]


# -- category affinity and recommendations ------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    antecedent: str
    consequent: str
    support: float  # share of orders with both
    confidence: float  # P(consequent | antecedent)
    lift: float  # confidence / P(consequent)
    orders: int  # orders with both


def affinity(
    orders: int, categories: Mapping[str, int], pairs: Mapping[tuple[str, str], int], *, min_orders: int = 2
) -> list[Rule]:
    """Association rules between product categories from co-purchase counts: `categories[c]` orders
    contain c, `pairs[(a, b)]` (a < b) contain both. Both directions of each pair seen in at least
    `min_orders` orders, strongest lift first."""
    rules: list[Rule] = []
    if orders <= 0:
        return rules
    for (a, b), together in pairs.items():
        if together < min_orders:
            continue
        support = together / orders
        for x, y in ((a, b), (b, a)):
            confidence = together / categories[x]
            rules.append(Rule(x, y, support, confidence, confidence / (categories[y] / orders), together))
    rules.sort(key=lambda r: (-r.lift, -r.confidence, r.antecedent, r.consequent))
    return rules


@dataclass(frozen=True)
class Recommendation:
    category: str
    score: float
    reason: str  # "interest" | "co_purchase"
    because_of: str  # the declared interest, or the category bought
    lift: float | None = None
    confidence: float | None = None


def recommend(
    bought: set[str],
    interests: Sequence[str],
    interest_categories: Mapping[str, Sequence[str]],
    rules_by_antecedent: Mapping[str, Sequence[Rule]],
    *,
    limit: int = 3,
) -> list[Recommendation]:
    """Categories the customer has not bought: a declared interest's categories first (score 1),
    then what customers who bought the same categories also bought (score = confidence, only rules
    with lift > 1), the best reason per category; at most `limit`."""
    best: dict[str, Recommendation] = {}
    for interest in interests:
        for category in interest_categories.get(interest, ()):
            if category not in bought and category not in best:
                best[category] = Recommendation(category, 1.0, "interest", interest)
    for category in sorted(bought):
        for rule in rules_by_antecedent.get(category, ()):
            if rule.lift <= 1 or rule.consequent in bought:
                continue
            current = best.get(rule.consequent)
            if current is None or (current.reason == "co_purchase" and rule.confidence > current.score):
                best[rule.consequent] = Recommendation(
                    rule.consequent, rule.confidence, "co_purchase", category, rule.lift, rule.confidence
                )
    ranked = sorted(best.values(), key=lambda r: (-r.score, r.category))
    return ranked[:limit]


# -- advocacy -----------------------------------------------------------------------------------------

ADVOCACY_WEIGHTS: dict[str, float] = {
    "referrals_converted": 0.4,  # referred people who bought: min(n / 3, 1)
    "referrals_made": 0.15,  # min(n / 5, 1)
    "satisfaction": 0.2,  # (mean rating − 1) / 4 over rated tickets
    "rewards": 0.1,  # rewards given: min((points ever earned + points ever redeemed) / 1000, 1)
    "orders": 0.15,  # purchase days: min(n / 10, 1)
}


REWARDS_FULL = 1000.0  # points given (earned + redeemed) at which the rewards factor is full


@dataclass(frozen=True)
class Advocacy:
    score: FloatArray  # 0-100
    parts: dict[str, FloatArray]  # each factor's 0-1 value (NaN: does not apply)


def rewards_given(points_earned: FloatArray, points_redeemed: FloatArray) -> FloatArray:
    """The `rewards` factor, 0-1: the loyalty points a customer was ever given (earned: purchases,
    referrals, rewards) plus those they ever redeemed, a redemption being engagement with the
    programme, against `REWARDS_FULL`. Redeeming or letting points expire never lowers it: an
    advocate is rewarded, not a hoarder of points."""
    given = np.maximum(as_float(points_earned), 0.0) + np.maximum(as_float(points_redeemed), 0.0)
    return np.minimum(given / REWARDS_FULL, 1.0)


def advocacy(
    referrals_made: FloatArray,
    referrals_converted: FloatArray,
    satisfaction: FloatArray,
    points_earned: FloatArray,
    points_redeemed: FloatArray,
    purchases: FloatArray,
) -> Advocacy:
    """0-100: the weighted factors that apply (satisfaction only with a rated ticket), the weights
    normalised over those."""
    parts = {
        "referrals_converted": np.minimum(as_float(referrals_converted) / 3, 1.0),
        "referrals_made": np.minimum(as_float(referrals_made) / 5, 1.0),
        "satisfaction": (as_float(satisfaction) - 1) / 4,
        "rewards": rewards_given(points_earned, points_redeemed),
        "orders": np.minimum(as_float(purchases) / 10, 1.0),
    }
    n = len(as_float(purchases))
    total = np.zeros(n)
    weight = np.zeros(n)
    for name, values in parts.items():
        applies = ~np.isnan(values)
        total += np.where(applies, values, 0.0) * ADVOCACY_WEIGHTS[name]
        weight += np.where(applies, ADVOCACY_WEIGHTS[name], 0.0)
    score = 100 * total / np.where(weight > 0, weight, 1.0)
    return Advocacy(score=score, parts=parts)


# -- cohorts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortPeriod:
    offset: int  # months since the cohort's month
    customers: int
    retention: float  # customers / the cohort's size
    revenue: float


@dataclass(frozen=True)
class Cohort:
    month: str  # "YYYY-MM": the month of the customers' first purchase
    size: int
    periods: list[CohortPeriod] = field(default_factory=list)


def month_index(month: str) -> int:
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def cohorts(rows: Sequence[tuple[str, str, int, float]], last_month: str) -> list[Cohort]:
    """The triangle from (cohort month, purchase month, customers who bought that month, revenue)
    rows: every cohort gets every month from its own to `last_month`, zeros included."""
    by_cohort: dict[str, dict[int, tuple[int, float]]] = {}
    for cohort, month, customers, revenue in rows:
        by_cohort.setdefault(cohort, {})[month_index(month) - month_index(cohort)] = (customers, revenue)
    end = month_index(last_month)
    result = []
    for cohort in sorted(by_cohort):
        periods = by_cohort[cohort]
        size = periods.get(0, (0, 0.0))[0]
        span = end - month_index(cohort)
        result.append(
            Cohort(
                month=cohort,
                size=size,
                periods=[
                    CohortPeriod(
                        offset=k,
                        customers=periods.get(k, (0, 0.0))[0],
                        retention=periods.get(k, (0, 0.0))[0] / size if size else 0.0,
                        revenue=periods.get(k, (0, 0.0))[1],
                    )
                    for k in range(span + 1)
                ],
            )
        )
    return result


# -- CLV:CAC ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClvCac:
    customers: int
    spend: float
    cac: float | None  # spend / customers
    mean_clv: float | None  # mean predicted CLV (revenue)
    mean_clv_margin: float | None  # mean predicted CLV × each customer's gross margin rate
    ratio: float | None  # mean CLV margin / CAC: profit against acquisition cost (3:1 is the usual health mark)
    revenue_ratio: float | None  # mean CLV (revenue) / CAC
    payback_months: float | None  # CAC / the customers' mean monthly margin


def clv_cac(
    customers: int, spend: float, clv_sum: float, yearly_margin_sum: float, clv_margin_sum: float | None
) -> ClvCac:
    """CLV against acquisition cost: the ratio compares the profit a customer is expected to bring
    (predicted CLV × gross margin) with what acquiring them cost; `clv_margin_sum` None (not known)
    leaves it out. The revenue ratio keeps the predicted revenue against the cost."""
    cac = spend / customers if customers else None
    mean_clv = clv_sum / customers if customers else None
    mean_margin = clv_margin_sum / customers if customers and clv_margin_sum is not None else None
    ratio = mean_margin / cac if cac and mean_margin is not None else None
    revenue_ratio = mean_clv / cac if cac and mean_clv is not None else None
    monthly_margin = yearly_margin_sum / customers / 12 if customers else 0.0
    payback = cac / monthly_margin if cac is not None and monthly_margin > 0 else None
    return ClvCac(customers, spend, cac, mean_clv, mean_margin, ratio, revenue_ratio, payback)


# -- a snapshot's retention insights ---------------------------------------------------------------------

TOP_RULES = 20  # rules kept per category when recommending


class CustomerRows(Protocol):
    """The snapshot's customers as columns, one position per customer (the refresh's summaries)."""

    @property
    def contact_ids(self) -> Sequence[UUID]: ...
    @property
    def last_day(self) -> Sequence[date]: ...
    @property
    def purchases_last_year(self) -> Sequence[int]: ...
    @property
    def purchases_year_before(self) -> Sequence[int]: ...
    @property
    def referrals(self) -> Sequence[int]: ...
    @property
    def interests(self) -> Sequence[Sequence[str]]: ...
    @property
    def owner_ids(self) -> Sequence[UUID | None]: ...
    @property
    def keys(self) -> Mapping[str, Sequence[Sequence[str | None]]]: ...


@dataclass(frozen=True)
class RetentionInputs:
    """What retention reads beside the orders (each at most one row per customer), and the
    workspace's settings for it."""

    tickets: Mapping[UUID, Mapping[str, Any]]  # open_tickets, low_rated_tickets, satisfaction
    invoices: Mapping[UUID, Mapping[str, Any]]  # overdue_invoices
    contracts: Mapping[UUID, float]  # contract risk 0-1 of each customer with a live or lapsed contract
    value_added: Mapping[UUID, int]
    converted: Mapping[UUID, int]  # referred people who bought
    rewards: Mapping[UUID, Mapping[str, Any]]  # loyalty points ever earned and ever redeemed
    bought: Mapping[UUID, set[str]]  # categories each customer bought
    categories: tuple[int, Mapping[str, int], Mapping[tuple[str, str], int]]  # orders, per category, pairs
    cohorts: Sequence[tuple[str, str, int, int]]  # cohort month, month, customers, revenue in minor units
    interests: Mapping[str, Sequence[str]]  # a declared interest → its categories
    thresholds: tuple[float, float]  # churn medium, high
    active_window_days: int
    overdue_tolerance: float | None
    zone: tzinfo  # the workspace's time zone
    # per customer: engagements in the last ENGAGEMENT_PERIOD_DAYS (`last`) and the period before (`before`)
    engagements: Mapping[UUID, Mapping[str, Any]] = field(default_factory=dict)
    # the workspace's calendar when the refresh ran: cohorts' and acquisitions' months are its months
    calendar: ReportCalendar = field(default_factory=ReportCalendar)


@dataclass(frozen=True)
class Insights:
    columns: dict[str, list[Any]]  # per customer, by value column
    overdue: list[bool]  # per customer: overdue against their own rhythm
    rfm_segments: list[str]  # per customer
    snapshot: dict[str, Any]  # the snapshot's `insights`: segments, churn, cohorts, acquisition, affinity


def _column(ids: Sequence[UUID], facts: Mapping[UUID, float], default: float = 0.0) -> FloatArray:
    """A per-customer array of `facts` (`default` for a customer without one)."""
    out = np.full(len(ids), default, dtype=np.float64)
    for i, contact in enumerate(ids):
        found = facts.get(contact)
        if found is not None:
            out[i] = float(found)
    return out


def _field(ids: Sequence[UUID], facts: Mapping[UUID, Mapping[str, Any]], key: str, default: float = 0.0) -> FloatArray:
    """A per-customer array of one field of `facts` (`default` without the row or the value)."""
    out = np.full(len(ids), default, dtype=np.float64)
    for i, contact in enumerate(ids):
        found = facts.get(contact)
        if found is not None:
            value = found.get(key)
            if value is not None:
                out[i] = float(value)
    return out


def compute(
    summaries: CustomerRows,
    customers: valuation.Customers,
    result: valuation.Valuation,
    inputs: RetentionInputs,
    as_of: date,
    exponent: int,
) -> Insights:
    """Per-customer columns and the snapshot's retention summaries on `as_of`, from the customers'
    model inputs and values (money in major units; stored amounts in minor units of `exponent`)."""
    ids = summaries.contact_ids
    n = len(ids)
    scale = 10.0**-exponent
    last_day = np.array([d.toordinal() for d in summaries.last_day], dtype=np.float64)
    since = as_of.toordinal() - last_day
    purchases = customers.purchases
    segmented = rfm(since, purchases, customers.revenue)

    x = customers.frequency
    with np.errstate(divide="ignore", invalid="ignore"):
        interval = np.where(x > 0, customers.recency / x, np.nan)
    repeat_intervals = interval[~np.isnan(interval) & (interval > 0)]
    fallback = float(np.median(repeat_intervals)) if len(repeat_intervals) else None

    medium, high = inputs.thresholds
    contract = _column(ids, inputs.contracts, np.nan)
    risk = churn(
        ChurnInputs(
            p_alive=result.p_alive,
            days_since_last=since,
            typical_interval=interval,
            purchases_last_year=np.array(summaries.purchases_last_year, dtype=np.float64),
            purchases_year_before=np.array(summaries.purchases_year_before, dtype=np.float64),
            open_tickets=_field(ids, inputs.tickets, "open_tickets"),
            low_rated_tickets=_field(ids, inputs.tickets, "low_rated_tickets"),
            overdue_invoices=_field(ids, inputs.invoices, "overdue_invoices"),
            contract_risk=contract,
            engagements_last=_field(ids, inputs.engagements, "last"),
            engagements_before=_field(ids, inputs.engagements, "before"),
        ),
        weights=ChurnWeights(),
        active_window_days=float(inputs.active_window_days),
        medium=medium,
        high=high,
        fallback_interval=fallback,
    )
    at_risk = result.simple_clv * risk.score
    model = None if result.bgnbd is None else (result.bgnbd.params.r, result.bgnbd.params.alpha)
    upcoming = next_purchase(x, customers.recency, customers.age, last_day, model=model, workspace_median=fallback)
    has_contract = ~np.isnan(contract)
    own_rhythm = (x > 0) & ~has_contract  # customers with a contract are judged by it, not by their rhythm
    late = overdue(since, upcoming.interval, own_rhythm, inputs.overdue_tolerance)
    satisfaction = _field(ids, inputs.tickets, "satisfaction", np.nan)
    advocates = advocacy(
        np.array(summaries.referrals, dtype=np.float64),
        _column(ids, inputs.converted),
        satisfaction,
        _field(ids, inputs.rewards, "earned"),
        _field(ids, inputs.rewards, "redeemed"),
        purchases,
    )

    orders, per_category, pairs = inputs.categories
    rules = affinity(orders, per_category, pairs)
    by_antecedent: dict[str, list[Rule]] = {}
    for rule in rules:
        if len(by_antecedent.setdefault(rule.antecedent, [])) < TOP_RULES:
            by_antecedent[rule.antecedent].append(rule)
    recommendations = [
        [
            asdict(r)
            for r in recommend(inputs.bought.get(contact, set()), summaries.interests[i] or [], inputs.interests,
                               by_antecedent)
        ]
        for i, contact in enumerate(ids)
    ]  # fmt: skip

    revenue_total = float(customers.revenue.sum())
    segment_of, level_of = np.array(segmented.segment, dtype=object), np.array(risk.level, dtype=object)
    segments = []
    for segment, label in SEGMENTS.items():
        members = segment_of == segment
        revenue = float(customers.revenue[members].sum())
        segments.append({
            "segment": segment, "label": label, "customers": int(members.sum()),
            "share": float(members.sum()) / n if n else 0.0, "revenue": estimate_text(revenue, exponent),
            "revenue_share": revenue / revenue_total if revenue_total > 0 else 0.0,
        })  # fmt: skip
    churn_summary = {
        level: {
            "customers": int((level_of == level).sum()),
            "clv_at_risk": estimate_text(float(at_risk[level_of == level].sum()), exponent),
        }
        for level in ("low", "medium", "high")
    }
    last_month = periods.label(periods.period_start(as_of, "month", inputs.calendar), "month", inputs.calendar)
    triangle = cohorts([(c, m, k, r * scale) for c, m, k, r in inputs.cohorts], last_month)
    cohort_rows = [
        {
            "month": c.month,
            "customers": c.size,
            "periods": [
                {"offset": p.offset, "customers": p.customers, "retention": p.retention,
                 "revenue": estimate_text(p.revenue, exponent)}
                for p in c.periods
            ],
        }
        for c in triangle
    ]  # fmt: skip
    acquisition: dict[tuple[str | None, str | None], list[float]] = {}
    yearly_margin = result.average_order_value * result.purchases_per_year * result.margin_rate
    # CLV:CAC's months are the workspace calendar's (`acquisition_period`); without them, Gregorian.
    acquired_in = summaries.keys.get("acquisition_period") or summaries.keys["acquisition_month"]
    for i in range(n):
        channel = summaries.keys["acquisition_channel"][i]
        key = (channel[0] if channel else None, acquired_in[i][0])
        totals = acquisition.setdefault(key, [0, 0.0, 0.0, 0.0, 0.0])
        totals[0] += 1
        totals[1] += float(result.predicted_clv[i])
        totals[2] += float(customers.revenue[i])
        totals[3] += float(yearly_margin[i])
        totals[4] += float(result.predicted_margin[i])
    return Insights(
        columns={
            "days_since_last": since.astype(np.int64).tolist(),
            "recency_score": segmented.recency.tolist(),
            "frequency_score": segmented.frequency.tolist(),
            "monetary_score": segmented.monetary.tolist(),
            "rfm_segment": segmented.segment,
            "churn_score": risk.score.tolist(),
            "churn_level": risk.level,
            "churn_reasons": [[asdict(r) for r in reasons] for reasons in risk.reasons],
            "clv_at_risk_minor": np.rint(at_risk / scale).astype(np.int64).tolist(),
            "recommendations": recommendations,
            "open_recommendations": [len(r) for r in recommendations],
            "advocacy_score": advocates.score.tolist(),
            "advocacy": [
                {name: (None if np.isnan(values[i]) else float(values[i])) for name, values in advocates.parts.items()}
                for i in range(n)
            ],
            "value_added_deals": [inputs.value_added.get(contact, 0) for contact in ids],
            "owner_id": list(summaries.owner_ids),
            "acquisition_channel": [k[0] if k else None for k in summaries.keys["acquisition_channel"]],
            "acquisition_month": [k[0] for k in summaries.keys["acquisition_month"]],
            "purchase_interval_days": [None if np.isnan(v) else v for v in upcoming.interval.tolist()],
            "next_purchase_basis": upcoming.basis,
            "expected_next_purchase_at": local_midnights(upcoming.expected_day, inputs.zone),
        },
        overdue=late.tolist(),
        rfm_segments=segmented.segment,
        snapshot={
            "rfm": {"segments": segments, "previous_snapshot_id": None, "moves": None},
            "churn": churn_summary,
            "calendar": inputs.calendar.kind,  # the calendar of the cohorts' and acquisitions' months
            "cohorts": cohort_rows,
            "acquisition": [
                {"channel": channel, "month": month, "customers": int(v[0]), "predicted_clv": v[1],
                 "historic_revenue": v[2], "yearly_margin": v[3], "predicted_margin": v[4]}
                for (channel, month), v in sorted(acquisition.items(),
                                                  key=lambda kv: (kv[0][0] or "", kv[0][1] or ""))
            ],
            "affinity": [asdict(rule) for rule in rules[:100]],
        },
    )  # fmt: skip


def local_midnights(days: FloatArray, zone: tzinfo) -> list[datetime | None]:
    """Day numbers (date ordinals; NaN: unknown) as the start of that day in the workspace's time zone."""
    last = date.max.toordinal()
    seen: dict[int, datetime | None] = {}
    out: list[datetime | None] = []
    for value in days.tolist():
        if value != value or not 1 <= value <= last:  # NaN, or past the calendar
            out.append(None)
            continue
        day = int(value)
        if day not in seen:
            seen[day] = datetime.combine(date.fromordinal(day), time(), tzinfo=zone).astimezone(UTC)
        out.append(seen[day])
    return out
