"""Retention analytics in the pure domain: RFM coverage and ties, churn reasons that sum to the
score, affinity lift on a hand-built basket set, the cohort triangle, CLV:CAC, and a snapshot's
insights from three hand-made customers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.analytics import retention
from app.domain.analytics.clv import valuation


def test_every_rfm_cell_has_exactly_one_segment_and_every_segment_a_cell() -> None:
    cells = [(r, fm) for r in range(1, 6) for fm in range(1, 6)]
    assert all(retention.GRID[r][fm - 1] in retention.SEGMENTS for r, fm in cells)
    assert {retention.GRID[r][fm - 1] for r, fm in cells} == set(retention.SEGMENTS)


def test_quintiles_and_the_tie_rule() -> None:
    scores = retention.quintile_scores(np.arange(10.0))
    assert scores.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    tied = retention.quintile_scores(np.array([1.0, 1, 1, 1, 1, 1, 2, 3, 4, 5]))
    assert tied.tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]  # six equal customers: one score, the lowest
    assert retention.quintile_scores(np.array([3.0, 2, 1]), higher_is_better=False).tolist() == [1, 2, 4]
    assert retention.quintile_scores(np.zeros(0)).tolist() == []


@given(st.lists(st.tuples(st.integers(0, 800), st.integers(1, 40), st.floats(0, 1e6)), min_size=1, max_size=60))
@settings(max_examples=100, deadline=None)
def test_every_customer_gets_one_segment_and_equal_customers_the_same(rows) -> None:  # type: ignore[no-untyped-def]
    days, purchases, revenue = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    result = retention.rfm(days, purchases, revenue)
    assert len(result.segment) == len(rows)
    assert all(s in retention.SEGMENTS for s in result.segment)
    for score in (result.recency, result.frequency, result.monetary, result.fm):
        assert ((score >= 1) & (score <= 5)).all()
    for i, j in itertools.combinations(range(len(rows)), 2):
        if rows[i] == rows[j]:
            assert result.segment[i] == result.segment[j]


def test_recent_big_spenders_are_champions_and_long_gone_small_ones_lost() -> None:
    days = np.array([1.0, 2, 300, 400, 50, 60, 70, 80, 90, 100])
    purchases = np.array([20.0, 18, 1, 1, 3, 3, 4, 4, 5, 5])
    revenue = np.array([5000.0, 4000, 10, 5, 300, 320, 400, 420, 500, 520])
    result = retention.rfm(days, purchases, revenue)
    assert result.segment[0] == "champions" and result.segment[3] == "lost"


def _inputs(**overrides: list[float]) -> retention.ChurnInputs:
    base: dict[str, list[float]] = {
        "p_alive": [0.2], "days_since_last": [200.0], "typical_interval": [50.0], "purchases_last_year": [1.0],
        "purchases_year_before": [4.0], "open_tickets": [1.0], "low_rated_tickets": [1.0],
        "overdue_invoices": [1.0], "contract_risk": [float("nan")],
    }  # fmt: skip
    base.update(overrides)
    return retention.ChurnInputs(**{k: np.array(v) for k, v in base.items()})


def test_churn_reasons_sum_to_the_score_with_their_weights() -> None:
    result = retention.churn(_inputs(), weights=retention.ChurnWeights(), active_window_days=365, medium=0.4, high=0.7,
                             fallback_interval=None)  # fmt: skip
    reasons = result.reasons[0]
    assert sum(r.contribution for r in reasons) == pytest.approx(result.score[0])
    assert sum(r.weight for r in reasons) == pytest.approx(1.0)  # every rhythm factor applies and is non-zero
    by = {r.factor: r for r in reasons}
    assert by["inactive_model"].value == pytest.approx(0.8)
    assert by["overdue"].value == pytest.approx(1.0)  # 200 days against a 50-day rhythm: 3x overdue or more
    assert by["falling_order_rate"].value == pytest.approx(0.75)
    assert by["unpaid_invoices"].value == 1.0
    assert by["inactivity"].value == pytest.approx(200 / 365)
    assert [r.contribution for r in reasons] == sorted((r.contribution for r in reasons), reverse=True)
    assert result.level == ["high"]


def test_a_contract_replaces_the_purchase_rhythm() -> None:
    renewing = _inputs(contract_risk=[0.0], open_tickets=[0.0], low_rated_tickets=[0.0], overdue_invoices=[0.0])
    result = retention.churn(renewing, weights=retention.ChurnWeights(), active_window_days=365, medium=0.4,
                             high=0.7, fallback_interval=None)  # fmt: skip
    assert result.score[0] == 0.0 and result.reasons[0] == [] and result.level == ["low"]
    assert retention.contract_risk("not_renewing", 200, False) == 1.0
    assert retention.contract_risk("renewed", 10, False) == 0.0
    assert retention.contract_risk("due", 45, False) == pytest.approx(0.5)
    assert retention.contract_risk(None, 400, False) == 0.0


@given(
    st.floats(0, 1), st.floats(0, 3000), st.floats(1, 400) | st.just(float("nan")), st.integers(0, 20),
    st.integers(0, 20), st.integers(0, 5), st.integers(0, 5), st.integers(0, 3),
)  # fmt: skip
@settings(max_examples=200, deadline=None)
def test_the_score_is_bounded_and_its_reasons_add_up(
    alive, since, interval, last, before, tickets, low, unpaid
) -> None:  # type: ignore[no-untyped-def]
    inputs = _inputs(p_alive=[alive], days_since_last=[since], typical_interval=[interval], purchases_last_year=[last],
                     purchases_year_before=[before], open_tickets=[tickets], low_rated_tickets=[low],
                     overdue_invoices=[unpaid])  # fmt: skip
    result = retention.churn(inputs, weights=retention.ChurnWeights(), active_window_days=365, medium=0.4, high=0.7,
                             fallback_interval=None)  # fmt: skip
    assert 0 <= result.score[0] <= 1
    assert sum(r.contribution for r in result.reasons[0]) == pytest.approx(result.score[0], abs=1e-12)


def test_affinity_lift_on_a_hand_built_basket_set() -> None:
    # 10 orders: tea in 5, mugs in 4, both in 3; honey in 2, with tea in both.
    rules = retention.affinity(10, {"tea": 5, "mugs": 4, "honey": 2}, {("mugs", "tea"): 3, ("honey", "tea"): 2})
    by = {(r.antecedent, r.consequent): r for r in rules}
    tea_mugs = by[("tea", "mugs")]
    assert (tea_mugs.support, tea_mugs.confidence) == (pytest.approx(0.3), pytest.approx(0.6))
    assert tea_mugs.lift == pytest.approx(0.6 / 0.4)  # 1.5
    assert by[("mugs", "tea")].lift == pytest.approx((3 / 4) / (5 / 10))  # 1.5
    assert by[("honey", "tea")].confidence == 1.0 and by[("honey", "tea")].lift == pytest.approx(2.0)
    assert rules[0].lift == max(r.lift for r in rules)
    assert retention.affinity(10, {"a": 1, "b": 1}, {("a", "b"): 1}) == []  # one order is not a pattern

    by_antecedent: dict[str, list[retention.Rule]] = {}
    for rule in rules:
        by_antecedent.setdefault(rule.antecedent, []).append(rule)
    picks = retention.recommend({"mugs"}, ["baking"], {"baking": ["flour", "mugs"]}, by_antecedent)
    assert [(p.category, p.reason, p.because_of) for p in picks] == [
        ("flour", "interest", "baking"), ("tea", "co_purchase", "mugs"),
    ]  # fmt: skip
    assert picks[1].lift == pytest.approx(1.5)
    assert retention.recommend({"tea", "mugs", "honey"}, [], {}, by_antecedent) == []


def test_advocacy_weights_what_applies() -> None:
    result = retention.advocacy(np.array([5.0, 0]), np.array([3.0, 0]), np.array([5.0, np.nan]), np.array([2000.0, 0]),
                                np.array([0.0, 0]), np.array([10.0, 1]))  # fmt: skip
    assert result.score[0] == pytest.approx(100.0)
    assert result.score[1] == pytest.approx(100 * 0.15 * 0.1 / 0.8)  # satisfaction does not apply


def test_the_cohort_triangle_on_a_small_example() -> None:
    rows = [("2026-01", "2026-01", 4, 400.0), ("2026-01", "2026-03", 1, 50.0), ("2026-02", "2026-02", 2, 80.0),
            ("2026-02", "2026-03", 2, 60.0)]  # fmt: skip
    triangle = retention.cohorts(rows, "2026-03")
    assert [(c.month, c.size, len(c.periods)) for c in triangle] == [("2026-01", 4, 3), ("2026-02", 2, 2)]
    assert [(p.offset, p.customers, p.retention, p.revenue) for p in triangle[0].periods] == [
        (0, 4, 1.0, 400.0), (1, 0, 0.0, 0.0), (2, 1, 0.25, 50.0),
    ]  # fmt: skip
    assert triangle[1].periods[1].retention == 1.0


def test_clv_cac_compares_profit_with_acquisition_cost() -> None:
    # 10 customers acquired for 500: CAC 50. They are expected to bring 1500 of revenue (150 each)
    # at a 30% margin: 450 of profit, 45 each. Profit against cost: 45 / 50 = 0.9, under the 3:1
    # mark, while the revenue figure (150 / 50 = 3) would have read as healthy.
    result = retention.clv_cac(
        customers=10, spend=500.0, clv_sum=1500.0, yearly_margin_sum=1200.0, clv_margin_sum=450.0
    )
    assert (result.cac, result.mean_clv, result.mean_clv_margin) == (50.0, 150.0, 45.0)
    assert (result.ratio, result.revenue_ratio) == (pytest.approx(0.9), 3.0)
    assert result.payback_months == pytest.approx(50.0 / 10.0)  # 120 a year each: 10 a month
    unknown = retention.clv_cac(10, 500.0, 1500.0, 1200.0, None)  # a snapshot without margins
    assert (unknown.ratio, unknown.revenue_ratio) == (None, 3.0)
    assert retention.clv_cac(0, 100.0, 0.0, 0.0, 0.0).cac is None


def test_the_expected_next_purchase_follows_the_customers_own_rhythm_or_the_model() -> None:
    # a: 4 purchase days over 90 days, every 30; b: one purchase; c: one purchase on day 400.
    frequency, recency, age = np.array([3.0, 0, 0]), np.array([90.0, 0, 0]), np.array([120.0, 50, 10])
    last = np.array([1090.0, 1050, 1110])
    fitted = retention.next_purchase(frequency, recency, age, last, model=(0.5, 20.0), workspace_median=45.0)
    # Own rhythm 90 / 3 = 30; the model's (alpha + T) / (r + x) = (20 + 50) / 0.5 = 140 and 60.
    assert fitted.interval.tolist() == [30.0, 140.0, 60.0]
    assert fitted.basis == ["own_rhythm", "model", "model"]
    assert fitted.expected_day.tolist() == [1120.0, 1190.0, 1170.0]
    simple = retention.next_purchase(frequency, recency, age, last, model=None, workspace_median=45.5)
    assert simple.interval.tolist() == [30.0, 45.5, 45.5] and simple.basis[1] == "workspace_median"
    assert simple.expected_day.tolist() == [1120.0, 1096.0, 1156.0]  # whole days, half up
    unknown = retention.next_purchase(frequency, recency, age, last, model=None, workspace_median=None)
    assert unknown.basis == ["own_rhythm", None, None] and np.isnan(unknown.expected_day[1:]).all()


def test_overdue_past_the_tolerance_of_their_own_rhythm() -> None:
    since = np.array([44.0, 46.0, 46.0, 200.0])
    interval = np.array([30.0, 30.0, 30.0, np.nan])
    own = np.array([True, True, False, True])  # the third: one purchase (or a contract), no rhythm of its own
    assert retention.overdue(since, interval, own, 1.5).tolist() == [False, True, False, False]
    assert retention.overdue(since, interval, own, 1.0).tolist() == [True, True, False, False]
    assert retention.overdue(since, interval, own, None).tolist() == [False] * 4


def test_who_gets_a_churn_alert() -> None:
    levels = ["high", "low", "medium", "high", "high", "low"]
    late = np.array([False, True, False, True, False, False])
    at_risk = np.array([100.0, 50.0, 900.0, 300.0, 200.0, 0.0])
    blocked = np.array([False, False, False, False, True, False])  # an open alert, or within the cooldown
    later = retention.churn_alerts(levels, late, at_risk, blocked, first_snapshot=False, cap=1)
    # High risk or overdue, not blocked, highest CLV at risk first; high risk wins when both apply.
    assert [(d.index, d.reason, d.announced) for d in later] == [
        (3, "high_risk", True), (0, "high_risk", True), (1, "overdue", True),
    ]  # fmt: skip
    first = retention.churn_alerts(levels, late, at_risk, blocked, first_snapshot=True, cap=2)
    assert [(d.index, d.announced) for d in first] == [(3, True), (0, True), (1, False)]
    assert [
        d.announced for d in retention.churn_alerts(levels, late, at_risk, blocked, first_snapshot=True, cap=0)
    ] == [False] * 3


def test_a_customer_whose_alert_ended_churned_is_alerted_again_only_after_buying_again() -> None:
    last = np.array([100.0, 100.0, 150.0, 100.0])
    recent = np.array([False, True, False, False])  # an open alert, or one within the cooldown
    churned_on = np.array([np.nan, np.nan, 120.0, 120.0])  # their latest alert that ended churned
    # The third bought on day 150, after its churned alert (day 120); the fourth has not.
    assert retention.alert_blocked(last, recent, churned_on).tolist() == [False, True, False, True]


# -- a snapshot's insights from the customers' columns -------------------------------------------------


@dataclass(frozen=True)
class _Rows:
    contact_ids: list[UUID]
    last_day: list[date]
    purchases_last_year: list[int]
    purchases_year_before: list[int]
    referrals: list[int]
    interests: list[list[str]]
    owner_ids: list[UUID | None]
    keys: dict[str, list[list[str | None]]]


REGULAR, LAPSED, CONTRACTED = UUID(int=1), UUID(int=2), UUID(int=3)
AS_OF = date(2026, 3, 31)


def _snapshot_inputs(
    overdue_tolerance: float | None = 1.5,
) -> tuple[_Rows, valuation.Customers, valuation.Valuation, retention.RetentionInputs]:
    """Three customers on 2026-03-31: one buying every ~34 days, last 10 days ago; one who bought
    every ~30 days and not for 120; one with a single purchase and a contract that is not renewing."""
    first = [date(2025, 10, 1), date(2025, 9, 1), date(2026, 1, 10)]
    last = [date(2026, 3, 21), date(2025, 12, 1), date(2026, 1, 10)]
    rows = _Rows(
        contact_ids=[REGULAR, LAPSED, CONTRACTED],
        last_day=last,
        purchases_last_year=[6, 4, 1],
        purchases_year_before=[0, 0, 0],
        referrals=[2, 0, 0],
        interests=[["coffee"], [], []],
        owner_ids=[None, None, None],
        keys={
            "acquisition_channel": [["ads"], [], ["ads"]],
            "acquisition_month": [["2025-10"], ["2025-09"], ["2026-01"]],
        },
    )
    origin = np.array([d.toordinal() for d in first], dtype=float)
    revenue = np.array([600.0, 400.0, 50.0])
    customers = valuation.Customers(
        frequency=np.array([5.0, 3.0, 0.0]),
        recency=np.array([d.toordinal() for d in last], dtype=float) - origin,
        age=AS_OF.toordinal() - origin,
        monetary=np.array([100.0, 100.0, np.nan]),
        revenue=revenue,
        margin=revenue * 0.3,
        bought_year_before_last=np.zeros(3),
        bought_last_year=np.ones(3),
    )
    inputs = retention.RetentionInputs(
        tickets={}, invoices={}, contracts={CONTRACTED: 1.0}, value_added={REGULAR: 2}, converted={}, rewards={},
        bought={REGULAR: {"mugs"}}, categories=(0, {}, {}), cohorts=[("2026-01", "2026-01", 1, 5000)],
        interests={"coffee": ["beans"]}, thresholds=(0.4, 0.7), active_window_days=365,
        overdue_tolerance=overdue_tolerance, zone=ZoneInfo("Asia/Tehran"),
    )  # fmt: skip
    return rows, customers, valuation.value(customers, valuation.ValuationSettings()), inputs


def test_a_customer_overdue_against_their_rhythm_gets_a_churn_level_and_is_flagged() -> None:
    rows, customers, result, inputs = _snapshot_inputs()
    insights = retention.compute(rows, customers, result, inputs, AS_OF, 2)
    columns = insights.columns
    assert columns["days_since_last"] == [10, 120, 80]
    # The lapsed customer's rhythm is 91 days / 3 = 30.3; 120 days is past 1.5 times that: overdue, the
    # factor at its full value and first among the reasons; a medium risk at thresholds 0.4 / 0.7.
    assert insights.overdue == [False, True, False]
    assert columns["churn_level"] == ["low", "medium", "high"]
    assert columns["churn_reasons"][1][0]["factor"] == "overdue" and columns["churn_reasons"][1][0]["value"] == 1.0
    # The contract that is not renewing speaks for its customer instead of their purchases.
    assert [r["factor"] for r in columns["churn_reasons"][2]] == ["contract"]
    at_risk = np.rint(result.simple_clv * np.array(columns["churn_score"]) * 100).astype(int).tolist()
    assert columns["clv_at_risk_minor"] == at_risk  # CLV times the churn score, in minor units
    churn = insights.snapshot["churn"]
    assert {level: churn[level]["customers"] for level in ("low", "medium", "high")} == {
        "low": 1, "medium": 1, "high": 1,
    }  # fmt: skip
    assert churn["medium"]["clv_at_risk"] == f"{at_risk[1] / 100:.2f}"
    nobody = retention.compute(rows, customers, result, _snapshot_inputs(None)[3], AS_OF, 2)
    assert nobody.overdue == [False, False, False]  # no tolerance set: nobody is overdue


def test_the_snapshot_insights_segments_recommendations_cohorts_and_acquisition() -> None:
    rows, customers, result, inputs = _snapshot_inputs()
    insights = retention.compute(rows, customers, result, inputs, AS_OF, 2)
    columns = insights.columns
    assert insights.rfm_segments == columns["rfm_segment"] and len(insights.rfm_segments) == 3
    segments = insights.snapshot["rfm"]["segments"]
    assert [s["segment"] for s in segments] == list(retention.SEGMENTS)
    assert sum(s["customers"] for s in segments) == 3 and insights.snapshot["rfm"]["moves"] is None
    # The next purchase: the last one (2026-03-21) + 170 / 5 = 34 days, at midnight in Tehran (UTC+03:30).
    assert columns["next_purchase_basis"][0] == "own_rhythm"
    assert columns["expected_next_purchase_at"][0] == datetime(2026, 4, 23, 20, 30, tzinfo=UTC)
    # A declared interest's categories the customer has not bought are recommended.
    assert [(r["category"], r["reason"], r["because_of"]) for r in columns["recommendations"][0]] == [
        ("beans", "interest", "coffee")
    ]
    assert columns["open_recommendations"] == [1, 0, 0] and columns["value_added_deals"] == [2, 0, 0]
    # January's cohort runs to the analysis month, zeros included; its revenue from minor units.
    (cohort,) = insights.snapshot["cohorts"]
    assert cohort["month"] == "2026-01" and cohort["customers"] == 1
    assert [(p["offset"], p["customers"], p["revenue"]) for p in cohort["periods"]] == [
        (0, 1, "50.00"), (1, 0, "0.00"), (2, 0, "0.00"),
    ]  # fmt: skip
    acquisition = insights.snapshot["acquisition"]
    assert [(a["channel"], a["month"], a["customers"], a["historic_revenue"]) for a in acquisition] == [
        (None, "2025-09", 1, 400.0), ("ads", "2025-10", 1, 600.0), ("ads", "2026-01", 1, 50.0),
    ]  # fmt: skip
    assert columns["acquisition_channel"] == ["ads", None, "ads"]


def test_a_drop_in_engagement_is_a_churn_reason_only_with_a_base_to_drop_from() -> None:
    weights = retention.ChurnWeights()
    base = _inputs()
    fallen = retention.ChurnInputs(
        **{**base.__dict__, "engagements_last": np.array([1.0]), "engagements_before": np.array([4.0])}
    )
    result = retention.churn(fallen, weights=weights, active_window_days=365, medium=0.4, high=0.7,
                             fallback_interval=None)  # fmt: skip
    by = {r.factor: r for r in result.reasons[0]}
    assert by["falling_engagement"].value == pytest.approx(0.75)  # 4 engagements, then 1
    assert sum(r.contribution for r in result.reasons[0]) == pytest.approx(result.score[0])
    without = retention.churn(base, weights=weights, active_window_days=365, medium=0.4, high=0.7,
                              fallback_interval=None)  # fmt: skip
    assert "falling_engagement" not in {r.factor for r in without.reasons[0]}
    thin = retention.ChurnInputs(
        **{**base.__dict__, "engagements_last": np.array([0.0]), "engagements_before": np.array([1.0])}
    )
    thin_result = retention.churn(thin, weights=weights, active_window_days=365, medium=0.4, high=0.7,
                                  fallback_interval=None)  # fmt: skip
    assert thin_result.score[0] == pytest.approx(without.score[0])  # one engagement is no base: not applied
