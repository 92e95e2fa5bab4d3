"""A sales forecast, pure: revenue or orders per period for the next `horizon` periods, by the model
that did best in its own rolling-origin backtest on the workspace's history.

Input (`forecast`). `history`: one value per period, oldest first, zeros for empty periods;
`season_length`: `SEASON_LENGTHS[unit]` (day 7, week 52, month 12, quarter 4, year None);
`horizon`: periods to forecast; optional `occasions` (`occasion_matrix`, one row per period of
history and future) and `exchange_rate` (one value per history period, or per history and future
period). Amounts are floats; the service converts them to decimal strings. A history longer than
400 periods is cut to its latest 400 (day periods: 57 weeks, each yearly occasion seen at least
once): fitting cost grows with the length, and these models learn little from older values.

Tiers, by the history's length n and the season s (the backtest horizon H and origins: below):
- seasonal, when s is given and n >= m + H + 2, m = max(2s, 10 + 2 * (s // 2)): two full seasons
  (and the 10 + 2 * (s // 2) values statsmodels' heuristic initialisation needs) before the earliest
  of at least three backtest origins; month 29 periods, quarter 19, week 109, day 21 (with H = 3).
  Candidates: `seasonal_naive`, `ets` and `sarimax` (below).
- trend, when n >= 10 + H + 2: the baseline (below), `holt_damped` (Holt's linear trend, damped:
  ETS(A,Ad,N)) and `sarimax` without the season (ARIMA(0,1,1) with drift and the exogenous inputs).
- short, below that (n >= 3; fewer periods are refused with ValueError): the baseline and `mean`.
When s is given and the history is below the seasonal tier, `note` says so (the periods needed) and
names the models tried; the short tier always has a note; a yearly series (no season) with at least
15 periods has none.

Models.
- `seasonal_naive`: each period repeats the same period one season earlier. It is the baseline
  every other candidate must beat. When the shortest backtest training window holds less than one
  season (or there is no season) the baseline is `naive` (the last value), seasonal naive with a
  season of 1; `Backtest.baseline` names it and `seasonal_naive_error` is then its error.
  Interval: Hyndman and Athanasopoulos' formula, sigma * sqrt(floor((h - 1) / s) + 1), sigma the
  root mean square of the in-sample seasonal differences y[t] - y[t - s].
- `mean`: the history's mean; interval sd * sqrt(1 + 1/n).
- `ets`: statsmodels' state-space ETSModel, additive error, additive damped trend, additive season,
  ETS(A,Ad,A); `holt_damped` the same without the season, ETS(A,Ad,N). Initial states by
  statsmodels' heuristic (a classical decomposition of the first seasons), the smoothing parameters
  and the damping (0.8..0.98) by maximum likelihood. Additive, not multiplicative: periods with
  zero sales are normal. Interval: the model's exact (analytic) prediction interval.
- `sarimax`: regression on the exogenous inputs with SARIMA errors, fixed orders: the airline model
  (0,1,1)(0,1,1,s) for s <= 24; for a longer season (week, s = 52: a 52-period seasonal state made a
  single fit take 15 s) ARIMA(0,1,1) with drift and 4 Fourier pairs of period s for the season,
  the regression coefficients then states of the Kalman filter rather than optimised parameters;
  ARIMA(0,1,1) with drift in the trend tier. Approximate diffuse initial state, the values the
  diffuse states absorb left out of the likelihood (1 + s with the airline model, plus the
  regression columns when they are states); the scale concentrated out; Powell's method, at most 50
  iterations and 500 likelihood evaluations. Interval: the Kalman filter's forecast interval.
  Exogenous inputs: each occasion column that is not all zero over the training history (one
  never seen cannot be estimated; `Forecast.exogenous` names those used) and, under the airline
  model, whose seasonal difference reaches 0.1 somewhere (an occasion on the same days every season,
  like Black Friday or Yalda in monthly periods, is part of the season already and its coefficient
  could not be told apart from it); plus the exchange rate, standardised over the training history,
  when it is not constant there. Future exchange rates: the ones given; when only the history's
  are given, the last value carried forward.

Backtest (`Backtest`). Rolling origin: k origins one period apart, the latest leaving H periods, each
forecasting the next H = min(horizon, 3) periods (in the short tier also at most n - 2) from the
history up to the origin. k = min(6, n - H - m + 1), m the tier's shortest training history
(above, 10 or 2). The error is sMAPE averaged over the k x H forecasts (clipped at zero, as served):
2|F - A| / (|A| + |F|), 0 when both are 0, so a fraction from 0 to 2. The ETS and sarimax
parameters are estimated once, at the earliest origin, and the model's states run through each
later origin's history with them (no later value is used; one fit instead of six keeps the backtest
fast); the final forecast refits on the whole history, starting from those estimates. The candidate
with the lowest error is chosen, the baseline on a tie: a model that does not beat the baseline is
never chosen. A candidate that fails to fit, or forecasts a non-finite value, at any origin is left
out (`candidates` gives it None); one that fails on the whole history gives way to the baseline
(and `note` says so).

Points: value and the 80% prediction interval (the 10th and 90th percentiles), all clipped at 0.

Deterministic: no randomness, the same input gives the same output. statsmodels' warnings
(convergence, start parameters) and numpy's floating-point ones are silenced while fitting: the
backtest is what judges a fit. `warnings.catch_warnings` changes process-wide state: a concurrent
thread's warnings may be hidden while a forecast runs.

Occasions (`occasion_matrix`): per period [start, end) of local Gregorian dates, the fraction of its
days that fall on each occasion (a 0/1 flag for day periods).
- `nowruz`: Farvardin 1 to 13 of the Jalali year (20 or 21 March to 1 or 2 April), by `jdatetime`.
- `yalda`: the day of Azar 30 (20 or 21 December), whose evening begins Yalda night, the year's
  longest, before Dey 1; the day of the gatherings and of their shopping. Dey 1 is not marked.
- `black_friday`: the day after the fourth Thursday of November.
- the workspace's own `Occasion`s: a name and Gregorian date ranges [start, end).
"""

from __future__ import annotations

import calendar
import math
import warnings
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist
from typing import Any, Protocol

import jdatetime  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # type: ignore[import-untyped]
from statsmodels.tsa.statespace.sarimax import SARIMAX  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]
DateRange = tuple[date, date]  # [start, end): local Gregorian dates, the end excluded

SEASON_LENGTHS: Mapping[str, int | None] = {"day": 7, "week": 52, "month": 12, "quarter": 4, "year": None}
REGION_OCCASIONS = ("nowruz", "yalda", "black_friday")

METRIC = "smape"
INTERVAL = 0.8  # the prediction interval's level: P10 to P90
BACKTEST_HORIZON = 3  # periods each backtest origin forecasts, at most
MAX_ORIGINS = 6
MIN_ORIGINS = 3  # the seasonal and trend tiers need this many origins
MIN_HISTORY = 3
TREND_MIN_TRAIN = 10  # statsmodels' heuristic initialisation needs 10 values
SHORT_MIN_TRAIN = 2
LONG_SEASON = 24  # longer seasons: Fourier terms in sarimax instead of a seasonal ARIMA part
FOURIER_PAIRS = 4
SARIMAX_MAXITER = 50
SARIMAX_MAXFUN = 500  # likelihood evaluations per fit, at most
MAX_PERIODS = 400  # a longer history is cut to its latest periods (day periods: 57 weeks)
HORIZON_DEFAULT = 6  # periods forecast unless asked for another number
HORIZON_MAX = 52
MIN_SEASONAL_CHANGE = 0.1  # an occasion's seasonal difference must reach this for the airline model

_Z = NormalDist().inv_cdf(0.5 + INTERVAL / 2)


# Occasions --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Occasion:
    """One of the workspace's own dates: a name and Gregorian date ranges, each [start, end)."""

    name: str
    ranges: tuple[DateRange, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an occasion needs a name")
        if self.name in REGION_OCCASIONS or self.name == "exchange_rate":
            raise ValueError(f"occasion {self.name}: the name is taken by a built-in input")
        for start, end in self.ranges:
            if not start < end:
                raise ValueError(f"occasion {self.name}: a range must start before it ends")


@dataclass(frozen=True, slots=True)
class OccasionMatrix:
    """One column per occasion (`names`), one row per period (history then future)."""

    names: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]


def nowruz(year: int) -> DateRange:
    """The Nowruz holidays beginning in Gregorian `year`: Farvardin 1 to 13, as [start, end)."""
    jalali_year = jdatetime.date.fromgregorian(date=date(year, 6, 1)).year  # the year begun that March
    first: date = jdatetime.date(jalali_year, 1, 1).togregorian()
    last: date = jdatetime.date(jalali_year, 1, 13).togregorian()
    return first, last + timedelta(days=1)


def yalda(year: int) -> date:
    """Azar 30 in Gregorian `year`: the day whose evening begins Yalda night."""
    jalali_year = jdatetime.date.fromgregorian(date=date(year, 6, 1)).year
    day: date = jdatetime.date(jalali_year, 9, 30).togregorian()
    return day


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(calendar.THURSDAY - first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


@dataclass(frozen=True)
class YearlyOccasion:
    """One of the workspace's own dates, every year: `days` days from `month`/`day` of its
    `calendar` (Jalali or Gregorian). A day past the month's end (30 Esfand, 29 February in a common
    year) is the month's last day that year."""

    name: str
    calendar: str
    month: int
    day: int
    days: int = 1

    def ranges(self, years: range) -> tuple[DateRange, ...]:
        """Its Gregorian [start, end) ranges for the Gregorian `years` (a Jalali year starts in
        March: the one starting in each Gregorian year, and the one before)."""
        found: list[DateRange] = []
        if self.calendar == "jalali":
            for year in range(years.start - 622, years.stop - 621):
                leap = jdatetime.date(year, 1, 1).isleap()
                last = 31 if self.month <= 6 else 30 if self.month <= 11 else 30 if leap else 29
                start = jdatetime.date(year, self.month, min(self.day, last)).togregorian()
                found.append((start, start + timedelta(days=self.days)))
        else:
            for year in years:
                last = calendar.monthrange(year, self.month)[1]
                start = date(year, self.month, min(self.day, last))
                found.append((start, start + timedelta(days=self.days)))
        return tuple(r for r in found if r[0].year in years or r[1].year in years)

    def for_years(self, years: range) -> Occasion:
        return Occasion(self.name, self.ranges(years))


def _region_days(name: str, years: range) -> list[date]:
    days: list[date] = []
    for year in years:
        if name == "nowruz":
            start, end = nowruz(year)
            days.extend(start + timedelta(days=i) for i in range((end - start).days))
        elif name == "yalda":
            days.append(yalda(year))
        elif name == "black_friday":
            days.append(black_friday(year))
        else:
            raise ValueError(f"unknown region occasion {name}")
    return days


def occasion_matrix(
    periods: Sequence[DateRange],
    workspace: Sequence[Occasion] = (),
    *,
    region: Sequence[str] = REGION_OCCASIONS,
) -> OccasionMatrix:
    """Per period [start, end) the fraction of its days on each occasion: the `region`'s built-in
    ones (`nowruz`, `yalda`, `black_friday`), then the `workspace`'s, in that order. Every column is
    kept; `forecast` drops the ones that are zero over the history."""
    for start, end in periods:
        if not start < end:
            raise ValueError("a period must start before it ends")
    names = [*region, *(occasion.name for occasion in workspace)]
    if len(set(names)) != len(names):
        raise ValueError("occasion names must be unique")
    if not periods:
        return OccasionMatrix(tuple(names), ())
    years = range(min(start for start, _ in periods).year - 1, max(end for _, end in periods).year + 2)
    day_sets: list[list[date]] = [sorted(set(_region_days(name, years))) for name in region]
    for occasion in workspace:
        days: set[date] = set()
        for start, end in occasion.ranges:
            days.update(start + timedelta(days=i) for i in range((end - start).days))
        day_sets.append(sorted(days))
    rows = []
    for start, end in periods:
        length = (end - start).days
        rows.append(tuple((bisect_left(ds, end) - bisect_left(ds, start)) / length for ds in day_sets))
    return OccasionMatrix(tuple(names), tuple(rows))


def period_ranges(unit: str, first_start: date, count: int) -> tuple[DateRange, ...]:
    """`count` consecutive Gregorian periods of `unit` from `first_start` as [start, end) ranges:
    days, weeks of 7 days from any day, calendar months (from a 1st), quarters (from 1 January,
    April, July or October) or years (from 1 January)."""
    if unit not in SEASON_LENGTHS:
        raise ValueError(f"unknown period {unit}")
    if count < 0:
        raise ValueError("count must not be negative")
    if unit in ("day", "week"):
        step = 1 if unit == "day" else 7
        return tuple(
            (first_start + timedelta(days=step * i), first_start + timedelta(days=step * (i + 1))) for i in range(count)
        )
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    if first_start.day != 1 or (first_start.month - 1) % months:
        raise ValueError(f"a {unit} starts on the first day of a {unit}")

    def month_start(index: int) -> date:
        total = first_start.year * 12 + first_start.month - 1 + index * months
        return date(total // 12, total % 12 + 1, 1)

    return tuple((month_start(i), month_start(i + 1)) for i in range(count))


# Results ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    value: float
    lower: float  # P10
    upper: float  # P90


@dataclass(frozen=True, slots=True)
class Backtest:
    """Rolling-origin sMAPE (a fraction) of the chosen model and of the baseline on the same
    `origins`, each forecasting `horizon` periods; None when no origin fits in the history.
    `seasonal_naive_error` is seasonal naive's only: None when no seasonal-naive forecast is
    possible (no season, or no full season before the first origin), the baseline then being
    naive; `baseline_error` is the baseline's, whichever it is."""

    metric: str
    model_error: float | None
    seasonal_naive_error: float | None
    origins: int
    horizon: int
    baseline: str  # "seasonal_naive", or "naive" when no season fits in the backtest
    baseline_error: float | None = None


@dataclass(frozen=True, slots=True)
class Forecast:
    model: str
    note: str | None
    points: tuple[Point, ...]
    backtest: Backtest
    candidates: Mapping[str, float | None] = field(default_factory=dict)  # backtest error, None: failed
    exogenous: tuple[str, ...] = ()  # the inputs the chosen sarimax used


def smape(actual: Sequence[float] | FloatArray, predicted: Sequence[float] | FloatArray) -> float:
    """Mean of 2|F - A| / (|A| + |F|) over the pairs, a term being 0 when both are 0."""
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(predicted, dtype=np.float64)
    if a.shape != f.shape or a.size == 0:
        raise ValueError("smape needs as many forecasts as actual values, at least one")
    denominator = np.abs(a) + np.abs(f)
    safe = np.where(denominator == 0, 1.0, denominator)
    terms = np.where(denominator == 0, 0.0, 2 * np.abs(f - a) / safe)
    return float(np.mean(terms))


# Models -----------------------------------------------------------------------------------------

Prediction = tuple[FloatArray, FloatArray, FloatArray]  # value, lower, upper


class _Model(Protocol):
    name: str

    def backtest(self, y: FloatArray, origins: Sequence[int], steps: int) -> FloatArray:
        """Forecasts of `steps` periods from each origin (a row each), fitted on y[:origin]."""
        ...

    def predict(self, y: FloatArray, steps: int) -> Prediction: ...


class _SeasonalNaive:
    def __init__(self, season: int) -> None:
        self.season = season
        self.name = "seasonal_naive" if season > 1 else "naive"

    def _point(self, y: FloatArray, steps: int) -> FloatArray:
        n, s = len(y), self.season
        return np.array([y[n - s + (j % s)] for j in range(steps)], dtype=np.float64)

    def backtest(self, y: FloatArray, origins: Sequence[int], steps: int) -> FloatArray:
        return np.array([self._point(y[:origin], steps) for origin in origins], dtype=np.float64)

    def predict(self, y: FloatArray, steps: int) -> Prediction:
        value = self._point(y, steps)
        residuals = y[self.season :] - y[: -self.season]
        sigma = float(np.sqrt(np.mean(residuals**2)))
        spread = _Z * sigma * np.sqrt(np.arange(steps) // self.season + 1.0)
        return value, value - spread, value + spread


class _Mean:
    name = "mean"

    def backtest(self, y: FloatArray, origins: Sequence[int], steps: int) -> FloatArray:
        return np.array([np.full(steps, np.mean(y[:origin])) for origin in origins], dtype=np.float64)

    def predict(self, y: FloatArray, steps: int) -> Prediction:
        value = np.full(steps, float(np.mean(y)))
        spread = _Z * float(np.std(y, ddof=1)) * math.sqrt(1 + 1 / len(y))
        return value, value - spread, value + spread


class _Ets:
    def __init__(self, name: str, season: int | None) -> None:
        self.name = name
        self.season = season
        self.params: Any = None  # estimated at the earliest backtest origin: the final fit starts there

    def _model(self, y: FloatArray) -> Any:
        return ETSModel(
            pd.Series(y),
            error="add",
            trend="add",
            damped_trend=True,
            seasonal="add" if self.season else None,
            seasonal_periods=self.season,
            initialization_method="heuristic",
        )

    def backtest(self, y: FloatArray, origins: Sequence[int], steps: int) -> FloatArray:
        first = origins[0]
        fitted = self._model(y[:first]).fit(disp=False)
        self.params = fitted.params
        rows = []
        for origin in origins:
            result = fitted if origin == first else self._model(y[:origin]).smooth(self.params)
            rows.append(np.asarray(result.forecast(steps), dtype=np.float64))
        return np.array(rows, dtype=np.float64)

    def predict(self, y: FloatArray, steps: int) -> Prediction:
        result = self._model(y).fit(disp=False, start_params=self.params)
        n = len(y)
        prediction = result.get_prediction(start=n, end=n + steps - 1, method="exact")
        frame = prediction.summary_frame(alpha=1 - INTERVAL)
        return (
            np.asarray(frame["mean"], dtype=np.float64),
            np.asarray(frame["pi_lower"], dtype=np.float64),
            np.asarray(frame["pi_upper"], dtype=np.float64),
        )


class _Sarimax:
    """Regression on the exogenous columns with SARIMA errors (see the module's docstring)."""

    name = "sarimax"

    def __init__(
        self,
        season: int | None,
        occasions: FloatArray,
        occasion_names: Sequence[str],
        exchange_rate: FloatArray | None,
    ) -> None:
        self.airline = season is not None and season <= LONG_SEASON
        self.season = season
        self.occasions = occasions  # (periods, occasions), history and future rows
        self.occasion_names = tuple(occasion_names)
        self.exchange_rate = exchange_rate  # history and future rows
        self.fourier: FloatArray | None = None
        if season is not None and not self.airline:
            t = np.arange(len(occasions), dtype=np.float64)
            angles = 2 * np.pi * np.outer(t, np.arange(1, FOURIER_PAIRS + 1)) / season
            self.fourier = np.hstack([np.sin(angles), np.cos(angles)])
        self.used: tuple[str, ...] = ()  # the inputs of the last fit
        self.params: Any = None

    def _design(self, train: int) -> tuple[FloatArray | None, tuple[str, ...]]:
        """The exogenous matrix for every period, its columns chosen on the first `train` rows."""
        columns: list[FloatArray] = []
        names: list[str] = []
        for j, name in enumerate(self.occasion_names):
            column = self.occasions[:, j]
            seen = column[:train]
            if not np.any(seen != 0):
                continue
            if self.airline and self.season is not None:
                change = seen[self.season :] - seen[: -self.season]
                if change.size == 0 or float(np.max(np.abs(change))) < MIN_SEASONAL_CHANGE:
                    continue
            columns.append(column)
            names.append(name)
        if self.exchange_rate is not None:
            seen = self.exchange_rate[:train]
            spread = float(np.std(seen))
            if spread > 0:
                columns.append((self.exchange_rate - float(np.mean(seen))) / spread)
                names.append("exchange_rate")
        if self.fourier is not None:
            columns.extend(self.fourier.T)
        if not columns:
            return None, tuple(names)
        return np.column_stack(columns).astype(np.float64), tuple(names)

    def _fit(self, y: FloatArray, exog: FloatArray | None, start_params: Any = None) -> Any:
        # The values the diffuse initial states absorb: the differencing's, and the regression's
        # when its coefficients are states.
        burn = 1 + (self.season if self.airline and self.season else 0)
        if self.fourier is not None and exog is not None:
            burn += exog.shape[1]
        model = SARIMAX(
            y,
            exog=None if exog is None else exog[: len(y)],
            order=(0, 1, 1),
            seasonal_order=(0, 1, 1, self.season) if self.airline else (0, 0, 0, 0),
            trend=None if self.airline else "c",  # "c" on the differenced series: a drift
            concentrate_scale=True,
            # The exact initialisation solves a Lyapunov equation at every likelihood evaluation,
            # 15x the cost of the rest; the likelihood of the values the diffuse differencing
            # states absorb is left out instead (a conditional likelihood, as with differencing).
            initialization="approximate_diffuse",
            # With the Fourier terms (8 columns and the occasions) the regression coefficients are
            # states of the filter, estimated by it, not parameters of the optimisation: a weekly
            # fit took 2.5x as long otherwise. The airline model's few columns stay parameters
            # (as states a monthly fit on 28 values took 10x as long, the likelihood being flat).
            mle_regression=self.fourier is None,
            loglikelihood_burn=burn,
        )
        # Powell's derivative-free search: on a shared 2-core machine it was the fastest and reached
        # the best likelihood in trials; L-BFGS-B's numerical gradient cost more evaluations and its
        # threaded BLAS calls slowed by up to 10x when the other core was busy.
        return model.fit(
            start_params=start_params, disp=False, method="powell", maxiter=SARIMAX_MAXITER, maxfun=SARIMAX_MAXFUN
        )

    @staticmethod
    def _future(exog: FloatArray | None, start: int, steps: int) -> FloatArray | None:
        return None if exog is None else exog[start : start + steps]

    def backtest(self, y: FloatArray, origins: Sequence[int], steps: int) -> FloatArray:
        first = origins[0]
        exog, self.used = self._design(first)
        fitted = self._fit(y[:first], exog)
        self.params = fitted.params
        rows = []
        for origin in origins:
            result = (
                fitted if origin == first else fitted.apply(y[:origin], exog=None if exog is None else exog[:origin])
            )
            forecast = result.get_forecast(steps, exog=self._future(exog, origin, steps))
            rows.append(np.asarray(forecast.predicted_mean, dtype=np.float64))
        return np.array(rows, dtype=np.float64)

    def predict(self, y: FloatArray, steps: int) -> Prediction:
        n = len(y)
        exog, used = self._design(n)
        start = self.params if used == self.used else None  # the backtest's estimates, same inputs
        self.used = used
        forecast = self._fit(y, exog, start).get_forecast(steps, exog=self._future(exog, n, steps))
        bounds = np.asarray(forecast.conf_int(alpha=1 - INTERVAL), dtype=np.float64)
        return np.asarray(forecast.predicted_mean, dtype=np.float64), bounds[:, 0], bounds[:, 1]


@contextmanager
def _quiet() -> Iterator[None]:
    """statsmodels' convergence and start-parameter warnings, numpy's floating-point ones: off."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


# The forecast -----------------------------------------------------------------------------------


def _finite(array: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise ArithmeticError("a model gave no usable forecast")
    return array


def forecast(
    history: Sequence[float],
    *,
    horizon: int,
    season_length: int | None,
    occasions: OccasionMatrix | None = None,
    exchange_rate: Sequence[float] | None = None,
) -> Forecast:
    """The next `horizon` periods of `history` by the model with the lowest backtest error; see the
    module's docstring."""
    y = np.asarray(history, dtype=np.float64)
    n = len(y)
    if y.ndim != 1 or n < MIN_HISTORY:
        raise ValueError(f"a forecast needs at least {MIN_HISTORY} periods of history")
    if not np.all(np.isfinite(y)):
        raise ValueError("history values must be finite numbers")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError("horizon must be a whole number of periods, at least 1")
    if season_length is not None and (
        isinstance(season_length, bool) or not isinstance(season_length, int) or season_length < 2
    ):
        raise ValueError("season_length must be a whole number of periods, at least 2, or None")
    # Fit on the latest MAX_PERIODS only: cost grows with the length, older values add little.
    cut = max(0, n - MAX_PERIODS)
    y, n = y[cut:], n - cut
    periods = n + horizon
    names: tuple[str, ...] = ()
    occasion_values = np.zeros((periods, 0), dtype=np.float64)
    if occasions is not None:
        if len(occasions.rows) != cut + periods or any(len(row) != len(occasions.names) for row in occasions.rows):
            raise ValueError("occasions need one row per history and future period, one value per name")
        names = occasions.names
        occasion_values = np.asarray(occasions.rows[cut:], dtype=np.float64).reshape(periods, len(names))
        if not np.all(np.isfinite(occasion_values)):
            raise ValueError("occasion values must be finite numbers")
    rate: FloatArray | None = None
    if exchange_rate is not None:
        given = np.asarray(exchange_rate, dtype=np.float64)
        if given.ndim != 1 or len(given) not in (cut + n, cut + periods) or not np.all(np.isfinite(given)):
            raise ValueError("exchange_rate needs one finite value per history period (or per history and future one)")
        given = given[cut:]
        rate = np.concatenate([given, np.full(periods - len(given), given[-1])])

    steps = min(horizon, BACKTEST_HORIZON)
    s = season_length
    seasonal_train = None if s is None else max(2 * s, TREND_MIN_TRAIN + 2 * (s // 2))
    seasonal = seasonal_train is not None and n >= seasonal_train + steps + MIN_ORIGINS - 1
    trend = not seasonal and n >= TREND_MIN_TRAIN + steps + MIN_ORIGINS - 1
    if seasonal and seasonal_train is not None:
        min_train = seasonal_train
    elif trend:
        min_train = TREND_MIN_TRAIN
    else:
        min_train = SHORT_MIN_TRAIN
        steps = min(steps, n - SHORT_MIN_TRAIN)
    count = min(MAX_ORIGINS, n - steps - min_train + 1)
    origins = list(range(n - steps - count + 1, n - steps + 1))
    shortest = origins[0]
    baseline = _SeasonalNaive(s if s is not None and shortest >= s else 1)

    models: list[_Model] = [baseline]
    if seasonal:
        models += [_Ets("ets", s), _Sarimax(s, occasion_values, names, rate)]
        note = None
    elif trend:
        models += [_Ets("holt_damped", None), _Sarimax(None, occasion_values, names, rate)]
        note = (
            None
            if seasonal_train is None
            else (
                f"{n} periods of history: seasonality needs {seasonal_train + steps + MIN_ORIGINS - 1} (two full "
                f"seasons of {s} before the backtest); non-seasonal models tried ({baseline.name}, holt_damped, "
                "sarimax without season)"
            )
        )
    else:
        models.append(_Mean())
        note = (
            f"{n} periods of history: too short for trend or seasonal models (they need "
            f"{TREND_MIN_TRAIN + steps + MIN_ORIGINS - 1}); {baseline.name} and mean tried"
        )

    actual = np.array([y[origin : origin + steps] for origin in origins], dtype=np.float64)
    errors: dict[str, float | None] = {}
    with _quiet():
        for model in models:
            try:
                predicted = _finite(model.backtest(y, origins, steps), actual.shape)
            except Exception:  # a fit that fails leaves its model out
                errors[model.name] = None
                continue
            errors[model.name] = smape(actual.ravel(), np.maximum(predicted, 0).ravel())
        scored = [model for model in models if errors[model.name] is not None]
        chosen = min(scored, key=lambda model: errors[model.name] or 0.0) if scored else baseline
        try:
            value, lower, upper = (_finite(part, (horizon,)) for part in chosen.predict(y, horizon))
        except Exception:
            note = ((note + "; ") if note else "") + f"{chosen.name} failed on the whole history, {baseline.name} used"
            chosen = baseline
            value, lower, upper = baseline.predict(y, horizon)

    lower = np.minimum(lower, value)
    upper = np.maximum(upper, value)
    points = tuple(
        Point(float(max(v, 0.0)), float(max(lo, 0.0)), float(max(hi, 0.0)))
        for v, lo, hi in zip(value, lower, upper, strict=True)
    )
    return Forecast(
        model=chosen.name,
        note=note,
        points=points,
        backtest=Backtest(
            metric=METRIC,
            model_error=errors.get(chosen.name),
            seasonal_naive_error=errors.get(baseline.name) if baseline.name == "seasonal_naive" else None,
            origins=len(origins),
            horizon=steps,
            baseline=baseline.name,
            baseline_error=errors.get(baseline.name),
        ),
        candidates=errors,
        exogenous=chosen.used if isinstance(chosen, _Sarimax) else (),
    )
