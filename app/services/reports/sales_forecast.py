"""The sales forecast: revenue (or orders) per period of the workspace's calendar for the next
periods, from its order history as of a date, by the model that did best in its own backtest
(app/domain/reports/forecast.py), optionally per product category. Cached per workspace and
parameters in `report_forecasts`.

- As of: `as_of` (default today, the workspace's local date; never after it). The history is every
  whole period that ended on or before it, from the period of the workspace's first order (at most
  the latest 400 periods); orders placed after it are not read. The forecast covers the next
  `periods` periods from the first one not yet over: a period holding `as_of` without ending on it
  is forecast whole, its days so far unused. Orders are read as they are now (a refund or a status
  change after `as_of` is not undone: the service keeps no history of them).
- Values: revenue in minor units of the reporting currency, answered as decimal strings (rounded
  half-even to the minor unit); orders as whole numbers in strings ("12"), rounded the same way.
- Occasions (exogenous inputs): Black Friday everywhere; Nowruz and Yalda too for workspaces in Iran
  or Afghanistan (`default_region` IR or AF); then the workspace's own yearly dates
  (`/v1/settings/occasions`, part of the data version: changing them recomputes the cache).
- Exchange rate: when the workspace keeps rates into its reporting currency, the currency with the
  most rates dated in the history gives one value per history period (the mean of the period's
  rates, the last known carried forward over periods without one); used only when a rate is known
  for the first period (dated in it or before it). The future carries the last value forward.
- Per category (`by=category`): the ten categories with the most history (by value) are forecast
  each, beside the total; lines without a category are the category null.
- Cache: one row per key (metric, interval, periods, as_of or "latest", by), at most MAX_CACHED
  per workspace (storing one more drops the least recently computed, dated ones before the
  latest ones: keys are unbounded, a client may sweep `as_of`). A read answers the
  stored result while its data version is unchanged: a hash of the model's version, the workspace's
  calendar, locale, time zone, region and currency, the history's last day, the number of orders placed
  before its end and the latest change to one, and the number and latest change of the exchange
  rates dated up to it. Otherwise it recomputes (the model off the event loop) and stores.
  `refresh` (the nightly job, and a large orders import) recomputes every stored key whose data
  moved; a deterministic model on unchanged data would give the same answer.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic_core import to_jsonable_python

from app.cpu import run_cpu
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.errors import InvalidInput
from app.domain.money import formatter
from app.domain.reports import forecast as model
from app.domain.reports import periods as cal
from app.domain.reports.periods import Interval, Period, ReportCalendar
from app.ids import utcnow
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.reports.scope import calendar_of, period_fields
from app.services.workspace import workspaces

Metric = Literal["revenue", "orders"]
MODEL_VERSION = "2"  # part of the data version: a new model recomputes every cached forecast
DEFAULT_PERIODS = model.HORIZON_DEFAULT
MAX_PERIODS = model.HORIZON_MAX
MAX_HISTORY = model.MAX_PERIODS  # the model reads no more than the latest 400 periods
MAX_CATEGORIES = 10
REGION_OCCASIONS = {"IR": model.REGION_OCCASIONS, "AF": model.REGION_OCCASIONS}
OTHER_OCCASIONS = ("black_friday",)
JOB = "reports.refresh_forecasts"
KEY_PREFIX = "sales-forecast"
# Forecasts kept per workspace: storing one more drops the least recently computed, those of a
# given `as_of` before the latest ones (a client sweeping `as_of` makes a key a day).
MAX_CACHED = 20
LATEST_KEYS = f"{KEY_PREFIX}:%:latest:%"  # a LIKE pattern
# More than enough days to reach back MAX_HISTORY periods of each interval.
_DAYS_PER_PERIOD = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 366}


@dataclass(frozen=True)
class Params:
    metric: Metric = "revenue"
    interval: Interval = "month"
    periods: int = DEFAULT_PERIODS
    as_of: date | None = None
    by: Literal["category"] | None = None

    @property
    def key(self) -> str:
        as_of = self.as_of.isoformat() if self.as_of else "latest"
        return f"{KEY_PREFIX}:{self.metric}:{self.interval}:{self.periods}:{as_of}:{self.by or 'total'}"

    @classmethod
    def from_key(cls, key: str) -> Params:
        _, metric, interval, periods, as_of, by = key.split(":")
        return cls(
            metric=metric,  # type: ignore[arg-type]
            interval=interval,  # type: ignore[arg-type]
            periods=int(periods),
            as_of=None if as_of == "latest" else date.fromisoformat(as_of),
            by=None if by == "total" else "category",
        )


@dataclass(frozen=True)
class Plan:
    """What one forecast covers: the history's and the future's periods, and its data version."""

    calendar: ReportCalendar
    as_of: date
    history: tuple[Period, ...]
    future: tuple[Period, ...]
    currency: str
    region: str | None
    version: str
    occasions: tuple[model.YearlyOccasion, ...] = ()  # the workspace's own (`/v1/settings/occasions`)


async def _plan(ctx: Context, params: Params) -> Plan:
    workspace = await workspaces.get(ctx)
    calendar = await calendar_of(ctx)
    today = calendar.local_date(ctx.now)
    as_of = params.as_of or today
    if as_of > today:
        raise InvalidInput.field("as_of", f"must not be after today ({today.isoformat()})", location="query")
    interval = params.interval
    current = cal.period_start(as_of, interval, calendar)
    following = cal.next_start(current, interval, calendar)
    ahead = following if following - timedelta(days=1) == as_of else current
    last = ahead - timedelta(days=1)  # the history's last day
    end = ahead
    for _ in range(params.periods):
        end = cal.next_start(end, interval, calendar)
    future = tuple(cal.cut(ahead, end - timedelta(days=1), interval, calendar))
    repo = ctx.sales_forecast_report
    first_order = await repo.first_order(calendar.midnight(ahead))
    history: tuple[Period, ...] = ()
    if first_order is not None:
        first = cal.period_start(calendar.local_date(first_order), interval, calendar)
        reach = cal.period_start(last - timedelta(days=MAX_HISTORY * _DAYS_PER_PERIOD[interval]), interval, calendar)
        if max(first, reach) <= last:
            history = tuple(cal.cut(max(first, reach), last, interval, calendar)[-MAX_HISTORY:])
    facts = await repo.version_facts(calendar.midnight(ahead), last, workspace["currency"])
    occasions = await _own_occasions(ctx)
    parts = [MODEL_VERSION, calendar.kind, calendar.locale, calendar.timezone, calendar.first_weekday,
             workspace["default_region"], workspace["currency"], last.isoformat(), *facts, *occasions]  # fmt: skip
    version = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return Plan(calendar, as_of, history, future, workspace["currency"], workspace["default_region"], version,
                occasions)  # fmt: skip


async def _own_occasions(ctx: Context) -> tuple[model.YearlyOccasion, ...]:
    """The workspace's own yearly dates (`/v1/settings/occasions`)."""
    from app.schemas.workspace.settings import OccasionSettings
    from app.services.workspace import settings

    values = (await settings.get(ctx, "occasions", OccasionSettings))["values"]
    return tuple(model.YearlyOccasion(o["name"], o["calendar"], o["month"], o["day"], o["days"])
                 for o in values["occasions"])  # fmt: skip


def _occasions(plan: Plan) -> model.OccasionMatrix:
    region = REGION_OCCASIONS.get((plan.region or "").upper(), OTHER_OCCASIONS)
    spans = [(p.start_date, p.end_date + timedelta(days=1)) for p in (*plan.history, *plan.future)]
    years = range(min(s for s, _ in spans).year - 1, max(e for _, e in spans).year + 2) if spans else range(0)
    own = tuple(occasion.for_years(years) for occasion in plan.occasions)
    return model.occasion_matrix(spans, own, region=region)


async def _exchange_rate(ctx: Context, plan: Plan) -> tuple[str | None, list[float] | None]:
    starts = [p.start_date for p in plan.history] + [plan.history[-1].end_date + timedelta(days=1)]
    currency, means, carried = await ctx.sales_forecast_report.rate_series(plan.currency, starts)
    if currency is None or (0 not in means and carried is None):
        return None, None
    series: list[float] = []
    last = carried
    for i in range(len(plan.history)):
        last = means.get(i, last)
        assert last is not None  # the first period has one
        series.append(last)
    return currency, series


@dataclass(frozen=True)
class Series:
    category: str | None
    values: list[float]


def _fit(
    series: Sequence[Series], horizon: int, season: int | None, occasions: model.OccasionMatrix,
    rates: list[float] | None,
) -> list[model.Forecast | None]:  # fmt: skip
    """Every series' forecast (None: too short), one after the other: run on a worker thread."""
    return [
        model.forecast(s.values, horizon=horizon, season_length=season, occasions=occasions, exchange_rate=rates)
        if len(s.values) >= model.MIN_HISTORY
        else None
        for s in series
    ]


def _block(fitted: model.Forecast | None, series: Series, plan: Plan, render: Callable[[float], str]) -> dict[str, Any]:
    history = [{**period_fields(p), "value": render(v)} for p, v in zip(plan.history, series.values, strict=True)]
    if fitted is None:
        return {
            "history": history,
            "forecast": [],
            "model": "none",
            "note": f"{len(series.values)} periods of history: a forecast needs at least {model.MIN_HISTORY}",
            "backtest": {"metric": model.METRIC, "model_error": None, "seasonal_naive_error": None, "origins": 0,
                         "horizon": 0, "baseline": None, "baseline_error": None},
            "candidates": {},
            "exogenous": [],
        }  # fmt: skip
    b = fitted.backtest
    return {
        "history": history,
        "forecast": [
            {**period_fields(p), "value": render(x.value), "lower": render(x.lower), "upper": render(x.upper)}
            for p, x in zip(plan.future, fitted.points, strict=True)
        ],
        "model": fitted.model,
        "note": fitted.note,
        "backtest": {
            "metric": b.metric,
            "model_error": b.model_error,
            "seasonal_naive_error": b.seasonal_naive_error,
            "origins": b.origins,
            "horizon": b.horizon,
            "baseline": b.baseline,
            "baseline_error": b.baseline_error,
        },
        "candidates": dict(fitted.candidates),
        "exogenous": list(fitted.exogenous),
    }


async def _compute(ctx: Context, params: Params, plan: Plan) -> dict[str, Any]:
    repo = ctx.sales_forecast_report
    n = len(plan.history)
    series: list[Series] = []
    unconverted = 0
    rate_currency: str | None = None
    rates: list[float] | None = None
    if n:
        bounds = [p.start for p in plan.history] + [plan.history[-1].end]
        totals, unconverted = await repo.history(params.metric, bounds)
        series.append(Series(None, [float(totals.get(i, 0)) for i in range(n)]))
        if params.by == "category":
            found = await repo.by_category(params.metric, bounds)
            ranked = sorted(found.items(), key=lambda kv: (-sum(kv[1].values()), kv[0] is None, kv[0] or ""))
            series += [Series(c, [values.get(i, 0.0) for i in range(n)]) for c, values in ranked[:MAX_CATEGORIES]]
        rate_currency, rates = await _exchange_rate(ctx, plan)
    else:
        series.append(Series(None, []))
    season = model.SEASON_LENGTHS[params.interval]
    fits = await run_cpu(_fit, series, params.periods, season, _occasions(plan), rates) if n else [None]
    money = formatter(plan.currency)

    def render(value: float) -> str:
        return money(round(value)) if params.metric == "revenue" else str(round(value))

    total = _block(fits[0], series[0], plan, render)
    result: dict[str, Any] = {
        "interval": params.interval,
        "metric": params.metric,
        "as_of": plan.as_of,
        "horizon": params.periods,
        "by": params.by,
        "currency": plan.currency if params.metric == "revenue" else None,
        **total,
        "exchange_rate_currency": rate_currency if rates is not None else None,
        "unconverted_orders": unconverted,
    }
    if params.by == "category":
        result["categories"] = [
            {"category": s.category, **_block(f, s, plan, render)} for s, f in zip(series[1:], fits[1:], strict=True)
        ]
    return dict(to_jsonable_python(result))


async def _store(ctx: Context, key: str, result: dict[str, Any], version: str) -> None:
    """In a short transaction of its own: the request reads (and never holds the write lock while
    the model runs). On PostgreSQL only with a connection free at once: the request holds one, and
    waiting for a second could leave a burst of such requests holding the whole pool; unstored, the
    next request computes it again. (SQLite: as before, its own unit of work.)"""
    database = ctx.uow.database
    async with contextlib.AsyncExitStack() as stack:
        if database.is_sqlite:
            uow: UnitOfWork | None = await stack.enter_async_context(UnitOfWork(database))
        else:
            uow = await stack.enter_async_context(UnitOfWork.if_free(database))
        if uow is None:
            return
        cache = WorkspaceRepositories(uow, ctx.workspace_id).sales_forecast_report
        await cache.store(key, result, ctx.now, version)
        await cache.evict(MAX_CACHED, kept_first=LATEST_KEYS)
        await uow.commit()


async def sales_forecast(ctx: Context, params: Params, *, keep: bool = True) -> tuple[dict[str, Any], bool]:
    """(the forecast with its `computed_at`, whether it was computed now rather than read from the
    cache). `keep=False`: one computed now is not stored (a digest's, asked once)."""
    plan = await _plan(ctx, params)
    cached = await ctx.sales_forecast_report.cached(params.key)
    if cached is not None and cached["data_version"] == plan.version:
        return {**cached["result"], "computed_at": cached["computed_at"]}, False
    result = await _compute(ctx, params, plan)
    if keep:
        await _store(ctx, params.key, result, plan.version)
    return {**result, "computed_at": ctx.now}, True


async def refresh(
    database: Database, workspace_id: UUID, progress: Callable[..., Awaitable[None]] | None = None
) -> dict[str, Any]:
    """Recompute every cached forecast of the workspace whose data moved (the nightly job, a large
    import): each in a read of its own, its result stored in a short write."""
    async with UnitOfWork(database, write=False) as uow:
        keys = await WorkspaceRepositories(uow, workspace_id).sales_forecast_report.keys()
    recomputed = 0
    for done, key in enumerate(keys, 1):
        try:
            params = Params.from_key(key)
        except (ValueError, TypeError):
            continue  # not a key this version writes
        async with UnitOfWork(database, write=False) as uow:
            ctx = Context(uow, workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
            try:
                _, fresh = await sales_forecast(ctx, params)
            except InvalidInput:
                continue  # as_of after today: the workspace moved its time zone back
        recomputed += fresh
        if progress is not None:
            await progress(done=done, total=len(keys), recomputed=recomputed)
    return {"forecasts": len(keys), "recomputed": recomputed}


async def enqueue_refresh(ctx: Context, cause: str) -> dict[str, Any] | None:
    """Queue `refresh` when the workspace has cached forecasts (None otherwise: no job)."""
    from app.services.events import jobs

    if not await ctx.sales_forecast_report.keys():
        return None
    return dict(await jobs.enqueue(ctx, JOB, {"cause": cause}))


async def after_import(ctx: Context, entity: str, rows: int) -> None:
    """An orders import as large as the one that refreshes the analytics (the analytics settings'
    `refresh_after_import_rows`) recomputes the cached forecasts too."""
    if entity != "orders":
        return
    from app.schemas.workspace.settings import AnalyticsSettings
    from app.services.workspace import settings

    values = (await settings.get(ctx, "analytics", AnalyticsSettings))["values"]
    if rows >= values["refresh_after_import_rows"]:
        await enqueue_refresh(ctx, "import")


# -- as a scheduled digest (app/services/reports/digests.py) ---------------------------------------

TITLE = {"en": "Sales forecast", "fa": "پیش‌بینی فروش"}
_WORDS = {
    "en": {"model": "Model", "last": "Last period, {label}", "none": "Forecast", "short": "not enough history yet",
           "orders": "orders", "to": "to"},
    "fa": {"model": "مدل", "last": "آخرین دوره، {label}", "none": "پیش‌بینی", "short": "هنوز تاریخچهٔ کافی نیست",
           "orders": "سفارش", "to": "تا"},
}  # fmt: skip
DIGEST_PERIODS = 12  # forecast periods an email lists


async def digest(ctx: Context, params: Any, scope: Any) -> dict[str, Any]:
    """The forecast as of the last day the digest covers (the day before its occurrence), as `GET
    /v1/reports/sales-forecast?as_of=` answers it in JSON; read from the cache when there, never
    stored (a digest's `as_of` is asked once)."""
    from app.schemas.reports.sales_forecast import SalesForecastReport

    wanted = Params(metric=params.metric, interval=params.interval or "month", periods=params.periods,
                    as_of=scope.last, by=params.by)  # fmt: skip
    result, _ = await sales_forecast(ctx, wanted, keep=False)
    return SalesForecastReport.model_validate(result).model_dump(mode="json", by_alias=True)


def digest_span(figures: Mapping[str, Any], first: date, last: date) -> tuple[date, date]:
    """The days the digest names: the forecast's periods (the days before the occurrence when there
    is no forecast yet)."""
    ahead = figures["forecast"]
    if not ahead:
        return first, last
    return date.fromisoformat(ahead[0]["start_date"]), date.fromisoformat(ahead[-1]["end_date"])


def digest_lines(figures: Mapping[str, Any], locale: str) -> list[tuple[str, str]]:
    """The last period of the history, each forecast period (up to 12) with its 80% interval, and
    the model; of the total (categories are in the figures)."""
    from app.domain.reports.periods import persian_digits

    words = _WORDS.get(locale, _WORDS["en"])
    unit = figures["currency"] if figures["metric"] == "revenue" else words["orders"]
    lines: list[tuple[str, str]] = []
    if figures["history"]:
        last = figures["history"][-1]
        lines.append((words["last"].format(label=last["display_label"]), f"{last['value']} {unit}"))
    for point in figures["forecast"][:DIGEST_PERIODS]:
        band = f"{point['lower']} {words['to']} {point['upper']}"
        lines.append((point["display_label"], f"{point['value']} {unit} ({band})"))
    if not figures["forecast"]:
        lines.append((words["none"], words["short"]))
    lines.append((words["model"], figures["model"]))
    return [(label, persian_digits(value)) for label, value in lines] if locale == "fa" else lines
