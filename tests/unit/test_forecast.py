"""The sales forecast (app/domain/reports/forecast.py): model choice by the rolling-origin backtest
against seasonal naive, the short-history rule, the occasions (checked against jdatetime), the
exogenous inputs, the intervals and determinism."""

from __future__ import annotations

from datetime import date, timedelta
from unittest import mock

import jdatetime  # type: ignore[import-untyped]
import numpy as np
import pytest

from app.domain.reports import forecast as module
from app.domain.reports.forecast import (
    SEASON_LENGTHS,
    Occasion,
    OccasionMatrix,
    black_friday,
    forecast,
    nowruz,
    occasion_matrix,
    period_ranges,
    smape,
    yalda,
)

# statsmodels' warnings must stay inside the module.
pytestmark = pytest.mark.filterwarnings("error")

# A month's effect: December the peak, July the trough.
SEASON = np.array([-20, -25, 10, 5, 0, -10, -40, -30, -5, 10, 30, 60], dtype=float)


def seasonal_truth(t: np.ndarray) -> np.ndarray:
    return np.asarray(300 + 4 * t + SEASON[t % 12], dtype=np.float64)


def test_seasonal_trend_series_beats_seasonal_naive_and_continues_trend_and_season() -> None:
    n = 36  # January 2023 to December 2025
    y = seasonal_truth(np.arange(n)) + np.random.default_rng(7).normal(0, 8, n)
    result = forecast(list(y), horizon=12, season_length=12)
    assert result.model in ("ets", "sarimax")
    assert result.note is None
    backtest = result.backtest
    assert backtest.metric == "smape"
    assert backtest.baseline == "seasonal_naive"
    assert backtest.origins == 6 and backtest.horizon == 3
    assert backtest.model_error is not None and backtest.seasonal_naive_error is not None
    assert backtest.model_error < 0.5 * backtest.seasonal_naive_error
    assert result.candidates[result.model] == backtest.model_error
    values = np.array([point.value for point in result.points])
    truth = seasonal_truth(np.arange(n, n + 12))
    assert values[11] > values[6] + 60  # next December well above next July (truth: +100)
    assert np.all(np.abs(values - truth) <= 0.05 * truth)
    assert values[11] > y[35] + 20  # the trend goes on: December 2026 above December 2025 (truth: +48)
    covered = sum(p.lower <= v <= p.upper for p, v in zip(result.points, truth, strict=True))
    assert covered >= 6  # an 80% interval


def test_pure_noise_claims_no_more_gain_than_knowing_the_mean() -> None:
    """On white noise no model can beat the true mean. Seasonal naive copies last year's noise, so
    the true mean itself beats it, by a sMAPE ratio near 1/sqrt(2) = 0.71: "no gain at all" is not
    the honest expectation. What the backtest must not do is claim more skill than that: per series
    the chosen model's error is not far below the true mean's on the same origins, and on average
    its ratio to seasonal naive is not below the true mean's."""
    ratios, oracle_ratios = [], []
    for seed in range(8):
        y = np.random.default_rng(seed).normal(200, 30, 36)
        result = forecast(list(y), horizon=12, season_length=12)
        backtest = result.backtest
        assert backtest.model_error is not None and backtest.seasonal_naive_error is not None
        first = 36 - backtest.horizon - backtest.origins + 1
        actual = np.concatenate([y[o : o + backtest.horizon] for o in range(first, first + backtest.origins)])
        oracle = smape(actual, np.full(actual.size, 200.0))
        assert backtest.model_error >= 0.7 * oracle
        ratios.append(backtest.model_error / backtest.seasonal_naive_error)
        oracle_ratios.append(oracle / backtest.seasonal_naive_error)
        values = [point.value for point in result.points]
        assert all(110 < value < 290 for value in values)  # within three noise deviations
        assert abs(np.mean(values) - 200) < 40  # no trend invented
    assert np.mean(ratios) >= np.mean(oracle_ratios)
    assert 0.55 < np.mean(oracle_ratios) < 0.9  # the series are the noise they claim to be


def test_fifteen_months_too_short_for_seasonality_use_a_trend_model_and_say_so() -> None:
    y = 100 + 3 * np.arange(15) + np.random.default_rng(1).normal(0, 5, 15)
    result = forecast(list(y), horizon=6, season_length=12)
    assert result.model in ("holt_damped", "sarimax", "naive")
    assert set(result.candidates) == {"naive", "holt_damped", "sarimax"}
    assert result.note is not None and "seasonality needs 29" in result.note
    assert result.backtest.baseline == "naive"
    assert result.backtest.origins == 3
    # 29 months: the seasonal models are tried, and no note.
    y = seasonal_truth(np.arange(29)) + np.random.default_rng(1).normal(0, 8, 29)
    seasonal = forecast(list(y), horizon=6, season_length=12)
    assert set(seasonal.candidates) == {"seasonal_naive", "ets", "sarimax"}
    assert seasonal.note is None


def test_very_short_history_uses_naive_or_mean() -> None:
    result = forecast([120.0, 80.0, 100.0, 110.0, 90.0, 100.0], horizon=3, season_length=12)
    assert result.model in ("naive", "mean")
    assert set(result.candidates) == {"naive", "mean"}
    assert result.note is not None and "too short" in result.note
    assert result.backtest.origins >= 1
    with pytest.raises(ValueError, match="at least 3"):
        forecast([1.0, 2.0], horizon=3, season_length=12)


def test_yearly_periods_have_no_season() -> None:
    y = 1000 + 50 * np.arange(20) + np.random.default_rng(2).normal(0, 20, 20)
    result = forecast(list(y), horizon=3, season_length=SEASON_LENGTHS["year"])
    assert set(result.candidates) == {"naive", "holt_damped", "sarimax"}
    assert result.note is None
    assert result.points[2].value > y[-1]


def jalali_new_year(year: int) -> date:
    first: date = jdatetime.date(year - 621, 1, 1).togregorian()
    return first


@pytest.mark.parametrize(("year", "first_day"), [(2024, 20), (2025, 21), (2026, 21)])
def test_nowruz_in_monthly_periods(year: int, first_day: int) -> None:
    assert jalali_new_year(year) == date(year, 3, first_day)  # jdatetime agrees with the calendar
    assert nowruz(year) == (date(year, 3, first_day), date(year, 3, first_day) + timedelta(days=13))
    matrix = occasion_matrix(period_ranges("month", date(year, 1, 1), 12))
    column = [row[matrix.names.index("nowruz")] for row in matrix.rows]
    march_days = 31 - first_day + 1  # 12 from the 20th, 11 from the 21st
    assert column[2] == pytest.approx(march_days / 31)
    assert column[3] == pytest.approx((13 - march_days) / 30)  # 1 or 2 April days
    assert march_days in (11, 12)
    assert all(value == 0 for i, value in enumerate(column) if i not in (2, 3))


def test_black_friday_and_yalda() -> None:
    assert black_friday(2026) == date(2026, 11, 27)
    assert black_friday(2025) == date(2025, 11, 28)
    assert black_friday(2024) == date(2024, 11, 29)
    for year in (2024, 2025, 2026):
        azar_30: date = jdatetime.date(year - 621, 9, 30).togregorian()
        assert yalda(year) == azar_30
        assert azar_30.month == 12 and azar_30.day in (20, 21)
    days = period_ranges("day", date(2026, 11, 20), 45)
    matrix = occasion_matrix(days)
    flagged = {
        name: [start for (start, _), row in zip(days, matrix.rows, strict=True) if row[i] == 1]
        for i, name in enumerate(matrix.names)
    }
    assert flagged == {"nowruz": [], "yalda": [yalda(2026)], "black_friday": [date(2026, 11, 27)]}
    assert {value for row in matrix.rows for value in row} == {0.0, 1.0}  # flags for day periods
    months = occasion_matrix(period_ranges("month", date(2026, 1, 1), 12))
    assert months.rows[10][months.names.index("black_friday")] == pytest.approx(1 / 30)
    assert months.rows[11][months.names.index("yalda")] == pytest.approx(1 / 31)


def test_workspace_occasions_and_weeks() -> None:
    sale = Occasion("sale", ((date(2025, 6, 25), date(2025, 7, 5)),))  # 6 June days, 4 July days
    matrix = occasion_matrix(period_ranges("month", date(2025, 5, 1), 3), [sale], region=())
    assert matrix.names == ("sale",)
    assert [row[0] for row in matrix.rows] == pytest.approx([0, 6 / 30, 4 / 31])
    weeks = period_ranges("week", date(2025, 3, 17), 3)  # Monday 17 March 2025
    nowruz_weeks = occasion_matrix(weeks, region=("nowruz",))
    assert [row[0] for row in nowruz_weeks.rows] == pytest.approx([3 / 7, 7 / 7, 3 / 7])  # 21 March to 2 April
    with pytest.raises(ValueError):
        Occasion("nowruz", ())
    with pytest.raises(ValueError):
        occasion_matrix(weeks, [sale, sale])


def test_period_ranges() -> None:
    assert period_ranges("quarter", date(2025, 10, 1), 2) == (
        (date(2025, 10, 1), date(2026, 1, 1)),
        (date(2026, 1, 1), date(2026, 4, 1)),
    )
    assert period_ranges("month", date(2025, 12, 1), 2)[1] == (date(2026, 1, 1), date(2026, 2, 1))
    with pytest.raises(ValueError):
        period_ranges("month", date(2025, 12, 5), 2)


def festival_case() -> tuple[list[float], OccasionMatrix, np.ndarray]:
    """A festival on the workspace's dates that moves month every year (May, July, September, then
    November in the forecast year): seasonal naive and ETS expect it where it was a year ago."""
    festival = Occasion(
        "festival",
        (
            (date(2023, 5, 8), date(2023, 5, 22)),
            (date(2024, 7, 10), date(2024, 7, 24)),
            (date(2025, 9, 8), date(2025, 9, 22)),
            (date(2026, 11, 9), date(2026, 11, 23)),
        ),
    )
    never_seen = Occasion("launch", ((date(2026, 3, 1), date(2026, 3, 3)),))  # only in the future
    n = 36
    matrix = occasion_matrix(period_ranges("month", date(2023, 1, 1), n + 12), [festival, never_seen])
    share = np.array([row[matrix.names.index("festival")] for row in matrix.rows])
    y = seasonal_truth(np.arange(n)) + 200 * share[:n] + np.random.default_rng(0).normal(0, 8, n)
    return list(y), matrix, share


def test_an_occasion_on_moving_dates_is_learned_by_sarimax() -> None:
    history, matrix, share = festival_case()
    result = forecast(history, horizon=12, season_length=12, occasions=matrix)
    assert result.model == "sarimax"
    assert "festival" in result.exogenous
    assert "launch" not in result.exogenous  # never in the history: dropped
    assert "black_friday" not in result.exogenous  # the same day every November: part of the season
    errors = result.candidates
    assert errors["sarimax"] is not None and errors["ets"] is not None and errors["seasonal_naive"] is not None
    assert errors["sarimax"] < 0.5 * errors["seasonal_naive"]
    assert errors["sarimax"] < errors["ets"]
    without_festival = seasonal_truth(np.arange(36, 48))
    november = result.points[10].value
    assert november - without_festival[10] > 0.5 * 200 * share[46]  # the festival's November
    assert abs(result.points[6].value - without_festival[6]) < 30  # no festival next July


def test_exchange_rate_is_an_input_carried_forward_or_given() -> None:
    """Revenue that follows the exchange rate (seeded: with another seed seasonal naive can win)."""
    rng = np.random.default_rng(0)
    n = 36
    rate = 40000 * np.exp(np.cumsum(rng.normal(0, 0.08, n)))
    y = 300 + SEASON[np.arange(n) % 12] + 0.01 * rate + rng.normal(0, 8, n)
    carried = forecast(list(y), horizon=12, season_length=12, exchange_rate=list(rate))
    assert carried.model == "sarimax" and carried.exogenous == ("exchange_rate",)
    jump = list(rate) + [rate[-1] * 1.5] * 12  # a devaluation announced for the forecast year
    given = forecast(list(y), horizon=12, season_length=12, exchange_rate=jump)
    assert given.backtest == carried.backtest  # the future rates play no part in the backtest
    for before, after in zip(carried.points, given.points, strict=True):
        assert after.value > before.value + 0.5 * 0.01 * rate[-1] * 0.5
    with pytest.raises(ValueError, match="exchange_rate"):
        forecast(list(y), horizon=12, season_length=12, exchange_rate=list(rate[:-1]))


def test_same_input_same_output() -> None:
    history, matrix, _ = festival_case()
    first = forecast(history, horizon=12, season_length=12, occasions=matrix)
    second = forecast(history, horizon=12, season_length=12, occasions=matrix)
    assert first == second
    noise = list(np.random.default_rng(3).normal(100, 20, 60))
    assert forecast(noise, horizon=6, season_length=12) == forecast(noise, horizon=6, season_length=12)


@pytest.mark.parametrize(
    ("history", "season"),
    [
        (list(np.maximum(0, 100 - 5 * np.arange(24.0))), 12),  # falling to zero: clipped
        (list(seasonal_truth(np.arange(40)) + np.random.default_rng(5).normal(0, 8, 40)), 12),
        ([0.0] * 10 + [5.0, 0.0, 0.0, 3.0, 0.0, 0.0, 1.0, 0.0], None),  # mostly empty periods
        ([0.0] * 30, 12),
        (list(np.random.default_rng(6).poisson(3, 60).astype(float)), 7),  # orders per day
    ],
)
def test_points_are_ordered_and_never_negative(history: list[float], season: int | None) -> None:
    result = forecast(history, horizon=9, season_length=season)
    assert len(result.points) == 9
    for point in result.points:
        assert 0 <= point.lower <= point.value <= point.upper
        assert np.isfinite([point.lower, point.value, point.upper]).all()
    errors = [error for error in result.candidates.values() if error is not None]
    assert result.backtest.model_error == min(errors)


def test_the_baseline_is_chosen_unless_beaten() -> None:
    # A pure seasonal pattern, the same every year: seasonal naive is exact, nothing beats it.
    y = list(np.tile(SEASON + 100, 4))
    result = forecast(y, horizon=12, season_length=12)
    assert result.backtest.seasonal_naive_error == 0
    assert result.model == "seasonal_naive"
    assert [point.value for point in result.points] == pytest.approx(list(SEASON + 100))


def test_the_seasonal_naive_error_is_seasonal_naives_only() -> None:
    """With a season that fits before the first origin, the baseline is seasonal naive and both
    errors are its own; without one (too short a history, or no season), the baseline is naive: its
    error is `baseline_error` and `seasonal_naive_error` is None."""
    seasonal = forecast(list(np.tile(SEASON + 100, 4)), horizon=12, season_length=12).backtest
    assert (seasonal.baseline, seasonal.seasonal_naive_error, seasonal.baseline_error) == ("seasonal_naive", 0, 0)
    y = list(seasonal_truth(np.arange(18)))
    for season in (12, None):
        result = forecast(y, horizon=6, season_length=season)
        backtest = result.backtest
        assert backtest.baseline == "naive" and backtest.seasonal_naive_error is None, season
        assert backtest.baseline_error is not None and backtest.baseline_error == result.candidates["naive"]
        assert backtest.baseline_error > 0


def test_a_model_that_fails_is_left_out() -> None:
    y = list(seasonal_truth(np.arange(36)) + np.random.default_rng(7).normal(0, 8, 36))
    with mock.patch.object(module._Ets, "backtest", side_effect=np.linalg.LinAlgError("singular")):
        result = forecast(y, horizon=12, season_length=12)
    assert result.candidates["ets"] is None
    assert result.model != "ets"
    with (
        mock.patch.object(module._Sarimax, "predict", side_effect=ValueError("no fit")),
        mock.patch.object(module._Ets, "backtest", side_effect=ValueError("no fit")),
    ):
        fallback = forecast(y, horizon=12, season_length=12)
    assert fallback.model == "seasonal_naive"
    assert fallback.note is not None and "sarimax failed" in fallback.note


def test_smape() -> None:
    assert smape([0.0], [0.0]) == 0
    assert smape([100.0], [0.0]) == 2
    assert smape([100.0, 0.0], [110.0, 0.0]) == pytest.approx((20 / 210) / 2)
    with pytest.raises(ValueError):
        smape([1.0], [])


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="horizon"):
        forecast([1.0] * 10, horizon=0, season_length=12)
    with pytest.raises(ValueError, match="finite"):
        forecast([1.0] * 9 + [float("nan")], horizon=1, season_length=12)
    with pytest.raises(ValueError, match="season_length"):
        forecast([1.0] * 10, horizon=1, season_length=1)
    matrix = occasion_matrix(period_ranges("month", date(2025, 1, 1), 11))
    with pytest.raises(ValueError, match="occasions"):
        forecast([1.0] * 10, horizon=2, season_length=12, occasions=matrix)


def test_a_workspaces_yearly_occasion_lands_on_its_days_in_either_calendar() -> None:
    from app.domain.reports.forecast import YearlyOccasion, occasion_matrix

    # 30 Esfand: 1403 is a leap year (30 Esfand 1403 = 20 March 2025); 1402 and 1404 end on the 29th.
    esfand = YearlyOccasion("last_day_sale", "jalali", 12, 30, 1).ranges(range(2024, 2027))
    assert [start for start, _ in esfand] == [date(2024, 3, 19), date(2025, 3, 20), date(2026, 3, 20)]
    leap_day = YearlyOccasion("leap_sale", "gregorian", 2, 29, 2).ranges(range(2024, 2026))
    assert leap_day == ((date(2024, 2, 29), date(2024, 3, 2)), (date(2025, 2, 28), date(2025, 3, 2)))
    # As a column of the model's inputs: March 2025 holds one of its 31 days, February none.
    own = YearlyOccasion("last_day_sale", "jalali", 12, 30).for_years(range(2024, 2027))
    matrix = occasion_matrix([(date(2025, 2, 1), date(2025, 3, 1)), (date(2025, 3, 1), date(2025, 4, 1))], [own],
                             region=())  # fmt: skip
    assert matrix.names == ("last_day_sale",) and matrix.rows == ((0.0,), (1 / 31,))
