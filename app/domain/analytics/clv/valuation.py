"""Every customer's value at once, from their summary in days: historic, simple, retention-based
and predictive CLV (BG/NBD + Gamma-Gamma, or a documented fallback).

Formulas (money in the reporting currency's major units, time in days):
- historic revenue: net value of the purchases so far; historic margin: revenue − cost where the
  orders carry a cost, the default margin rate applied to the rest.
- purchases per year = purchase days × 365 / max(T + 1, 90): the customer's own rate over the days
  they have been observed (first purchase day to the analysis day, both included), at least
  MIN_SPAN_DAYS so that a customer of a few days is not extrapolated from them; average order
  value = revenue / purchase days.
- yearly retention r: of the customers who bought in the year before last (days T−729 … T−365 of
  the analysis date), the share who bought again in the last year (T−364 … T); or the setting.
  The annual churn rate is 1 − r and the expected relationship length 1 / (1 − r) years. When
  churn cannot be observed (nobody bought in the year before last) and no rate is set, the
  relationship length is the `default_relationship_years` setting and r = 1 − 1 / years. Bounds: r ≤ MAX_RETENTION,
  so the length stays within 1 … 20 years.
- simple CLV = average order value × purchases per year × expected relationship years.
- retention-based CLV = yearly margin × r / (1 + d − r), yearly margin = average order value ×
  purchases per year × the customer's margin rate, d the yearly discount rate.
- predictive CLV = E[value of a purchase] × Σₖ₌₁..ₘ (E[purchases by month k] − E[purchases by
  month k−1]) / (1 + d_m)^k over a horizon of m months of `month_length_days`, d_m the monthly rate.
  The fallback model ("simple": too few repeat buyers, or a fit that did not converge) assumes the
  customer keeps buying at their purchases-per-year rate measured over at least a year (purchase
  days × 365 / max(T + 1, 365): a prediction is not extrapolated from a few weeks) and spends
  their average order value; it reports no P(alive).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from app.domain.analytics.clv import bgnbd, gamma_gamma
from app.domain.analytics.clv.arrays import FloatArray, as_float

MAX_RETENTION = 0.95  # expected relationship years 1 / (1 − r) at most 20
DAYS_PER_YEAR = 365
MIN_SPAN_DAYS = 90  # a customer's purchase rate is measured over at least this many days


@dataclass(frozen=True)
class ValuationSettings:
    default_margin: float = 0.3
    yearly_discount_rate: float = 0.1
    monthly_discount_rate: float = 0.01
    horizon_months: int = 12
    month_length_days: float = 30.0
    min_repeat_buyers: int = 30
    yearly_retention_rate: float | None = None  # None: observed
    default_relationship_years: float = 3.0  # when churn cannot be observed


@dataclass(frozen=True)
class Customers:
    """Per-customer inputs (equal-length arrays); days as the time unit, money in major units."""

    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    monetary: FloatArray  # mean value of the repeat purchase days (NaN without any)
    revenue: FloatArray  # net value of every purchase
    margin: FloatArray  # historic margin
    bought_year_before_last: FloatArray  # 1/0
    bought_last_year: FloatArray  # 1/0

    @property
    def purchases(self) -> FloatArray:
        return as_float(self.frequency) + 1


@dataclass(frozen=True)
class Retention:
    rate: float
    source: Literal["observed", "setting", "fallback"]
    customers_year_before_last: int
    retained: int

    @property
    def annual_churn_rate(self) -> float:
        return 1.0 - self.rate

    @property
    def expected_years(self) -> float:
        """The expected length of a relationship: 1 / the annual churn rate (1 … 20 years)."""
        return 1.0 / self.annual_churn_rate


@dataclass(frozen=True)
class Valuation:
    model: Literal["bgnbd", "simple"]
    reason: str | None  # why the fallback model was used
    spend_model: Literal["gamma_gamma", "average"]
    bgnbd: bgnbd.BgNbdFit | None
    gamma_gamma: gamma_gamma.GammaGammaFit | None
    retention: Retention
    average_order_value: FloatArray
    purchases_per_year: FloatArray
    margin_rate: FloatArray
    simple_clv: FloatArray
    retention_clv: FloatArray
    expected_purchases_90: FloatArray
    expected_purchases_365: FloatArray
    p_alive: FloatArray  # NaN under the fallback model
    expected_value: FloatArray
    predicted_clv: FloatArray
    predicted_margin: FloatArray


def historic_margin(
    revenue_with_cost: FloatArray, cost: FloatArray, revenue_without_cost: FloatArray, default_margin: float
) -> FloatArray:
    """Revenue − cost for the purchases with a known cost, the default margin rate on the rest."""
    return as_float(revenue_with_cost) - as_float(cost) + as_float(revenue_without_cost) * default_margin


def bounded_retention(rate: float) -> float:
    return min(max(rate, 0.0), MAX_RETENTION)


def yearly_retention(customers: Customers, setting: float | None, fallback_years: float = 3.0) -> Retention:
    """r set, observed (the year before last's buyers who bought again in the last year), or, when
    nobody bought in the year before last, the one that gives `fallback_years` of relationship."""
    before = as_float(customers.bought_year_before_last) > 0
    retained = before & (as_float(customers.bought_last_year) > 0)
    base, kept = int(before.sum()), int(retained.sum())
    if setting is not None:
        return Retention(bounded_retention(setting), "setting", base, kept)
    if base == 0:
        return Retention(bounded_retention(1.0 - 1.0 / max(fallback_years, 1.0)), "fallback", 0, 0)
    return Retention(bounded_retention(kept / base), "observed", base, kept)


def simple_clv(average_order_value: FloatArray, purchases_per_year: FloatArray, expected_years: float) -> FloatArray:
    """Average purchase value × purchase frequency (a year) × length of the relationship (years)."""
    return as_float(average_order_value) * as_float(purchases_per_year) * expected_years


def retention_clv(yearly_margin: FloatArray, retention_rate: float, discount_rate: float) -> FloatArray:
    """m · r / (1 + d − r)."""
    r = min(retention_rate, MAX_RETENTION)
    return as_float(yearly_margin) * r / (1.0 + discount_rate - r)


def discount_factors(months: int, monthly_rate: float) -> FloatArray:
    return np.power(1.0 + monthly_rate, -np.arange(1, months + 1, dtype=np.float64))


def discounted_purchases(
    params: bgnbd.BgNbdParams,
    frequency: FloatArray,
    recency: FloatArray,
    age: FloatArray,
    *,
    months: int,
    month_length: float,
    monthly_rate: float,
) -> FloatArray:
    """Σₖ (E[purchases by month k] − E[purchases by month k−1]) / (1 + d)^k per customer."""
    if months == 0 or len(as_float(frequency)) == 0:
        return np.zeros(len(as_float(frequency)))
    horizons = np.arange(1, months + 1, dtype=np.float64) * month_length
    cumulative = bgnbd.expected_purchases(params, frequency, recency, age, horizons)
    per_month = np.diff(cumulative, axis=1, prepend=0.0)
    return np.asarray(per_month @ discount_factors(months, monthly_rate), dtype=np.float64)


def purchase_rate(frequency: FloatArray, age: FloatArray, min_span: float = MIN_SPAN_DAYS) -> FloatArray:
    """Purchases per year: purchase days × 365 / max(T + 1, min_span) (T in days): the customer's
    own rate over the days observed since their first purchase, at least `min_span` of them."""
    return (as_float(frequency) + 1) * DAYS_PER_YEAR / np.maximum(as_float(age) + 1, min_span)


def fit_purchases(
    frequency: FloatArray, recency: FloatArray, age: FloatArray, min_repeat_buyers: int
) -> tuple[bgnbd.BgNbdFit | None, str | None]:
    """The BG/NBD fit to use, or None and why the simple model is used instead."""
    repeat_buyers = int((as_float(frequency) > 0).sum())
    if repeat_buyers < max(min_repeat_buyers, 1):
        return None, f"{repeat_buyers} repeat buyers, fewer than the {min_repeat_buyers} needed to fit BG/NBD"
    fit = bgnbd.fit(frequency, recency, age)
    if not fit.converged or fit.at_bound or not np.isfinite(fit.log_likelihood):
        return None, "the BG/NBD fit did not converge to an interior optimum (the data cannot identify the model)"
    with np.errstate(all="ignore"):
        probe = bgnbd.expected_purchases(fit.params, frequency, recency, age, float(DAYS_PER_YEAR))
    if not np.all(np.isfinite(probe)):
        # A degenerate optimum (e.g. r and alpha in the millions from a handful of customers):
        # its likelihood is finite, its predictions are not.
        return None, "the BG/NBD fit gives no finite prediction (the data cannot identify the model)"
    return fit, None


def value(customers: Customers, settings: ValuationSettings) -> Valuation:
    x, t_x, age = as_float(customers.frequency), as_float(customers.recency), as_float(customers.age)
    n = len(x)
    purchases = x + 1
    revenue = as_float(customers.revenue)
    with np.errstate(divide="ignore", invalid="ignore"):
        aov = np.where(purchases > 0, revenue / purchases, 0.0)
        margin_rate = np.where(revenue > 0, as_float(customers.margin) / revenue, settings.default_margin)
    per_year = purchase_rate(x, age)
    retention = yearly_retention(customers, settings.yearly_retention_rate, settings.default_relationship_years)
    simple = simple_clv(aov, per_year, retention.expected_years)
    by_retention = retention_clv(aov * per_year * margin_rate, retention.rate, settings.yearly_discount_rate)

    fit, reason = fit_purchases(x, t_x, age, settings.min_repeat_buyers)

    spend_fit: gamma_gamma.GammaGammaFit | None = None
    monetary = as_float(customers.monetary)
    if int(gamma_gamma.usable(x, monetary).sum()) >= 2:
        candidate = gamma_gamma.fit(x, monetary)
        if candidate.converged and not candidate.at_bound and candidate.params.population_mean is not None:
            spend_fit = candidate
    spent = gamma_gamma.expected_value(spend_fit.params, x, monetary) if spend_fit is not None else aov.copy()

    months, month_length = settings.horizon_months, settings.month_length_days
    if fit is not None:
        params = fit.params
        expected_90 = bgnbd.expected_purchases(params, x, t_x, age, 90.0)
        expected_365 = bgnbd.expected_purchases(params, x, t_x, age, float(DAYS_PER_YEAR))
        alive = bgnbd.p_alive(params, x, t_x, age)
        purchases_ahead = discounted_purchases(
            params, x, t_x, age, months=months, month_length=month_length, monthly_rate=settings.monthly_discount_rate
        )
        model: Literal["bgnbd", "simple"] = "bgnbd"
    else:
        daily = purchase_rate(x, age, DAYS_PER_YEAR) / DAYS_PER_YEAR
        expected_90, expected_365 = daily * 90, daily * DAYS_PER_YEAR
        alive = np.full(n, np.nan)
        per_month = daily * month_length
        purchases_ahead = per_month * float(discount_factors(months, settings.monthly_discount_rate).sum())
        model = "simple"
    predicted = np.maximum(spent * purchases_ahead, 0.0)
    return Valuation(
        model=model,
        reason=reason,
        spend_model="gamma_gamma" if spend_fit is not None else "average",
        bgnbd=fit,
        gamma_gamma=spend_fit,
        retention=retention,
        average_order_value=aov,
        purchases_per_year=per_year,
        margin_rate=margin_rate,
        simple_clv=simple,
        retention_clv=by_retention,
        expected_purchases_90=expected_90,
        expected_purchases_365=expected_365,
        p_alive=alive,
        expected_value=spent,
        predicted_clv=predicted,
        predicted_margin=predicted * margin_rate,
    )


@dataclass(frozen=True)
class HoldoutBucket:
    frequency: str  # the calibration frequency: "0" … "6", then "7+"
    customers: int
    predicted: float  # Σ E[purchases in the holdout | calibration history]
    actual: int


@dataclass(frozen=True)
class Holdout:
    model: Literal["bgnbd", "simple"]
    reason: str | None
    fit: bgnbd.BgNbdFit | None
    buckets: list[HoldoutBucket]


HOLDOUT_BUCKETS = 7  # frequencies 0 … 6 each, then 7 and more together (as in FHL 2005, figure 3)


def holdout_check(
    frequency: FloatArray,
    recency: FloatArray,
    age: FloatArray,
    holdout_length: float,
    actual: FloatArray,
    *,
    min_repeat_buyers: int,
    params: bgnbd.BgNbdParams | None = None,
) -> Holdout:
    """Fit on the calibration summary (or use `params`), then predicted vs actual purchases in the
    holdout period per calibration frequency. Without a usable fit, the simple model's prediction
    (each customer's purchases-per-year rate; days as the unit)."""
    x = as_float(frequency)
    fit, reason = (None, None) if params is not None else fit_purchases(x, recency, age, min_repeat_buyers)
    chosen = params if params is not None else (fit.params if fit is not None else None)
    if chosen is not None:
        predicted = bgnbd.expected_purchases(chosen, x, recency, age, holdout_length) if len(x) else np.zeros(0)
    else:
        predicted = purchase_rate(x, age, DAYS_PER_YEAR) * holdout_length / DAYS_PER_YEAR
    bucket = np.minimum(x, HOLDOUT_BUCKETS).astype(np.int64)
    actual = as_float(actual)
    buckets = []
    for index in range(HOLDOUT_BUCKETS + 1):
        members = bucket == index
        buckets.append(
            HoldoutBucket(
                frequency=str(index) if index < HOLDOUT_BUCKETS else f"{HOLDOUT_BUCKETS}+",
                customers=int(members.sum()),
                predicted=float(predicted[members].sum()),
                actual=int(actual[members].sum()),
            )
        )
    return Holdout("bgnbd" if chosen is not None else "simple", reason, fit, buckets)
