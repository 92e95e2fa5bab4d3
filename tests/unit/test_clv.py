"""CLV models: the CDNOW reproduction (published estimates and hand-checked values), properties,
parameter recovery from simulated customers, and degenerate workspaces."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import optimize

from app.domain.analytics.clv import arrays, bgnbd, gamma_gamma, groups, simulate, valuation
from app.domain.analytics.clv.summary import summarize

DATA = Path(__file__).parent.parent / "data" / "cdnow"
PUBLISHED = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def _close(value: float, expected: float, tolerance: float) -> bool:
    return abs(value - expected) <= tolerance * abs(expected)


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    with (DATA / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in ("x", "t_x", "T", "zbar")}


# -- the CDNOW reproduction ---------------------------------------------------------------------------


def test_bgnbd_fit_reproduces_the_published_cdnow_estimates(cdnow: dict[str, np.ndarray]) -> None:
    fit = bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert fit.converged and not fit.at_bound
    for name, published in (("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)):
        assert _close(getattr(fit.params, name), published, 0.01), (name, getattr(fit.params, name))
    assert _close(fit.log_likelihood, -9582.4, 0.01)
    assert round(fit.log_likelihood, 1) == -9582.4
    assert (fit.customers, fit.repeat_buyers) == (2357, 946)


def test_gamma_gamma_fit_reproduces_the_published_cdnow_estimates(cdnow: dict[str, np.ndarray]) -> None:
    fit = gamma_gamma.fit(cdnow["x"], cdnow["zbar"])
    assert fit.customers == 946  # the repeat buyers only
    for name, published in (("p", 6.25), ("q", 3.74), ("v", 15.44)):
        assert _close(getattr(fit.params, name), published, 0.01), (name, getattr(fit.params, name))


def test_the_summary_of_the_cdnow_transactions_is_the_published_summary(cdnow: dict[str, np.ndarray]) -> None:
    customers, days, values = [], [], []
    for line in (DATA / "CDNOW_sample.txt").read_text().splitlines():
        _, customer, day, _, value = line.split()
        customers.append(int(customer))
        days.append(dt.datetime.strptime(day, "%Y%m%d").date().toordinal())
        values.append(float(value))
    end_of_calibration = dt.date(1997, 9, 30).toordinal()
    summary = summarize(np.array(customers), np.array(days), np.array(values), end_of_calibration, days_per_unit=7)
    assert list(summary.customers) == list(range(1, 2358))
    assert np.array_equal(summary.frequency, cdnow["x"])
    assert np.allclose(summary.recency, cdnow["t_x"], atol=0.005)  # published to 2 decimals
    assert np.allclose(summary.age, cdnow["T"], atol=0.005)
    repeat = cdnow["x"] > 0
    assert np.allclose(summary.monetary[repeat], cdnow["zbar"][repeat], atol=0.0051)
    assert np.isnan(summary.monetary[~repeat]).all()


def test_the_hand_checked_individual_log_likelihoods() -> None:
    params = bgnbd.BgNbdParams(r=0.25, alpha=4, a=0.8, b=2.5)
    ll = bgnbd.log_likelihood(params, np.array([0.0, 200.0]), np.array([0.0, 38.0]), np.array([40.0, 40.0]))
    assert ll[0] == pytest.approx(-0.59947382, abs=1e-8)
    assert ll[1] == pytest.approx(100.7957, abs=5e-5)  # overflows a naive implementation


def test_the_published_conditional_expectation() -> None:
    expected = bgnbd.expected_purchases(PUBLISHED, np.array([2.0]), np.array([30.43]), np.array([38.86]), 39.0)
    assert expected[0] == pytest.approx(1.226, abs=0.0005)


def test_p_alive_is_exactly_one_without_a_repeat_purchase() -> None:
    alive = bgnbd.p_alive(PUBLISHED, np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0]), np.array([0.0, 70.0, 70.0]))
    assert alive[0] == 1.0 and alive[1] == 1.0
    assert 0 < alive[2] < 1


def test_the_analytic_gradients_match_finite_differences(cdnow: dict[str, np.ndarray]) -> None:
    x, t_x, big_t = cdnow["x"], cdnow["t_x"], cdnow["T"]

    def value(log_theta: np.ndarray) -> float:
        return float(bgnbd._individual(np.exp(log_theta), x, t_x, big_t, gradient=False)[0].sum())

    def gradient(log_theta: np.ndarray) -> np.ndarray:
        grads = bgnbd._individual(np.exp(log_theta), x, t_x, big_t, gradient=True)[1]
        assert grads is not None
        return np.array([g.sum() for g in grads])

    point = np.log([0.3, 5.0, 0.9, 2.0])
    assert optimize.check_grad(value, gradient, point) < 1e-3 * np.abs(gradient(point)).max()

    repeat = x > 0
    xs, zbar = x[repeat], cdnow["zbar"][repeat]

    def gg_value(log_theta: np.ndarray) -> float:
        return float(gamma_gamma._individual(np.exp(log_theta), xs, zbar, gradient=False)[0].sum())

    def gg_gradient(log_theta: np.ndarray) -> np.ndarray:
        grads = gamma_gamma._individual(np.exp(log_theta), xs, zbar, gradient=True)[1]
        assert grads is not None
        return np.array([g.sum() for g in grads])

    gg_point = np.log([5.0, 3.0, 12.0])
    assert optimize.check_grad(gg_value, gg_gradient, gg_point) < 1e-3 * np.abs(gg_gradient(gg_point)).max()


def _day_customers(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Customers in whole days (as the analytics refresh builds them), many sharing a row."""
    rng = np.random.default_rng(seed)
    truth = bgnbd.BgNbdParams(r=0.5, alpha=40.0, a=0.7, b=3.0)
    x, t_x, big_t = simulate.bgnbd_customers(truth, rng.integers(0, 400, n).astype(np.float64), rng)
    spend = simulate.spend(x, 6.0, 3.5, 15.0, rng)
    return x, np.floor(t_x), big_t, np.where(x > 0, spend, 0.0)


@pytest.mark.parametrize("days", [False, True], ids=["cdnow-weeks", "whole-days"])
def test_the_fits_summed_likelihoods_equal_the_sums_over_customers(cdnow: dict[str, np.ndarray], days: bool) -> None:
    """The fits optimise sums prepared once per fit; they must be the per-customer likelihoods
    (and gradients) summed, at any parameters."""
    if days:
        x, t_x, big_t, zbar = _day_customers(5000, seed=3)
    else:
        x, t_x, big_t, zbar = cdnow["x"], cdnow["t_x"], cdnow["T"], cdnow["zbar"]
    (cx, ct, cbig), weights, _ = arrays.compress(x, t_x, big_t)
    summed = bgnbd._Summed(cx, ct, cbig, weights)
    for theta in ([0.243, 4.414, 0.793, 2.426], [1.5, 40.0, 0.3, 9.0], [0.05, 0.7, 4.0, 0.6]):
        value, grads = bgnbd._individual(np.array(theta), x, t_x, big_t, gradient=True)
        assert grads is not None
        total, gradient = summed(np.array(theta))
        assert total == pytest.approx(float(value.sum()), rel=1e-10)
        assert gradient == pytest.approx(np.array([g.sum() for g in grads]), rel=1e-8, abs=1e-6)

    repeat = gamma_gamma.usable(x, zbar)
    (gx, gm), gweights, _ = arrays.compress(x[repeat], zbar[repeat])
    gg_summed = gamma_gamma._Summed(gx, gm, gweights)
    for theta in ([6.25, 3.74, 15.44], [0.5, 12.0, 300.0]):
        value, grads = gamma_gamma._individual(np.array(theta), x[repeat], zbar[repeat], gradient=True)
        assert grads is not None
        total, gradient = gg_summed(np.array(theta))
        assert total == pytest.approx(float(value.sum()), rel=1e-10)
        assert gradient == pytest.approx(np.array([g.sum() for g in grads]), rel=1e-8, abs=1e-6)


def test_rows_are_grouped_alike_whether_whole_numbers_or_not() -> None:
    """Whole-number rows are grouped by one integer key, others by a lexicographic sort: both give
    numpy's distinct rows in order, their counts, and each row's group."""
    x, t_x, big_t, _ = _day_customers(3000, seed=5)
    for columns in ((x, t_x, big_t), (x, t_x + 0.5, big_t), (x, t_x, big_t / 7)):
        rows, counts, inverse = arrays.compress(*columns)
        expected, expected_inverse, expected_counts = np.unique(
            np.stack(columns, axis=1), axis=0, return_inverse=True, return_counts=True
        )
        assert np.array_equal(np.stack(rows, axis=1), expected)
        assert np.array_equal(counts, expected_counts)
        assert np.array_equal(inverse, expected_inverse.reshape(-1))
    assert arrays._whole_key((x, t_x, big_t)) is not None
    assert arrays._whole_key((x, t_x + 0.5, big_t)) is None


def test_identical_rows_weighted_once_give_the_same_fit(cdnow: dict[str, np.ndarray]) -> None:
    once = bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    doubled = bgnbd.fit(*(np.concatenate([cdnow[k], cdnow[k]]) for k in ("x", "t_x", "T")))
    assert doubled.log_likelihood == pytest.approx(2 * once.log_likelihood, rel=1e-9)
    assert doubled.params.r == pytest.approx(once.params.r, rel=1e-5)
    assert doubled.customers == 2 * once.customers


def test_gamma_gamma_expected_value_shrinks_towards_the_population_mean() -> None:
    params = gamma_gamma.GammaGammaParams(p=6.25, q=3.74, v=15.44)
    values = gamma_gamma.expected_value(params, np.array([0.0, 1.0, 50.0]), np.array([np.nan, 100.0, 100.0]))
    assert values[0] == pytest.approx(6.25 * 15.44 / 2.74)
    assert values[0] < values[1] < values[2] < 100.0
    assert values[2] == pytest.approx(6.25 * (15.44 + 50 * 100) / (6.25 * 50 + 2.74))


# -- properties ---------------------------------------------------------------------------------------

params_strategy = st.builds(
    bgnbd.BgNbdParams,
    r=st.floats(0.05, 5),
    alpha=st.floats(0.5, 500),
    a=st.floats(0.1, 5).filter(lambda a: abs(a - 1) > 1e-3),
    b=st.floats(0.1, 10),
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[float, float, float]:
    big_t = draw(st.floats(0, 5000))
    x = float(draw(st.integers(0, 800)))
    t_x = draw(st.floats(0, big_t)) if x > 0 else 0.0
    return x, t_x, big_t


@given(params_strategy, st.lists(histories(), min_size=1, max_size=20))
@settings(max_examples=150, deadline=None)
def test_p_alive_is_a_probability_and_the_likelihood_finite(params, rows) -> None:  # type: ignore[no-untyped-def]
    x, t_x, big_t = (np.array(column) for column in zip(*rows, strict=True))
    alive = bgnbd.p_alive(params, x, t_x, big_t)
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(alive[x == 0] == 1.0)
    assert np.isfinite(bgnbd.log_likelihood(params, x, t_x, big_t)).all()


@given(params_strategy, st.lists(histories(), min_size=1, max_size=10))
@settings(max_examples=150, deadline=None)
def test_expected_purchases_grow_with_the_horizon(params, rows) -> None:  # type: ignore[no-untyped-def]
    x, t_x, big_t = (np.array(column) for column in zip(*rows, strict=True))
    horizons = np.array([0.0, 1.0, 30.0, 90.0, 365.0, 3650.0])
    expected = bgnbd.expected_purchases(params, x, t_x, big_t, horizons)
    assert np.isfinite(expected).all()
    assert np.all(expected[:, 0] == pytest.approx(0.0, abs=1e-9))
    assert np.all(np.diff(expected, axis=1) >= -1e-9 * np.maximum(1, expected[:, 1:]))


@given(
    st.lists(st.tuples(histories(), st.floats(0.01, 10_000), st.booleans(), st.booleans()), min_size=0, max_size=40),
    st.integers(0, 5),
)
# One customer fits BG/NBD to a degenerate optimum whose predictions are not finite.
@example(rows=[((1.0, 0.5, 0.5), 1.0, False, False)], min_repeat_buyers=0)
@settings(max_examples=60, deadline=None)
def test_every_clv_is_non_negative(rows, min_repeat_buyers) -> None:  # type: ignore[no-untyped-def]
    x = np.array([row[0][0] for row in rows])
    customers = valuation.Customers(
        frequency=x,
        recency=np.array([row[0][1] for row in rows]),
        age=np.array([row[0][2] for row in rows]),
        monetary=np.where(x > 0, np.array([row[1] for row in rows]), np.nan),
        revenue=np.array([row[1] * (row[0][0] + 1) for row in rows]),
        margin=np.array([row[1] * (row[0][0] + 1) * 0.3 for row in rows]),
        bought_year_before_last=np.array([float(row[2]) for row in rows]),
        bought_last_year=np.array([float(row[3]) for row in rows]),
    )
    result = valuation.value(customers, valuation.ValuationSettings(min_repeat_buyers=min_repeat_buyers))
    for values in (result.simple_clv, result.retention_clv, result.predicted_clv, result.expected_purchases_365):
        assert len(values) == len(rows)
        assert np.all(values >= 0)


# -- recovery from simulated customers ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [7, 11, 2026])
def test_fitting_simulated_customers_recovers_the_parameters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = bgnbd.BgNbdParams(r=0.5, alpha=40.0, a=0.7, b=3.0)  # days
    x, t_x, big_t = simulate.bgnbd_customers(truth, rng.integers(0, 730, 40_000).astype(float), rng)
    fit = bgnbd.fit(x, t_x, big_t)
    assert fit.converged
    assert _close(fit.params.r, truth.r, 0.1) and _close(fit.params.alpha, truth.alpha, 0.1)
    assert _close(fit.params.a, truth.a, 0.2) and _close(fit.params.b, truth.b, 0.2)

    spend = simulate.spend(x, 6.0, 4.0, 20.0, rng)
    spend_fit = gamma_gamma.fit(x, spend)
    assert _close(spend_fit.params.p, 6.0, 0.15)
    assert _close(spend_fit.params.q, 4.0, 0.15)
    assert _close(spend_fit.params.v, 20.0, 0.2)


def test_hundreds_of_orders_and_long_histories_do_not_overflow() -> None:
    rng = np.random.default_rng(5)
    truth = bgnbd.BgNbdParams(r=2.0, alpha=4.0, a=0.3, b=20.0)  # heavy buyers: hundreds of purchases
    x, t_x, big_t = simulate.bgnbd_customers(truth, np.full(3000, 3650.0), rng)
    assert x.max() > 500
    fit = bgnbd.fit(x, t_x, big_t)
    assert fit.converged and np.isfinite(fit.log_likelihood)
    expected = bgnbd.expected_purchases(fit.params, x, t_x, big_t, 365.0)
    assert np.isfinite(expected).all() and (expected >= 0).all()


# -- degenerate workspaces ----------------------------------------------------------------------------


def _customers(x, t_x, big_t, value=50.0) -> valuation.Customers:  # type: ignore[no-untyped-def]
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    return valuation.Customers(
        frequency=x,
        recency=t_x,
        age=big_t,
        monetary=np.where(x > 0, value, np.nan),
        revenue=(x + 1) * value,
        margin=(x + 1) * value * 0.3,
        bought_year_before_last=np.zeros(len(x)),
        bought_last_year=np.ones(len(x)),
    )


def test_no_customers() -> None:
    result = valuation.value(_customers([], [], []), valuation.ValuationSettings())
    assert result.model == "simple" and result.bgnbd is None and len(result.predicted_clv) == 0
    # Nobody bought in the year before last: churn cannot be observed, the fallback length is used.
    assert (result.retention.source, result.retention.expected_years) == ("fallback", pytest.approx(3.0))


def test_one_customer_falls_back_to_the_simple_model() -> None:
    result = valuation.value(_customers([3], [100], [200]), valuation.ValuationSettings())
    assert result.model == "simple"
    assert "1 repeat buyers" in (result.reason or "")
    assert np.isnan(result.p_alive).all()
    # 4 purchases in 201 days: 4 x 365 / 201 a year (their own rate, 90 days at least), 50 each; the
    # fallback model predicts over a year at least: 4 in the next 365 days.
    assert result.purchases_per_year[0] == pytest.approx(4 * 365 / 201)
    assert result.expected_purchases_365[0] == pytest.approx(4.0)
    assert result.average_order_value[0] == pytest.approx(50.0)
    factors = valuation.discount_factors(12, 0.01)
    assert result.predicted_clv[0] == pytest.approx(50.0 * 4.0 / 365 * 30 * factors.sum())


def test_only_one_time_buyers() -> None:
    result = valuation.value(_customers([0] * 50, [0] * 50, list(range(50))), valuation.ValuationSettings())
    assert result.model == "simple" and result.spend_model == "average"
    assert np.all(result.predicted_clv > 0)


def test_all_purchases_on_one_day() -> None:
    """Everyone bought once, today: T = 0 for all; nothing to fit, nothing breaks."""
    result = valuation.value(_customers([0] * 40, [0] * 40, [0] * 40), valuation.ValuationSettings(min_repeat_buyers=1))
    assert result.model == "simple"
    assert np.isfinite(result.predicted_clv).all()


def test_the_fitted_model_is_used_with_enough_repeat_buyers(cdnow: dict[str, np.ndarray]) -> None:
    customers = valuation.Customers(
        frequency=cdnow["x"],
        recency=cdnow["t_x"] * 7,
        age=cdnow["T"] * 7,
        monetary=np.where(cdnow["x"] > 0, cdnow["zbar"], np.nan),
        revenue=np.where(cdnow["x"] > 0, cdnow["zbar"], 20.0) * (cdnow["x"] + 1),
        margin=np.zeros(len(cdnow["x"])),
        bought_year_before_last=np.zeros(len(cdnow["x"])),
        bought_last_year=np.zeros(len(cdnow["x"])),
    )
    result = valuation.value(customers, valuation.ValuationSettings())
    assert result.model == "bgnbd" and result.spend_model == "gamma_gamma"
    assert result.bgnbd is not None and result.gamma_gamma is not None
    assert result.bgnbd.params.alpha == pytest.approx(4.414 * 7, rel=0.01)  # the same model in days
    assert result.bgnbd.params.r == pytest.approx(0.243, rel=0.01)
    assert np.all((result.p_alive >= 0) & (result.p_alive <= 1))
    assert np.all(result.expected_purchases_365 >= result.expected_purchases_90)
    # The discounted CLV is below the undiscounted one.
    undiscounted = result.expected_value * bgnbd.expected_purchases(
        result.bgnbd.params, customers.frequency, customers.recency, customers.age, 360.0
    )
    assert np.all(result.predicted_clv <= undiscounted + 1e-9)


def test_retention_formulas() -> None:
    assert valuation.retention_clv(np.array([100.0]), 0.8, 0.1)[0] == pytest.approx(100 * 0.8 / 0.3)
    assert valuation.simple_clv(np.array([50.0]), np.array([4.0]), 4.0)[0] == pytest.approx(800.0)
    customers = _customers([1, 1, 1, 1], [1, 1, 1, 1], [800, 800, 800, 800])
    customers = valuation.Customers(
        **{**customers.__dict__, "bought_year_before_last": np.array([1.0, 1, 1, 0]),
           "bought_last_year": np.array([1.0, 0, 1, 1])}
    )  # fmt: skip
    retention = valuation.yearly_retention(customers, None)
    assert (retention.rate, retention.source, retention.customers_year_before_last, retention.retained) == (
        pytest.approx(2 / 3), "observed", 3, 2,
    )  # fmt: skip
    assert valuation.yearly_retention(customers, 0.99).rate == valuation.MAX_RETENTION
    assert valuation.yearly_retention(customers, 0.99).expected_years == pytest.approx(20.0)  # the upper bound
    assert valuation.historic_margin(np.array([100.0]), np.array([60.0]), np.array([50.0]), 0.3)[0] == 55.0


def test_simple_clv_by_hand() -> None:
    """Average purchase value x purchase frequency x length of the relationship, on four customers
    of a workspace (days; as_of is day T of each):

    | customer | purchase days | revenue | T   | span (T + 1, >= 90) | a year        | AOV |
    | a        | 4             | 200     | 199 | 200                 | 4 x 365 / 200 = 7.3   | 50  |
    | b        | 1             | 30      | 10  | 90 (11 is too few)  | 365 / 90 = 4.0556     | 30  |
    | c        | 3             | 300     | 729 | 730                 | 3 x 365 / 730 = 1.5   | 100 |
    | d        | 1             | 80      | 500 | 501                 | 365 / 501 = 0.7285    | 80  |

    c and d bought in the year before last; c bought again in the last year, d did not: yearly
    retention 1/2, annual churn 1/2, relationship 1 / 0.5 = 2 years."""
    customers = valuation.Customers(
        frequency=np.array([3.0, 0, 2, 0]),
        recency=np.array([150.0, 0, 700, 0]),
        age=np.array([199.0, 10, 729, 500]),
        monetary=np.array([50.0, np.nan, 100, np.nan]),
        revenue=np.array([200.0, 30, 300, 80]),
        margin=np.array([60.0, 9, 90, 24]),
        bought_year_before_last=np.array([0.0, 0, 1, 1]),
        bought_last_year=np.array([1.0, 1, 1, 0]),
    )
    result = valuation.value(customers, valuation.ValuationSettings())
    assert (result.retention.source, result.retention.rate) == ("observed", 0.5)
    assert (result.retention.annual_churn_rate, result.retention.expected_years) == (0.5, 2.0)
    assert result.purchases_per_year.tolist() == pytest.approx([7.3, 365 / 90, 1.5, 365 / 501])
    assert result.average_order_value.tolist() == pytest.approx([50.0, 30.0, 100.0, 80.0])
    assert result.simple_clv.tolist() == pytest.approx([730.0, 243.3333, 300.0, 116.5669], abs=1e-4)

    # Nobody bought in the year before last: churn cannot be observed; the fallback length (3 years
    # by default, the setting `default_relationship_years`) stands in: r = 1 - 1/3.
    unobserved = valuation.Customers(
        **{**customers.__dict__, "bought_year_before_last": np.zeros(4), "bought_last_year": np.ones(4)}
    )
    fallback = valuation.value(unobserved, valuation.ValuationSettings())
    assert (fallback.retention.source, fallback.retention.expected_years) == ("fallback", pytest.approx(3.0))
    assert fallback.simple_clv[0] == pytest.approx(50 * 7.3 * 3)
    assert valuation.value(unobserved, valuation.ValuationSettings(default_relationship_years=1.0)).simple_clv[
        0
    ] == pytest.approx(365.0)
    # Set: r = 0.75, 4 years. Observed without anyone coming back: churn 1, the lower bound of 1 year.
    assert valuation.value(customers, valuation.ValuationSettings(yearly_retention_rate=0.75)).simple_clv[
        2
    ] == pytest.approx(100 * 1.5 * 4)
    lost = valuation.Customers(**{**customers.__dict__, "bought_last_year": np.array([1.0, 1, 0, 0])})
    assert valuation.value(lost, valuation.ValuationSettings()).retention.expected_years == 1.0


def test_holdout_buckets_sum_the_predictions_per_calibration_frequency(cdnow: dict[str, np.ndarray]) -> None:
    actual = np.minimum(cdnow["x"], 3)
    check = valuation.holdout_check(cdnow["x"], cdnow["t_x"], cdnow["T"], 39.0, actual, min_repeat_buyers=30,
                                    params=PUBLISHED)  # fmt: skip
    buckets = check.buckets
    assert check.model == "bgnbd"
    assert [b.frequency for b in buckets] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(b.customers for b in buckets) == 2357
    assert sum(b.actual for b in buckets) == int(actual.sum())
    total = bgnbd.expected_purchases(PUBLISHED, cdnow["x"], cdnow["t_x"], cdnow["T"], 39.0).sum()
    assert sum(b.predicted for b in buckets) == pytest.approx(total)


def test_groups_count_sum_mean_and_percentiles() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    stats = groups.group([["a"], ["a"], ["b"], [], ["a", "b"]], {"clv": values, "double": 2 * values}, limit=10)
    by_key = {s.key: s for s in stats}
    assert [s.key for s in stats] == ["a", "b", None]
    a = by_key["a"].metrics["clv"]
    assert (by_key["a"].count, a.sum, a.mean) == (3, 8.0, pytest.approx(8 / 3))
    assert a.percentiles["p50"] == 2.0
    assert by_key["a"].metrics["double"].sum == 16.0
    assert (by_key[None].count, by_key[None].metrics["clv"].sum) == (1, 4.0)
    assert len(groups.group([["a"], ["b"], ["c"]], {"clv": np.ones(3)}, limit=2)) == 2


def test_the_holdout_check_fits_the_calibration_period_or_says_why_not(cdnow: dict[str, np.ndarray]) -> None:
    fitted = valuation.holdout_check(cdnow["x"], cdnow["t_x"], cdnow["T"], 39.0, cdnow["x"], min_repeat_buyers=30)
    assert fitted.model == "bgnbd" and fitted.fit is not None and fitted.reason is None
    assert fitted.fit.params.r == pytest.approx(0.243, rel=0.01)
    few = valuation.holdout_check(np.array([0.0, 2.0]), np.array([0.0, 100.0]), np.array([10.0, 400.0]), 73.0,
                                  np.array([0.0, 1.0]), min_repeat_buyers=30)  # fmt: skip
    assert few.model == "simple" and few.fit is None and "1 repeat buyers" in (few.reason or "")
    # 3 purchases over 401 days: 3 x 365 / 401 a year, for 73 days.
    assert sum(b.predicted for b in few.buckets) == pytest.approx(365 / 365 * 73 / 365 + 3 * 365 / 401 * 73 / 365)
