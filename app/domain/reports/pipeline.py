"""The pipeline report, pure: open opportunities by stage and expected close period, weighted by
their stage probability and by the workspace's own win rate per stage (calibrated from closed
opportunities), and a Monte Carlo forecast of won revenue per period with P10/P50/P90.

Amounts are integer minor units of one currency (the caller converts to the reporting currency and
leaves out what it cannot convert); an opportunity without an amount counts as 0. Nothing here reads
the clock: `today` is passed in.

Calibration (`calibrate`). For each open stage, the closed opportunities that were ever at that
stage (created at it or moved to it) give `won` of `closed`. The rate is the mean of a Beta prior
centred on the stage's default probability p0 with a weight of PRIOR_WEIGHT pseudo-opportunities,
updated by that history: (won + PRIOR_WEIGHT * p0) / (closed + PRIOR_WEIGHT). With fewer than
MIN_CLOSED such opportunities the stage keeps p0 (`source: "stage_probability"`).

Placement (`weighted`, `simulate`). Periods are (start, end) date pairs, both ends inclusive,
ascending and not overlapping. An opportunity is placed by its effective close date,
max(expected_close_date, today) (today defaults to the first period's start): an overdue one, still
open, is taken as closing today, so with the default it lands in the first period (counted in
`overdue`). One without an expected close date is `undated`; one whose effective date falls in no
period (after the last, before the first, in a gap) is `outside`. Both are counted, with their
amount and expected value, and left out of the per-period forecast and its total.

Forecast (`simulate`). Each opportunity is won, independently, with its win probability: its
stage's calibrated rate (`basis="calibrated"`) or its own `probability` / 100
(`basis="stage_probability"`), its amount then counting in its period. Probability 1 always counts,
0 never. Draws come from numpy's Generator(PCG64(seed)), SEED by default: the same opportunities
(in any order) with the same seed and draws give the same numbers. Per period, the opportunities
that most shape the distribution are drawn one by one (exact Bernoulli draws), the rest as one
normal variate with their sum's mean and variance, clipped to the sums they can reach; see
`_plan` for the rule (a Lyapunov ratio bound, with a cap on the exact work).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from app.domain.customers.opportunities import CLOSED, DEFAULT_PROBABILITY, OpportunityStage

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

OPEN_STAGES: tuple[str, ...] = tuple(s.value for s in OpportunityStage if s not in CLOSED)
STAGE_PROBABILITY: dict[str, int] = {s.value: p for s, p in DEFAULT_PROBABILITY.items() if s not in CLOSED}

PRIOR_WEIGHT = 10  # pseudo-opportunities behind each stage's default probability
MIN_CLOSED = 20  # closed opportunities a stage needs before its history counts at all
SEED = 1729  # the forecast's default seed
DRAWS = 10_000  # the forecast's default number of draws
QUANTILES = (0.1, 0.5, 0.9)  # P10, P50, P90 of won revenue: P10 is the low (pessimistic) one
# The normal part of a period is used only while its Lyapunov ratio sum E|X - mu|^3 / sigma^3 is at
# most this (Berry-Esseen: the normal CDF is then within 0.56 * 0.1 of the true one, in practice far
# closer; the skewness, the main error at P10/P50/P90, is at most the ratio).
MAX_LYAPUNOV = 0.1
# At most this many (draw, opportunity) Bernoulli cells per forecast, whatever the draws: with
# 10,000 draws, 400 opportunities drawn one by one. Past it, each period's exact set shrinks in
# proportion and the period takes the split with the lowest ratio it can afford (reported).
EXACT_CELLS = 4_000_000
CHUNK_CELLS = 1_000_000  # uniforms made at once

Source = Literal["history", "stage_probability"]
Basis = Literal["calibrated", "stage_probability"]
Placement = Literal["period", "undated", "outside"]

UNDATED = -1
OUTSIDE = -2


@dataclass(frozen=True, slots=True)
class ClosedOpportunity:
    """A won or lost opportunity and the open stages it was ever recorded at before closing."""

    won: bool
    stages: frozenset[str]


@dataclass(frozen=True, slots=True)
class OpenOpportunity:
    stage: str
    probability: int  # 0-100: its stage's default unless someone set it
    amount_minor: int | None
    expected_close_date: date | None


@dataclass(frozen=True, slots=True)
class StageRate:
    stage: str
    closed: int  # closed opportunities that were ever at this stage
    won: int  # of which won
    rate: float  # the win probability the report uses, 0-1
    source: Source
    prior: float  # the stage's default probability, 0-1 (the prior's mean; the fallback)
    observed: float | None  # won / closed; None with no history


@dataclass(frozen=True, slots=True)
class WeightedCell:
    """Open opportunities of one stage in one period (`period` its index), or undated / outside
    every period (`period` None)."""

    stage: str
    period: int | None
    placement: Placement
    count: int
    overdue: int  # of `count`, expected to close before `today` (placed by today)
    without_amount: int  # of `count`, counted as 0
    amount: int
    stage_weighted: int  # sum of amount * probability / 100, rounded half-even once
    rate_weighted: int  # sum of amount * calibrated rate, rounded half-even once


@dataclass(frozen=True, slots=True)
class PeriodForecast:
    start: date
    end: date
    count: int
    overdue: int
    amount: int  # what the period's opportunities are worth if all are won
    expected: float  # the exact mean of won revenue (not the draws' mean), minor units
    p10: int  # quantiles of the draws, rounded to the minor unit
    p50: int
    p90: int
    exact: int  # opportunities drawn one by one; the other uncertain ones by the normal part
    lyapunov: float  # the normal part's ratio (0: none)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Won revenue over every period together (the same draws, summed)."""

    count: int
    overdue: int
    amount: int
    expected: float
    p10: int
    p50: int
    p90: int


@dataclass(frozen=True, slots=True)
class Unplaced:
    """Opportunities left out of the forecast: their count, amount and expected won revenue."""

    count: int
    amount: int
    expected: float


@dataclass(frozen=True, slots=True)
class PipelineForecast:
    periods: tuple[PeriodForecast, ...]
    total: Outcome
    undated: Unplaced
    outside: Unplaced
    draws: int
    seed: int
    basis: Basis


# -- calibration --------------------------------------------------------------------------------


def calibrate(
    closed: Sequence[ClosedOpportunity],
    stages: Sequence[str],
    default_probability: Mapping[str, int],
    *,
    prior_weight: float = PRIOR_WEIGHT,
    min_closed: int = MIN_CLOSED,
) -> dict[str, StageRate]:
    """Each stage's win rate, in the order of `stages`: (won + prior_weight * p0) / (closed +
    prior_weight) over the closed opportunities that were ever at the stage, or p0 (the stage's
    default probability / 100) while fewer than `min_closed` were. Stages a closed opportunity
    lists that are not in `stages` (won, lost) are ignored."""
    rates: dict[str, StageRate] = {}
    for stage in stages:
        prior = _probability(default_probability[stage], stage) / 100
        closed_here = [c for c in closed if stage in c.stages]
        n, won = len(closed_here), sum(1 for c in closed_here if c.won)
        observed = won / n if n else None
        if n < min_closed:
            rates[stage] = StageRate(stage, n, won, prior, "stage_probability", prior, observed)
        else:
            rate = (won + prior_weight * prior) / (n + prior_weight)
            rates[stage] = StageRate(stage, n, won, rate, "history", prior, observed)
    return rates


# -- placement ----------------------------------------------------------------------------------


def _check_periods(periods: Sequence[tuple[date, date]]) -> None:
    if not periods:
        raise ValueError("give at least one period")
    for i, (start, end) in enumerate(periods):
        if start > end:
            raise ValueError(f"period {i} ends before it starts")
        if i and start <= periods[i - 1][1]:
            raise ValueError(f"period {i} starts before period {i - 1} ends: periods ascend without overlap")


def _place(
    opportunities: Sequence[OpenOpportunity], periods: Sequence[tuple[date, date]], today: date | None
) -> tuple[IntArray, NDArray[np.bool_]]:
    """(period index, UNDATED or OUTSIDE; overdue) of each opportunity."""
    _check_periods(periods)
    now = (today or periods[0][0]).toordinal()
    starts = [s.toordinal() for s, _ in periods]
    ends = [e.toordinal() for _, e in periods]
    index = np.empty(len(opportunities), dtype=np.int64)
    overdue = np.zeros(len(opportunities), dtype=np.bool_)
    for i, o in enumerate(opportunities):
        if o.expected_close_date is None:
            index[i] = UNDATED
            continue
        day = o.expected_close_date.toordinal()
        if day < now:
            overdue[i] = True
            day = now
        k = bisect.bisect_right(starts, day) - 1
        index[i] = k if k >= 0 and day <= ends[k] else OUTSIDE
    return index, overdue


def _probability(value: int, stage: str) -> int:
    if not 0 <= value <= 100:
        raise ValueError(f"probability {value} of stage {stage} is not in 0-100")
    return value


def _rate(rates: Mapping[str, StageRate], stage: str) -> float:
    try:
        return rates[stage].rate
    except KeyError:
        raise ValueError(f"no rate for stage {stage!r}: an open opportunity's stage must be calibrated") from None


# -- weighted view ------------------------------------------------------------------------------


def weighted(
    opportunities: Sequence[OpenOpportunity],
    rates: Mapping[str, StageRate],
    periods: Sequence[tuple[date, date]],
    *,
    today: date | None = None,
) -> list[WeightedCell]:
    """Every (stage, period) cell, in the order of `rates` then of `periods`, then each stage's
    undated and outside cells; empty cells included. Sums are exact integers until the one
    half-even rounding of each weighted sum."""
    index, overdue = _place(opportunities, periods, today)
    keys: list[tuple[int | None, Placement]] = [(k, "period") for k in range(len(periods))]
    keys += [(None, "undated"), (None, "outside")]
    slot = {UNDATED: len(periods), OUTSIDE: len(periods) + 1}
    # per stage and slot: count, overdue, without amount, amount, sum amount * probability, rate sum
    ints: dict[str, list[list[int]]] = {s: [[0, 0, 0, 0, 0] for _ in keys] for s in rates}
    floats: dict[str, list[list[float]]] = {s: [[] for _ in keys] for s in rates}
    for i, o in enumerate(opportunities):
        rate = _rate(rates, o.stage)
        probability = _probability(o.probability, o.stage)
        k = int(index[i])
        j = slot.get(k, k)
        amount = o.amount_minor or 0
        cell = ints[o.stage][j]
        cell[0] += 1
        cell[1] += bool(overdue[i])
        cell[2] += o.amount_minor is None
        cell[3] += amount
        cell[4] += amount * probability
        floats[o.stage][j].append(amount * rate)
    return [
        WeightedCell(
            stage=stage,
            period=key[0],
            placement=key[1],
            count=ints[stage][j][0],
            overdue=ints[stage][j][1],
            without_amount=ints[stage][j][2],
            amount=ints[stage][j][3],
            stage_weighted=_divide(ints[stage][j][4], 100),
            rate_weighted=round(math.fsum(floats[stage][j])),
        )
        for stage in rates
        for j, key in enumerate(keys)
    ]


def _divide(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-even, exactly."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


# -- forecast -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Period:
    """One period's opportunities split for drawing: the sure sum (probability 1), the uncertain
    ones in drawing order (most shaping first), and the Lyapunov ratio of the rest after m of them."""

    sure: int
    amounts: IntArray
    probabilities: FloatArray
    ratios: FloatArray  # ratios[m]: the ratio when the first m are exact; ratios[n] = 0
    wanted: int  # the fewest exact ones that bring the ratio to MAX_LYAPUNOV


def _plan(amounts: IntArray, probabilities: FloatArray) -> _Period:
    """Probability 1 is a constant, 0 nothing. The rest are ordered by their third absolute
    central moment a^3 p q (p^2 + q^2), largest first (ties by probability and amount, so the input
    order never matters); drawing the first m exactly leaves the others' sum to a normal with mean
    sum a p and variance sum a^2 p q, whose Lyapunov ratio is sum of the rest's third moments over
    their variance^1.5. `wanted` is the smallest m whose ratio is at most MAX_LYAPUNOV (m = n has
    none left, ratio 0)."""
    sure = int(amounts[probabilities >= 1].sum())
    uncertain = (probabilities > 0) & (probabilities < 1)
    a, p = amounts[uncertain], probabilities[uncertain]
    scale = float(np.abs(a).max()) if len(a) else 1.0
    x = a / (scale or 1.0)
    q = 1 - p
    third = np.abs(x) ** 3 * p * q * (p * p + q * q)
    variance = x * x * p * q
    order = np.lexsort((a, p, -third))
    a, p, third, variance = a[order], p[order], third[order], variance[order]
    tail_third = np.concatenate([np.cumsum(third[::-1])[::-1], [0.0]])
    tail_variance = np.concatenate([np.cumsum(variance[::-1])[::-1], [0.0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(tail_variance > 0, tail_third / np.maximum(tail_variance, 1e-300) ** 1.5, 0.0)
    wanted = int(np.argmax(ratios <= MAX_LYAPUNOV))  # ratios[n] = 0: always found
    return _Period(sure, a.astype(np.int64), p, ratios, wanted)


def _exact_counts(plans: Sequence[_Period], draws: int) -> list[int]:
    """Each period's wanted exact set when all fit EXACT_CELLS; else each gets a share of the budget
    in proportion to what it wanted, and within it the split with the lowest ratio."""
    budget = EXACT_CELLS // draws
    wanted = sum(p.wanted for p in plans)
    if wanted <= budget:
        return [p.wanted for p in plans]
    caps = [budget * p.wanted // wanted for p in plans]
    return [int(np.argmin(p.ratios[: cap + 1])) for p, cap in zip(plans, caps, strict=True)]


def _draw(plan: _Period, m: int, draws: int, rng: np.random.Generator) -> FloatArray:
    """Won revenue of one period in each draw: the sure sum, the first m drawn one by one (int64
    sums), and the rest as one clipped normal variate."""
    exact = np.zeros(draws, dtype=np.int64)
    if m:
        a, p = plan.amounts[:m], plan.probabilities[:m]
        rows = max(1, CHUNK_CELLS // m)
        for start in range(0, draws, rows):
            stop = min(draws, start + rows)
            won = rng.random((stop - start, m)) < p
            exact[start:stop] = won.astype(np.int64) @ a
    out = exact.astype(np.float64) + plan.sure
    a, p = plan.amounts[m:].astype(np.float64), plan.probabilities[m:]
    if len(a):
        mean = float(a @ p)
        sd = math.sqrt(float((a * a) @ (p * (1 - p))))
        rest = rng.normal(mean, sd, draws)
        out += np.clip(rest, float(np.minimum(a, 0).sum()), float(np.maximum(a, 0).sum()))
    return out


def _quantiles(values: FloatArray) -> tuple[int, int, int]:
    low, mid, high = (round(float(v)) for v in np.quantile(values, QUANTILES))
    return low, mid, high


def simulate(
    opportunities: Sequence[OpenOpportunity],
    rates: Mapping[str, StageRate],
    periods: Sequence[tuple[date, date]],
    *,
    draws: int = DRAWS,
    seed: int = SEED,
    today: date | None = None,
    basis: Basis = "calibrated",
) -> PipelineForecast:
    """Won revenue per period and in all: the exact expectation and P10/P50/P90 over `draws`
    draws (numpy Generator(PCG64(seed)); periods drawn in order, each one's exact part before its
    normal part). Quantiles: numpy's linear interpolation between draws, rounded to the minor unit.
    Placement and the approximation: the module's docstring."""
    if draws < 1:
        raise ValueError("draws must be at least 1")
    index, overdue = _place(opportunities, periods, today)
    amounts = np.array([o.amount_minor or 0 for o in opportunities], dtype=object)
    if sum(abs(int(a)) for a in amounts) >= 2**63:
        raise ValueError("the amounts' sum does not fit a 64-bit integer")
    amount = amounts.astype(np.int64)
    if basis == "calibrated":
        by_stage = {s: _rate(rates, s) for s in {o.stage for o in opportunities}}
        probability = np.array([by_stage[o.stage] for o in opportunities], dtype=np.float64)
    else:
        probability = np.array([_probability(o.probability, o.stage) / 100 for o in opportunities], dtype=np.float64)
    expected = amount.astype(np.float64) * probability

    rng = np.random.Generator(np.random.PCG64(seed))
    masks = [index == k for k in range(len(periods))]
    plans = [_plan(amount[mask], probability[mask]) for mask in masks]
    counts = _exact_counts(plans, draws)
    total = np.zeros(draws, dtype=np.float64)
    forecasts: list[PeriodForecast] = []
    for (start, end), mask, plan, m in zip(periods, masks, plans, counts, strict=True):
        won = _draw(plan, m, draws, rng)
        total += won
        p10, p50, p90 = _quantiles(won)
        forecasts.append(
            PeriodForecast(
                start=start,
                end=end,
                count=int(mask.sum()),
                overdue=int((mask & overdue).sum()),
                amount=int(amount[mask].sum()),
                expected=math.fsum(expected[mask]),
                p10=p10,
                p50=p50,
                p90=p90,
                exact=m,
                lyapunov=float(plan.ratios[m]),
            )
        )
    placed = index >= 0
    p10, p50, p90 = _quantiles(total)
    outcome = Outcome(
        count=int(placed.sum()),
        overdue=int((placed & overdue).sum()),
        amount=int(amount[placed].sum()),
        expected=math.fsum(expected[placed]),
        p10=p10,
        p50=p50,
        p90=p90,
    )

    def unplaced(where: int) -> Unplaced:
        mask = index == where
        return Unplaced(int(mask.sum()), int(amount[mask].sum()), math.fsum(expected[mask]))

    return PipelineForecast(tuple(forecasts), outcome, unplaced(UNDATED), unplaced(OUTSIDE), draws, seed, basis)
