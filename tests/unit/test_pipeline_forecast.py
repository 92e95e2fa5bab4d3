"""The pipeline report in the pure domain: stage win rates calibrated against hand-computed numbers
(with the prior) and the fallback, the weighted view, period placement (overdue, undated, outside),
and the Monte Carlo forecast: reproducible by seed and order-free, sure and hopeless deals, P50 and
the spread near the analytic values, and the normal part agreeing with drawing every deal."""

from __future__ import annotations

import math
import random
from datetime import date

import numpy as np
import pytest

from app.domain.reports import pipeline as pl
from app.domain.reports.pipeline import ClosedOpportunity, OpenOpportunity, StageRate

STAGES = pl.OPEN_STAGES
DEFAULTS = pl.STAGE_PROBABILITY
JAN = (date(2027, 1, 1), date(2027, 1, 31))
FEB = (date(2027, 2, 1), date(2027, 2, 28))
MAR = (date(2027, 3, 1), date(2027, 3, 31))
QUARTER = [JAN, FEB, MAR]
Z90 = 1.2815515655446004  # the standard normal's 90th percentile


def closed(count: int, won: bool, *stages: str) -> list[ClosedOpportunity]:
    return [ClosedOpportunity(won, frozenset(stages))] * count


def opportunity(
    stage: str, amount: int | None, day: date | None = JAN[0], probability: int | None = None
) -> OpenOpportunity:
    return OpenOpportunity(stage, DEFAULTS[stage] if probability is None else probability, amount, day)


def rates_of(**rates: float) -> dict[str, StageRate]:
    return {s: StageRate(s, 100, round(100 * r), r, "history", DEFAULTS[s] / 100, r) for s, r in rates.items()}


def many(n: int, seed: int, day: date = JAN[0]) -> list[OpenOpportunity]:
    rng = random.Random(seed)
    return [opportunity(rng.choice(STAGES), rng.randint(1, 10_000), day) for _ in range(n)]


def analytic(opportunities: list[OpenOpportunity], rates: dict[str, StageRate]) -> tuple[float, float]:
    """Mean and standard deviation of won revenue."""
    p = [(o.amount_minor or 0, rates[o.stage].rate) for o in opportunities]
    return sum(a * r for a, r in p), math.sqrt(sum(a * a * r * (1 - r) for a, r in p))


# -- calibration --------------------------------------------------------------------------------


def test_calibration_shrinks_each_stages_history_toward_its_default_probability() -> None:
    history = [
        *closed(5, True, "prospecting", "proposal"),
        *closed(20, False, "prospecting"),
        *closed(16, True, "proposal", "negotiation", "won"),
        *closed(9, False, "proposal", "lost"),
        *closed(2, True, "negotiation"),
        *closed(2, False, "negotiation", "qualification"),
        *closed(17, True, "qualification"),
        *closed(3, True),  # created already won: at no open stage, counts nowhere
    ]
    rates = pl.calibrate(history, STAGES, DEFAULTS)
    assert list(rates) == ["prospecting", "qualification", "proposal", "negotiation"]
    prospecting, qualification, proposal, negotiation = rates.values()
    # 25 closed, 5 won; prior 10 pseudo-opportunities at 10%: (5 + 1) / (25 + 10)
    assert (prospecting.closed, prospecting.won, prospecting.source) == (25, 5, "history")
    assert prospecting.rate == pytest.approx(6 / 35)
    assert prospecting.observed == pytest.approx(0.2)
    # 30 closed, 21 won, prior 50%: (21 + 5) / 40
    assert (proposal.closed, proposal.won, proposal.source) == (30, 21, "history")
    assert proposal.rate == pytest.approx(0.65)
    # exactly the minimum (20 closed, 18 won), prior 75%: (18 + 7.5) / 30
    assert (negotiation.closed, negotiation.won, negotiation.source) == (20, 18, "history")
    assert negotiation.rate == pytest.approx(0.85)
    # 19 closed is one short of the minimum: the stage probability, whatever the history says
    assert (qualification.closed, qualification.won, qualification.source) == (19, 17, "stage_probability")
    assert qualification.rate == pytest.approx(0.2)
    assert qualification.observed == pytest.approx(17 / 19)
    assert qualification.prior == pytest.approx(0.2)


def test_too_little_history_falls_back_to_the_stage_probability() -> None:
    rates = pl.calibrate([], STAGES, DEFAULTS)
    for stage, rate in rates.items():
        assert (rate.closed, rate.won, rate.observed, rate.source) == (0, 0, None, "stage_probability")
        assert rate.rate == pytest.approx(DEFAULTS[stage] / 100)
    few = pl.calibrate(closed(pl.MIN_CLOSED - 1, True, "proposal"), ["proposal"], DEFAULTS)["proposal"]
    assert (few.source, few.rate, few.observed) == ("stage_probability", 0.5, 1.0)
    enough = pl.calibrate(closed(pl.MIN_CLOSED, True, "proposal"), ["proposal"], DEFAULTS)["proposal"]
    assert enough.source == "history"
    assert enough.rate == pytest.approx((pl.MIN_CLOSED + 5) / (pl.MIN_CLOSED + 10))
    raw = pl.calibrate(closed(4, True, "proposal") + closed(1, False, "proposal"), ["proposal"], DEFAULTS,
                       prior_weight=0, min_closed=1)["proposal"]  # fmt: skip
    assert raw.rate == pytest.approx(0.8)


# -- placement and the weighted view ------------------------------------------------------------


def test_period_placement_by_expected_close_date() -> None:
    periods = [JAN, FEB, (date(2027, 3, 5), date(2027, 3, 31))]  # a gap on March 1-4
    today = date(2027, 1, 15)
    dates = {
        "last year": date(2026, 12, 20),  # overdue: taken as closing today, in January
        "earlier this month": date(2027, 1, 10),  # overdue too
        "later this month": date(2027, 1, 20),
        "last day of February": date(2027, 2, 28),
        "in the gap": date(2027, 3, 2),
        "first day of the third": date(2027, 3, 5),
        "after the last": date(2027, 4, 1),
        "undated": None,
    }
    opportunities = [opportunity("proposal", 100, day) for day in dates.values()]
    rates = pl.calibrate([], STAGES, DEFAULTS)
    cells = [c for c in pl.weighted(opportunities, rates, periods, today=today) if c.stage == "proposal"]
    by_key = {(c.period, c.placement): (c.count, c.overdue) for c in cells}
    assert by_key == {(0, "period"): (3, 2), (1, "period"): (1, 0), (2, "period"): (1, 0),
                      (None, "undated"): (1, 0), (None, "outside"): (2, 0)}  # fmt: skip

    forecast = pl.simulate(opportunities, rates, periods, today=today, draws=200)
    assert [(p.count, p.overdue, p.amount) for p in forecast.periods] == [(3, 2, 300), (1, 0, 100), (1, 0, 100)]
    assert (forecast.total.count, forecast.total.overdue, forecast.total.amount) == (5, 2, 500)
    assert forecast.undated == pl.Unplaced(1, 100, 50.0)
    assert forecast.outside == pl.Unplaced(2, 200, 100.0)

    # Without `today`, the first period's start is today: only December's deal is overdue.
    default = pl.simulate(opportunities, rates, periods, draws=200)
    assert [(p.count, p.overdue) for p in default.periods] == [(3, 1), (1, 0), (1, 0)]
    # Once today is past every period, the overdue deals fall outside too.
    late = pl.simulate(opportunities, rates, periods, today=date(2027, 5, 1), draws=200)
    assert [p.count for p in late.periods] == [0, 0, 0]
    assert late.outside.count == 7


def test_weighted_sums_by_stage_probability_and_by_calibrated_rate() -> None:
    rates = rates_of(prospecting=0.25, qualification=0.2, proposal=0.6, negotiation=0.9)
    opportunities = [
        opportunity("prospecting", 5),  # 5 * 10% = 0.5
        opportunity("prospecting", 10, probability=40),  # its own probability, not the stage's: 4
        opportunity("prospecting", None),  # no amount: counted, worth 0
        opportunity("proposal", 1_001, FEB[1]),
        opportunity("proposal", 3, date(2027, 2, 2), probability=50),
        opportunity("negotiation", 400, None),
    ]
    cells = {(c.stage, c.period, c.placement): c for c in pl.weighted(opportunities, rates, QUARTER)}
    assert len(cells) == 4 * (3 + 2)  # every stage, every period, undated and outside: empty ones too
    jan = cells["prospecting", 0, "period"]
    assert (jan.count, jan.without_amount, jan.amount) == (3, 1, 15)
    assert jan.stage_weighted == 4  # (5 * 10 + 10 * 40) / 100 = 4.5, half-even
    assert jan.rate_weighted == 4  # 15 * 0.25 = 3.75
    feb = cells["proposal", 1, "period"]
    assert (feb.count, feb.amount, feb.stage_weighted) == (2, 1_004, 502)  # 500.5 + 1.5 = 502
    assert feb.rate_weighted == round(1_004 * 0.6)
    undated = cells["negotiation", None, "undated"]
    assert (undated.count, undated.stage_weighted, undated.rate_weighted) == (1, 300, 360)
    assert cells["qualification", 2, "period"].count == 0

    def stage_weighted(*amounts: int) -> int:
        return pl.weighted([opportunity("prospecting", a) for a in amounts], rates, [JAN])[0].stage_weighted

    assert (stage_weighted(5), stage_weighted(15), stage_weighted(25)) == (0, 2, 2)  # 0.5, 1.5, 2.5: half-even
    assert stage_weighted(5, 5) == 1  # one rounding of the sum (1.0), not of each deal (0 + 0)
    # exact past a float's 53 bits: 99,999,999,999,999,999 * 75% = 74,999,999,999,999,999.25
    big = [c for c in pl.weighted([opportunity("negotiation", 10**17 - 1)], rates, [JAN]) if c.count]
    assert big[0].stage_weighted == 74_999_999_999_999_999


def test_an_uncalibrated_stage_and_bad_periods_are_refused() -> None:
    rates = pl.calibrate([], ["proposal"], DEFAULTS)
    with pytest.raises(ValueError, match="negotiation"):
        pl.simulate([opportunity("negotiation", 1)], rates, QUARTER)
    with pytest.raises(ValueError, match="overlap"):
        pl.weighted([], rates, [JAN, (date(2027, 1, 31), date(2027, 2, 5))])
    with pytest.raises(ValueError, match="period"):
        pl.simulate([], rates, [])


# -- the forecast -------------------------------------------------------------------------------


def test_the_same_seed_repeats_another_differs_and_the_order_does_not_matter() -> None:
    opportunities = many(3_000, 1, JAN[0]) + many(50, 2, FEB[0])
    rates = pl.calibrate([], STAGES, DEFAULTS)
    first = pl.simulate(opportunities, rates, QUARTER, draws=2_000, seed=7)
    assert pl.simulate(opportunities, rates, QUARTER, draws=2_000, seed=7) == first
    shuffled = opportunities[:]
    random.Random(3).shuffle(shuffled)
    assert pl.simulate(shuffled, rates, QUARTER, draws=2_000, seed=7) == first
    other = pl.simulate(opportunities, rates, QUARTER, draws=2_000, seed=8)
    assert other != first
    assert (other.periods[0].p50, other.periods[1].p50) != (first.periods[0].p50, first.periods[1].p50)
    assert pl.simulate(opportunities, rates, QUARTER, draws=2_000).seed == pl.SEED


def test_certain_deals_always_count_and_hopeless_ones_never() -> None:
    rates = pl.calibrate([], STAGES, DEFAULTS)
    own = [opportunity("proposal", 700, probability=100), opportunity("proposal", 10**6, probability=0),
           opportunity("proposal", 10, probability=50)]  # fmt: skip
    month = pl.simulate(own, rates, [JAN], basis="stage_probability").periods[0]
    assert (month.p10, month.p90) == (700, 710)
    assert month.expected == 705.0
    assert month.amount == 1_000_710
    sure = pl.simulate([opportunity("proposal", 700, probability=100)], rates, [JAN], basis="stage_probability")
    assert (sure.total.p10, sure.total.p50, sure.total.p90, sure.total.expected) == (700, 700, 700, 700.0)
    # The same through calibrated rates: a stage always won and one never won.
    certain = rates_of(negotiation=1.0, prospecting=0.0)
    deals = [opportunity("negotiation", 250, JAN[0]) for _ in range(3)] + [opportunity("prospecting", 9_999, FEB[0])]
    forecast = pl.simulate(deals, certain, [JAN, FEB])
    assert [(p.p10, p.p50, p.p90) for p in forecast.periods] == [(750, 750, 750), (0, 0, 0)]
    assert (forecast.total.p10, forecast.total.p90) == (750, 750)


def test_p50_and_the_spread_are_near_the_analytic_values_for_many_deals() -> None:
    opportunities = many(20_000, 11)
    rates = pl.calibrate([], STAGES, DEFAULTS)
    forecast = pl.simulate(opportunities, rates, [JAN])
    month = forecast.periods[0]
    mean, sd = analytic(opportunities, rates)
    assert month.expected == pytest.approx(mean)
    assert month.exact < month.count  # the normal part carried most of them
    assert abs(month.p50 - mean) < 0.05 * sd
    assert abs(month.p10 - (mean - Z90 * sd)) < 0.06 * sd
    assert abs(month.p90 - (mean + Z90 * sd)) < 0.06 * sd
    assert month.p10 <= month.p50 <= month.p90
    assert (forecast.total.p10, forecast.total.p50, forecast.total.p90) == (month.p10, month.p50, month.p90)


def test_quantiles_are_ordered_in_every_period_and_in_total() -> None:
    rates = pl.calibrate([], STAGES, DEFAULTS)
    for seed in range(5):
        opportunities = many(40, seed, JAN[0]) + many(400, seed + 10, FEB[0]) + many(4_000, seed + 20, MAR[0])
        forecast = pl.simulate(opportunities, rates, QUARTER, draws=1_000, seed=seed)
        outcomes: list[pl.PeriodForecast | pl.Outcome] = [*forecast.periods, forecast.total]
        for outcome in outcomes:
            assert outcome.p10 <= outcome.p50 <= outcome.p90
            assert outcome.p10 >= 0 and outcome.p90 <= outcome.amount
        assert forecast.total.p50 > max(p.p50 for p in forecast.periods)


def test_the_normal_part_agrees_with_drawing_every_deal(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    opportunities = [opportunity(rng.choice(STAGES), int(rng.lognormvariate(9, 1.5)), day)
                     for day in (JAN[0], FEB[0], MAR[0]) for _ in range(3_000)]  # fmt: skip
    rates = pl.calibrate([], STAGES, DEFAULTS)
    hybrid = pl.simulate(opportunities, rates, QUARTER)
    assert sum(p.exact for p in hybrid.periods) < len(opportunities) // 10
    monkeypatch.setattr(pl, "MAX_LYAPUNOV", 0.0)
    monkeypatch.setattr(pl, "EXACT_CELLS", 10**12)
    exact = pl.simulate(opportunities, rates, QUARTER, seed=99)
    assert [p.exact for p in exact.periods] == [3_000, 3_000, 3_000]
    ours: list[pl.PeriodForecast | pl.Outcome] = [*hybrid.periods, hybrid.total]
    drawn: list[pl.PeriodForecast | pl.Outcome] = [*exact.periods, exact.total]
    for a, b in zip(ours, drawn, strict=True):
        sd = (b.p90 - b.p10) / (2 * Z90)
        for q in ("p10", "p50", "p90"):
            assert abs(getattr(a, q) - getattr(b, q)) < 0.1 * sd, q


def test_a_deal_that_dominates_its_period_is_drawn_as_itself() -> None:
    rates = rates_of(proposal=0.5)
    deals = [opportunity("proposal", 1_000_000)] + [opportunity("proposal", 100) for _ in range(1_000)]
    month = pl.simulate(deals, rates, [JAN]).periods[0]
    assert month.exact >= 1
    assert month.lyapunov <= pl.MAX_LYAPUNOV
    # Won or not, half the time each: P10 near 50,000 and P90 near 1,050,000 (a normal with the
    # same mean and variance would put P10 below 0 and P90 near 1,190,000).
    assert 45_000 < month.p10 < 55_000
    assert 1_045_000 < month.p90 < 1_055_000


def test_a_full_size_forecast_keeps_its_exact_work_within_the_budget() -> None:
    rng = np.random.default_rng(4)
    amounts = np.exp(rng.normal(10, 2, 20_000)).astype(np.int64)
    opportunities = [
        opportunity(STAGES[i % 4], int(amounts[i]), date(2027, 1 + i % 12, 1 + i % 28)) for i in range(20_000)
    ]
    periods = [(date(2027, m, 1), date(2027, m, 28)) for m in range(1, 13)]
    forecast = pl.simulate(opportunities, pl.calibrate([], STAGES, DEFAULTS), periods)
    assert forecast.draws == pl.DRAWS
    assert sum(p.exact for p in forecast.periods) * forecast.draws <= pl.EXACT_CELLS
    assert forecast.total.count == 20_000
    assert forecast.total.p10 <= forecast.total.p50 <= forecast.total.p90
