"""Customer analytics: the refresh job that computes a workspace's snapshot (per-customer CLV and
the fitted models), and the reads that serve it. Reads never fit a model.

The refresh streams one summary row per customer out of the database (the aggregation runs there;
orders never come into Python), fits and applies the models in a worker thread, and writes the
snapshot's values in chunks (short transactions: SQLite's single writer is never held for long).
The snapshot becomes the one served only in its last transaction, which also discards older ones
(the latest two are kept: the previous one is there for movement).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np

from app.cpu import run_cpu
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.analytics.clv import bgnbd, groups, valuation
from app.domain.analytics.retention import SEGMENTS, RetentionInputs, compute
from app.domain.analytics.retention import clv_cac as clv_cac_figures
from app.domain.errors import Forbidden, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.money import MAX_MINOR, estimate_text, from_minor
from app.domain.reports import periods
from app.domain.reports.periods import ReportCalendar
from app.domain.workspace.workspaces import currency_exponent
from app.ids import new_id, utcnow
from app.schemas.analytics.analytics import ModelRead
from app.schemas.workspace.settings import AnalyticsSettings
from app.services.analytics import acquisition_costs, retention
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events, jobs
from app.services.reports.scope import calendar_from
from app.services.workspace import settings

JOB = "analytics.refresh"
SECTION = "analytics"
KEEP = 2  # ready snapshots kept: the latest and the previous one
DEAD_RUN = timedelta(hours=6)  # a snapshot still building after this was left by a run that died
GROUP_LIMIT = 200
EARLIEST = date(1970, 1, 1)  # analysis dates before this are typos (and would underflow the year windows)
WRITE_CHUNK = 5000
DIMENSIONS = ("acquisition_channel", "acquisition_month", "tag", "country", "rfm_segment")
METRICS = ("predicted_clv", "historic_revenue", "simple_clv", "retention_clv")

Progress = Callable[..., Awaitable[None]]


# -- requests ---------------------------------------------------------------------------------------


async def today(ctx: Context) -> date:
    workspace = await ctx.workspaces.get()
    assert workspace is not None
    return ctx.now.astimezone(ZoneInfo(workspace["timezone"])).date()


async def enqueue_refresh(
    ctx: Context, *, as_of: date | None = None, calibration_end: date | None = None, cause: str
) -> dict[str, Any]:
    """Queue a refresh (202 + job); dates checked here so a bad request never becomes a failed job."""
    current = await today(ctx)
    for name, value in (("as_of", as_of), ("calibration_end", calibration_end)):
        if value is not None and value < EARLIEST:
            raise InvalidInput.field(name, f"must be on or after {EARLIEST.isoformat()}")
    if as_of is not None and as_of > current:
        raise InvalidInput.field(
            "as_of", f"must not be after today ({current.isoformat()} in the workspace's time zone)"
        )
    end = as_of or current
    if calibration_end is not None and calibration_end >= end:
        raise InvalidInput.field("calibration_end", f"must be before as_of ({end.isoformat()})")
    params: dict[str, Any] = {"cause": cause}
    if as_of is not None:
        params["as_of"] = as_of.isoformat()
    if calibration_end is not None:
        params["calibration_end"] = calibration_end.isoformat()
    return await jobs.enqueue(ctx, JOB, params)


async def after_import(ctx: Context, entity: str, rows: int) -> None:
    """An orders import of `refresh_after_import_rows` rows or more refreshes the analytics."""
    if entity != "orders":
        return
    values = (await settings.get(ctx, SECTION, AnalyticsSettings))["values"]
    if rows >= values["refresh_after_import_rows"]:
        await enqueue_refresh(ctx, cause="import")


# -- the refresh job --------------------------------------------------------------------------------


def _valuation_settings(values: dict[str, Any]) -> valuation.ValuationSettings:
    return valuation.ValuationSettings(
        default_margin=values["default_margin"],
        yearly_discount_rate=values["yearly_discount_rate"],
        monthly_discount_rate=values["monthly_discount_rate"],
        horizon_months=values["clv_horizon_months"],
        month_length_days=values["month_length_days"],
        min_repeat_buyers=values["min_repeat_buyers"],
        yearly_retention_rate=values["yearly_retention_rate"],
        default_relationship_years=values["default_relationship_years"],
    )


class _Summaries:
    """The streamed per-customer rows, as columns."""

    def __init__(self, calendar: ReportCalendar | None = None) -> None:
        self.calendar = calendar or ReportCalendar()
        self.contact_ids: list[UUID] = []
        self.first_day: list[date] = []
        self.last_day: list[date] = []
        self.purchases: list[int] = []
        self.revenue: list[int] = []
        self.first_value: list[int] = []
        self.cost: list[float] = []
        self.costed: list[int] = []
        self.holdout: list[int] = []
        self.purchases_last_year: list[int] = []
        self.purchases_year_before: list[int] = []
        self.interests: list[list[str]] = []
        self.owner_ids: list[UUID | None] = []
        self.loyalty_points: list[int] = []
        self.referrals: list[int] = []
        self.keys: dict[str, list[list[str | None]]] = {dimension: [] for dimension in DIMENSIONS}
        # the acquisition month in the workspace's calendar (CLV:CAC's months; not a grouping dimension)
        self.keys["acquisition_period"] = []

    def add(self, row: dict[str, Any], zone: ZoneInfo) -> None:
        self.contact_ids.append(row["contact_id"])
        self.first_day.append(row["first_day"])
        self.last_day.append(row["last_day"])
        self.purchases.append(int(row["purchases"]))
        self.revenue.append(int(row["revenue"] or 0))
        self.first_value.append(int(row["first_value"] or 0))
        self.cost.append(float(row["cost"] or 0.0))
        self.costed.append(int(row["costed"] or 0))
        self.holdout.append(int(row["holdout_purchases"] or 0))
        self.purchases_last_year.append(int(row["purchases_last_year"] or 0))
        self.purchases_year_before.append(int(row["purchases_year_before"] or 0))
        self.interests.append(list(row["interests"] or []))
        self.owner_ids.append(row["owner_id"])
        self.loyalty_points.append(int(row["loyalty_points"] or 0))
        self.referrals.append(int(row["referrals_count"] or 0))
        acquired = row["acquired_at"] or row["customer_since"]
        day: date = acquired.astimezone(zone).date() if acquired else row["first_day"]
        self.keys["acquisition_channel"].append([row["acquisition_channel"]] if row["acquisition_channel"] else [])
        self.keys["acquisition_month"].append([day.strftime("%Y-%m")])
        start = periods.period_start(day, "month", self.calendar)
        self.keys["acquisition_period"].append([periods.label(start, "month", self.calendar)])
        self.keys["country"].append([row["country"]] if row["country"] else [])
        self.keys["tag"].append(list(row["tags"] or []))

    def __len__(self) -> int:
        return len(self.contact_ids)

    def customers(self, as_of: date, scale: float, default_margin: float) -> valuation.Customers:
        """Model inputs in days and major units (`scale` = 10^-exponent)."""
        origin = np.array([d.toordinal() for d in self.first_day], dtype=np.float64)
        last = np.array([d.toordinal() for d in self.last_day], dtype=np.float64)
        frequency = np.array(self.purchases, dtype=np.float64) - 1
        revenue = np.array(self.revenue, dtype=np.float64) * scale
        repeat_total = revenue - np.array(self.first_value, dtype=np.float64) * scale
        with np.errstate(divide="ignore", invalid="ignore"):
            monetary = np.where(frequency > 0, repeat_total / frequency, np.nan)
        costed = np.array(self.costed, dtype=np.float64) * scale
        margin = valuation.historic_margin(
            costed, np.array(self.cost, dtype=np.float64) * scale, revenue - costed, default_margin
        )
        return valuation.Customers(
            frequency=frequency,
            recency=last - origin,
            age=as_of.toordinal() - origin,
            monetary=monetary,
            revenue=revenue,
            margin=margin,
            bought_year_before_last=(np.array(self.purchases_year_before) > 0).astype(np.float64),
            bought_last_year=(np.array(self.purchases_last_year) > 0).astype(np.float64),
        )


async def _summaries(
    database: Database,
    workspace_id: UUID,
    as_of: date,
    zone: ZoneInfo,
    *,
    holdout_until: date | None = None,
    calendar: ReportCalendar | None = None,
) -> _Summaries:
    summaries = _Summaries(calendar)
    # A server-side cursor needs a transaction on PostgreSQL (its reads otherwise run in autocommit);
    # on SQLite a write transaction would hold the single writer's lock for the whole stream.
    async with UnitOfWork(database, write=not database.is_sqlite) as uow:
        stream = WorkspaceRepositories(uow, workspace_id).analytics.customer_summaries(
            as_of,
            year_before_last=(as_of - timedelta(days=729), as_of - timedelta(days=365)),
            last_year_from=as_of - timedelta(days=364),
            holdout_until=holdout_until,
        )
        async for rows in stream:
            for row in rows:
                summaries.add(row, zone)
    return summaries


def _minor(values: np.ndarray, exponent: int) -> list[int | None]:
    scaled = np.rint(np.asarray(values, dtype=np.float64) * 10**exponent)
    clipped = np.clip(scaled, -(MAX_MINOR - 1), MAX_MINOR - 1)
    return [None if not np.isfinite(v) else int(v) for v in clipped.tolist()]


def _fit_json(fit: bgnbd.BgNbdFit | None) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {
        **asdict(fit.params),
        "log_likelihood": fit.log_likelihood,
        "converged": fit.converged,
        "iterations": fit.iterations,
    }


def _compute(
    summaries: _Summaries, as_of: date, values: dict[str, Any], currency: str, extras: RetentionInputs
) -> dict[str, Any]:
    """Everything CPU-bound (runs in a worker thread): the models, the value rows' columns, totals
    and groups."""
    exponent = currency_exponent(currency)
    scale = 10.0**-exponent
    started = time.perf_counter()
    customers = summaries.customers(as_of, scale, values["default_margin"])
    result = valuation.value(customers, _valuation_settings(values))
    fit_seconds = time.perf_counter() - started
    insights = compute(summaries, customers, result, extras, as_of, exponent)
    summaries.keys["rfm_segment"] = [[segment] for segment in insights.rfm_segments]
    metrics = {
        "predicted_clv": result.predicted_clv,
        "historic_revenue": customers.revenue,
        "simple_clv": result.simple_clv,
        "retention_clv": result.retention_clv,
    }
    totals = {
        name: {
            "sum": estimate_text(float(np.sum(column)), exponent),
            "mean": estimate_text(float(np.mean(column)), exponent) if len(column) else None,
        }
        for name, column in {**metrics, "historic_margin": customers.margin}.items()
    }
    grouped = {
        dimension: [
            {
                "key": stats.key,
                "count": stats.count,
                "metrics": {
                    name: {
                        "sum": estimate_text(metric.sum, exponent),
                        "mean": estimate_text(metric.mean, exponent),
                        "percentiles": {p: estimate_text(v, exponent) for p, v in metric.percentiles.items()},
                    }
                    for name, metric in stats.metrics.items()
                },
            }
            for stats in groups.group(summaries.keys[dimension], metrics, limit=GROUP_LIMIT)
        ]
        for dimension in DIMENSIONS
    }
    columns = {
        "revenue_minor": _minor(customers.revenue, exponent),
        "margin_minor": _minor(customers.margin, exponent),
        "average_order_value_minor": _minor(result.average_order_value, exponent),
        "repeat_value_minor": _minor(customers.monetary, exponent),
        "expected_value_minor": _minor(result.expected_value, exponent),
        "simple_clv_minor": _minor(result.simple_clv, exponent),
        "retention_clv_minor": _minor(result.retention_clv, exponent),
        "predicted_clv_minor": _minor(result.predicted_clv, exponent),
        "predicted_margin_minor": _minor(result.predicted_margin, exponent),
        "purchases_per_year": result.purchases_per_year.tolist(),
        "expected_purchases_90": result.expected_purchases_90.tolist(),
        "expected_purchases_365": result.expected_purchases_365.tolist(),
        "p_alive": [None if np.isnan(v) else v for v in result.p_alive.tolist()],
        "frequency": customers.frequency.astype(np.int64).tolist(),
        "recency": customers.recency.astype(np.int64).tolist(),
        "age": customers.age.astype(np.int64).tolist(),
        **insights.columns,
    }
    spend = result.gamma_gamma
    retained = result.retention
    return {
        "columns": columns,
        "overdue": insights.overdue,
        "snapshot": {
            "model": result.model,
            "model_reason": result.reason,
            "spend_model": result.spend_model,
            "bgnbd": _fit_json(result.bgnbd),
            "gamma_gamma": None
            if spend is None
            else {**asdict(spend.params), "log_likelihood": spend.log_likelihood, "customers": spend.customers},
            "customers": len(summaries),
            "repeat_buyers": int((customers.frequency > 0).sum()),
            "retention": {
                **asdict(retained),
                "annual_churn_rate": retained.annual_churn_rate,
                "expected_years": retained.expected_years,
            },
            "totals": totals,
            "groups": grouped,
            "insights": insights.snapshot,
            "fit_seconds": fit_seconds,
        },
    }


def _holdout(summaries: _Summaries, calibration_end: date, as_of: date, values: dict[str, Any]) -> dict[str, Any]:
    """Fit on the calibration period and compare its predictions with the holdout's purchases."""
    customers = summaries.customers(calibration_end, 1.0, values["default_margin"])
    holdout_days = (as_of - calibration_end).days
    check = valuation.holdout_check(
        customers.frequency, customers.recency, customers.age, float(holdout_days),
        np.array(summaries.holdout, dtype=np.float64), min_repeat_buyers=values["min_repeat_buyers"],
    )  # fmt: skip
    return {
        "calibration_end": calibration_end.isoformat(),
        "holdout_days": holdout_days,
        "model": check.model,
        "model_reason": check.reason,
        "bgnbd": _fit_json(check.fit),
        "customers": len(summaries),
        "repeat_buyers": int((customers.frequency > 0).sum()),
        "predicted": float(sum(b.predicted for b in check.buckets)),
        "actual": int(sum(b.actual for b in check.buckets)),
        "buckets": [asdict(b) for b in check.buckets],
    }


async def refresh(database: Database, workspace_id: UUID, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """`analytics.refresh`: compute and store a new snapshot; returns its summary."""
    started_at, started = utcnow(), time.perf_counter()
    async with UnitOfWork(database, write=False) as uow:
        ctx = Context(uow, workspace_id, SYSTEM, started_at, scopes=SERVICE_SCOPES)
        workspace = await ctx.workspaces.get()
        if workspace is None:
            raise LookupError("the workspace is gone")
        values = (await settings.get(ctx, SECTION, AnalyticsSettings))["values"]
    zone, currency = ZoneInfo(workspace["timezone"]), workspace["currency"]
    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else started_at.astimezone(zone).date()
    calibration_end = date.fromisoformat(params["calibration_end"]) if params.get("calibration_end") else None

    # A run that died (its worker killed, its database gone) left its snapshot building: discard
    # those past DEAD_RUN now, whether or not this run gets to complete.
    async with UnitOfWork(database) as uow:
        await WorkspaceRepositories(uow, workspace_id).analytics.discard_building(before=started_at - DEAD_RUN)
        await uow.commit()
    # The calendar is read now: cohorts and acquisitions are stored in its months until the next refresh.
    calendar = calendar_from(workspace)
    summaries = await _summaries(database, workspace_id, as_of, zone, calendar=calendar)
    extras = await retention.gather(database, ctx, as_of, values, zone, calendar)
    await progress(step="modelling", customers=len(summaries))
    computed = await run_cpu(_compute, summaries, as_of, values, currency, extras)
    holdout = None
    if calibration_end is not None:
        calibration = await _summaries(database, workspace_id, calibration_end, zone, holdout_until=as_of)
        holdout = await run_cpu(_holdout, calibration, calibration_end, as_of, values)

    snapshot_id = new_id()
    async with UnitOfWork(database) as uow:
        await WorkspaceRepositories(uow, workspace_id).analytics.create({
            "id": snapshot_id, "status": "building", "as_of": as_of, "calibration_end": calibration_end,
            "currency": currency, "time_unit": "days", "settings": values, "job_id": params.get("job_id"),
            "created_at": started_at,
        })  # fmt: skip
        await uow.commit()
    try:
        columns = computed["columns"]
        for start in range(0, len(summaries), WRITE_CHUNK):
            stop = min(start + WRITE_CHUNK, len(summaries))
            rows = [
                {
                    "workspace_id": workspace_id,
                    "snapshot_id": snapshot_id,
                    "contact_id": summaries.contact_ids[i],
                    "purchases": summaries.purchases[i],
                    "first_purchase_on": summaries.first_day[i],
                    "last_purchase_on": summaries.last_day[i],
                    **{name: column[i] for name, column in columns.items()},
                }
                for i in range(start, stop)
            ]
            async with UnitOfWork(database) as uow:
                await WorkspaceRepositories(uow, workspace_id).analytics.insert_values(rows)
                await uow.commit()
            await progress(step="writing", customers=len(summaries), written=stop)

        async with UnitOfWork(database) as uow:
            now = utcnow()
            repo = WorkspaceRepositories(uow, workspace_id).analytics
            await repo.complete(snapshot_id, {
                **computed["snapshot"], "holdout": holdout, "status": "ready", "completed_at": now,
                "total_seconds": time.perf_counter() - started,
            })  # fmt: skip
            ready = await repo.ready_ids(KEEP)
            snapshot = await repo.latest()
            assert snapshot is not None and snapshot["id"] == snapshot_id
            previous = ready[1] if len(ready) > 1 else None
            writer = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
            gained = await retention.compare(writer, snapshot, previous, summaries, columns, computed["overdue"])
            insights = {**snapshot["insights"], "alerts": gained["alerts"]}
            if "rfm" in gained:
                insights["rfm"] = {**snapshot["insights"]["rfm"], **gained["rfm"]}
            await repo.complete(snapshot_id, {"insights": insights})
            snapshot = {**snapshot, "insights": insights}
            await repo.discard(keep=ready, building_before=now - DEAD_RUN)
            await events.record(writer, types.ANALYTICS_REFRESHED, model_read(snapshot))
            await uow.commit()
    except BaseException:
        # This run's snapshot is of no use half-written: drop it now (also when the worker stops).
        await asyncio.shield(_drop_building(database, workspace_id, snapshot_id))
        raise
    return {
        "snapshot_id": str(snapshot_id),
        "as_of": as_of.isoformat(),
        "customers": len(summaries),
        "model": computed["snapshot"]["model"],
    }


async def _drop_building(database: Database, workspace_id: UUID, snapshot_id: UUID) -> None:
    async with UnitOfWork(database) as uow:
        await WorkspaceRepositories(uow, workspace_id).analytics.discard_building(before=None, snapshot_id=snapshot_id)
        await uow.commit()


# -- reads ------------------------------------------------------------------------------------------


def model_read(snapshot: dict[str, Any]) -> ModelRead:
    retained = snapshot["retention"]
    if retained is not None and "annual_churn_rate" not in retained:  # computed before it was kept
        retained = {**retained, "annual_churn_rate": 1.0 - retained["rate"]}
    return ModelRead.model_validate({
        **snapshot, "snapshot_id": snapshot["id"], "computed_at": snapshot["created_at"], "retention": retained,
    })  # fmt: skip


async def latest(ctx: Context) -> dict[str, Any]:
    snapshot = await ctx.analytics.latest()
    if snapshot is None:
        raise NotFound("no analytics snapshot yet: POST /v1/analytics/refresh computes one (it also runs nightly)")
    return snapshot


async def value_of(ctx: Context, contact_id: UUID) -> dict[str, Any]:
    """A contact's values from the latest snapshot (404 for a contact the workspace does not have)."""
    contact = await ctx.contacts.get(contact_id)
    if contact is None:
        raise NotFound("no contact with this id")
    repo = ctx.analytics
    snapshot = await repo.latest()
    empty = {"contact_id": contact_id, "snapshot_id": None, "as_of": None, "computed_at": None, "currency": None}
    sections = {"historic": None, "simple": None, "retention_based": None, "predictive": None}
    if snapshot is None:
        return {**empty, **sections, "status": "no_snapshot"}
    found = {
        "contact_id": contact_id,
        "snapshot_id": snapshot["id"],
        "as_of": snapshot["as_of"],
        "computed_at": snapshot["created_at"],
        "currency": snapshot["currency"],
    }
    row = await repo.value_of(snapshot["id"], contact_id)
    if row is None:
        return {**found, **sections, "status": "not_a_customer"}
    return {**found, **_sections(snapshot, row), "status": "ready"}


def _sections(snapshot: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    currency, used = snapshot["currency"], snapshot["settings"]
    retention = snapshot["retention"] or {"rate": 0.0, "expected_years": 1.0}

    def money(minor: int | None) -> str | None:
        return None if minor is None else from_minor(minor, currency)

    yearly_margin = row["average_order_value_minor"] * row["purchases_per_year"]
    revenue = row["revenue_minor"]
    margin_rate = row["margin_minor"] / revenue if revenue > 0 else used["default_margin"]
    insights: dict[str, Any] = {}
    if row.get("rfm_segment") is not None:
        insights = {
            "rfm": {
                "recency_score": row["recency_score"], "frequency_score": row["frequency_score"],
                "monetary_score": row["monetary_score"], "segment": row["rfm_segment"],
                "label": SEGMENTS[row["rfm_segment"]], "days_since_last_purchase": row["days_since_last"],
            },
            "churn": {
                "score": row["churn_score"], "level": row["churn_level"], "reasons": row["churn_reasons"],
                "clv_at_risk": money(row["clv_at_risk_minor"]),
            },
            "recommendations": row["recommendations"] or [],
            "advocacy": {"score": row["advocacy_score"], "parts": row["advocacy"] or {}},
            "value_added_deals": row["value_added_deals"],
        }  # fmt: skip
    return {
        **insights,
        **_next_purchase(row),
        "historic": {
            "revenue": money(revenue),
            "margin": money(row["margin_minor"]),
            "purchases": row["purchases"],
            "first_purchase_on": row["first_purchase_on"],
            "last_purchase_on": row["last_purchase_on"],
        },
        "simple": {
            "clv": money(row["simple_clv_minor"]),
            "average_order_value": money(row["average_order_value_minor"]),
            "purchases_per_year": row["purchases_per_year"],
            "expected_years": retention["expected_years"],
            "retention_rate": retention["rate"],
            "annual_churn_rate": 1.0 - retention["rate"],
        },
        "retention_based": {
            "clv": money(row["retention_clv_minor"]),
            "yearly_margin": money(round(yearly_margin * margin_rate)),
            "retention_rate": retention["rate"],
            "discount_rate": used["yearly_discount_rate"],
        },
        "predictive": {
            "model": snapshot["model"],
            "clv": money(row["predicted_clv_minor"]),
            "margin": money(row["predicted_margin_minor"]),
            "horizon_months": used["clv_horizon_months"],
            "expected_purchases_90d": row["expected_purchases_90"],
            "expected_purchases_365d": row["expected_purchases_365"],
            "p_alive": row["p_alive"],
            "expected_order_value": money(row["expected_value_minor"]),
            "frequency": row["frequency"],
            "recency": row["recency"],
            "age": row["age"],
        },
    }


async def clv_groups(ctx: Context, group_by: str, metric: str) -> dict[str, Any]:
    snapshot = await latest(ctx)
    stored = (snapshot["groups"] or {}).get(group_by, [])
    return {
        "snapshot_id": snapshot["id"],
        "as_of": snapshot["as_of"],
        "currency": snapshot["currency"],
        "group_by": group_by,
        "metric": metric,
        "customers": snapshot["customers"],
        "groups": [{"key": g["key"], "count": g["count"], **g["metrics"][metric]} for g in stored],
    }


# -- retention reads ---------------------------------------------------------------------------------


def _next_purchase(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("expected_next_purchase_at", "purchase_interval_days", "next_purchase_basis")}


def customer_item(row: dict[str, Any], currency: str) -> dict[str, Any]:
    def money(minor: int | None) -> str | None:
        return None if minor is None else from_minor(minor, currency)

    return {
        **{k: row.get(k) for k in ("contact_id", "owner_id", "rfm_segment", "recency_score", "frequency_score",
                                   "monetary_score", "churn_score", "churn_level", "advocacy_score",
                                   "value_added_deals")},
        **{k: row[k] for k in ("contact_name", "contact_email") if k in row},
        **_next_purchase(row),
        "churn_reasons": row.get("churn_reasons") or [],
        "recommendations": row.get("recommendations") or [],
        "clv_at_risk": money(row.get("clv_at_risk_minor")),
        "predicted_clv": money(row["predicted_clv_minor"]),
        "historic_revenue": money(row["revenue_minor"]),
        "currency": currency,
    }  # fmt: skip


async def ranked_customers(
    ctx: Context, kind: str, *, cursor: str | None, limit: int, filters: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Customers of the latest snapshot, largest first: churn by CLV at risk (filters level, owner,
    segment), advocates by advocacy score, upsell by value-added deals then open recommendations."""
    snapshot = await latest(ctx)
    rows, next_cursor = await retention.ranked(ctx, snapshot, kind, cursor=cursor, limit=limit, filters=filters or {})
    return [customer_item(row, snapshot["currency"]) for row in rows], next_cursor


async def rfm(ctx: Context) -> dict[str, Any]:
    snapshot = await latest(ctx)
    stored = (snapshot["insights"] or {}).get("rfm") or {"segments": [], "moves": None, "previous_snapshot_id": None}
    moves = stored.get("moves")
    return {
        "snapshot_id": snapshot["id"], "as_of": snapshot["as_of"], "currency": snapshot["currency"],
        "customers": snapshot["customers"], "segments": stored["segments"],
        "previous_snapshot_id": stored.get("previous_snapshot_id"),
        "movement": None if moves is None else [
            {"from_segment": m["from"], "to_segment": m["to"], "customers": m["customers"]} for m in moves
        ],
    }  # fmt: skip


async def cohorts(ctx: Context) -> dict[str, Any]:
    snapshot = await latest(ctx)
    return {
        "snapshot_id": snapshot["id"], "as_of": snapshot["as_of"], "currency": snapshot["currency"],
        "cohorts": (snapshot["insights"] or {}).get("cohorts", []),
    }  # fmt: skip


async def clv_cac(ctx: Context, group: str) -> dict[str, Any]:
    """CLV:CAC from the latest snapshot's acquisitions and the live acquisition costs (spend in other
    currencies converted with the latest exchange rate on or before the month's last day)."""
    if group == "campaign" and not ctx.allows("campaigns:read"):  # campaigns' names and costs are theirs to show
        raise Forbidden("CLV:CAC by campaign needs the 'campaigns:read' scope too, which this key lacks")
    snapshot = await latest(ctx)
    currency = snapshot["currency"]
    if group == "campaign":
        rows, unconverted = await _clv_cac_by_campaign(ctx, snapshot)
        return {"snapshot_id": snapshot["id"], "as_of": snapshot["as_of"], "currency": currency, "group": group,
                "rows": rows, "unconverted_spend": unconverted}  # fmt: skip
    costs, unconverted = await acquisition_costs.spend(ctx, currency)
    return {
        "snapshot_id": snapshot["id"], "as_of": snapshot["as_of"], "currency": currency, "group": group,
        "rows": retention.clv_cac(snapshot, costs, group), "unconverted_spend": unconverted,
    }  # fmt: skip


async def _clv_cac_by_campaign(
    ctx: Context, snapshot: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Per launched campaign with a cost: the customers it acquired (recipients of its variants
    whose first order fell within their attribution window), its cost as their CAC, and their
    predicted CLV and margin in the snapshot. A cost in another currency than the snapshot's is
    left out (summed in `unconverted_spend`)."""
    from app.services.campaigns import campaigns as campaign_service
    from app.services.campaigns import report as campaign_report

    currency = snapshot["currency"]
    exponent = currency_exponent(currency)
    rows: list[dict[str, Any]] = []
    unconverted: dict[str, int] = {}
    for campaign in await campaign_service.launched_with_cost(ctx):
        if campaign["cost_currency"] != currency:
            other = campaign["cost_currency"]
            unconverted[other] = unconverted.get(other, 0) + campaign["cost_minor"]
            continue
        contacts = list(dict.fromkeys(await campaign_report.acquired(ctx, campaign)))  # two leads, one contact
        values = await ctx.analytics.clv_of(snapshot["id"], contacts)
        scale = 10**exponent
        figures = clv_cac_figures(len(contacts), campaign["cost_minor"] / scale, 0.0, 0.0, None)
        # CLV: the mean over the acquired customers the snapshot knows (one who first bought after
        # it has no CLV yet, and counts in the CAC only)
        known = len(values)
        mean_clv = sum(v for v, _ in values.values()) / scale / known if known else None
        mean_margin = sum(m for _, m in values.values()) / scale / known if known else None
        ratio = mean_margin / figures.cac if figures.cac and mean_margin is not None else None
        revenue_ratio = mean_clv / figures.cac if figures.cac and mean_clv is not None else None
        rows.append({
            "channel": campaign["channel"], "month": campaign["launched_at"].strftime("%Y-%m"),
            "campaign_id": campaign["id"], "campaign": campaign["name"], "customers": figures.customers,
            "spend": estimate_text(figures.spend, exponent),
            "cac": None if figures.cac is None else estimate_text(figures.cac, exponent),
            "mean_clv": None if mean_clv is None else estimate_text(mean_clv, exponent),
            "mean_clv_margin": None if mean_margin is None else estimate_text(mean_margin, exponent),
            "clv_cac_ratio": ratio, "revenue_clv_cac_ratio": revenue_ratio, "payback_months": None,
        })  # fmt: skip
    return rows, {c: from_minor(v, c) for c, v in sorted(unconverted.items())}
