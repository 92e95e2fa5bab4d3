"""The sales forecast through HTTP on both databases: a synthetic three-year monthly order history
(trend, a strong yearly season, a little noise) synced through POST /v1/orders/batch, where the
chosen model must beat seasonal naive in its own backtest; a short history and the simpler models;
`as_of` reading no later order; the cache (the same `computed_at` until an order changes, and the
nightly refresh job); per category; CSV and PNG; bad input; scopes and tenancy."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.worker import recurring
from tests.api.test_analytics import order, run_jobs, settle, sync
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.documented import assert_documented

URL = "/v1/reports/sales-forecast"


def _month(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _as_of(months_back: int = 1) -> dt.date:
    """The last day of last month (or of an earlier one): the history is the whole months up to it."""
    return _month(dt.datetime.now(dt.UTC).date(), 1 - months_back) - dt.timedelta(days=1)


def history(months: int, as_of: dt.date, prefix: str = "o") -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
    """Orders over the `months` whole months up to `as_of`: revenue 1000 + 15 per month, +/- 400
    with the calendar month (high in November-December, low in May-June), a deterministic wobble;
    4 to 10 orders a month the same way. Each order has two lines, gifts 60% and books 40%.
    (orders, {month label: revenue})."""
    first = _month(as_of, -(months - 1))
    orders, revenue = [], {}
    for i in range(months):
        start = _month(first, i)
        season = math.cos(2 * math.pi * (start.month - 12) / 12)  # 1 in December, -1 in June
        target = 1000 + 15 * i + 400 * season + 25 * ((i * 7) % 5 - 2)
        count = 7 + round(3 * season)
        each = (Decimal(str(target)) / count).quantize(Decimal("0.01"))
        revenue[start.strftime("%Y-%m")] = each * count
        for k in range(count):
            gifts = (each * Decimal("0.6")).quantize(Decimal("0.01"))
            lines = [{"name": "g", "category": "gifts", "quantity": 1, "unit_price": str(gifts)},
                     {"name": "b", "category": "books", "quantity": 1, "unit_price": str(each - gifts)}]  # fmt: skip
            day = start + dt.timedelta(days=(k * 3) % 28)
            orders.append(order(f"{prefix}{i}-{k}", f"c{(i + k) % 40}", day, str(each), line_items=lines))
    return orders, revenue


async def forecast(tenant: Tenant, **params: Any) -> dict[str, Any]:
    answer = await tenant.get(URL, params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_seasonal_history_is_forecast_better_than_seasonal_naive(tenant: Tenant) -> None:
    as_of = _as_of()
    orders, revenue = history(36, as_of)
    await sync(tenant, orders)
    # Per category too (gifts 60% and books 40% of every order): the total is the same forecast.
    report = await forecast(tenant, as_of=as_of.isoformat(), by="category")
    assert (report["interval"], report["metric"], report["horizon"], report["currency"]) == ("month", "revenue", 6,
                                                                                             "USD")  # fmt: skip
    assert [h["label"] for h in report["history"]] == list(revenue)
    assert [Decimal(h["value"]) for h in report["history"]] == list(revenue.values())
    labels = [f["label"] for f in report["forecast"]]
    assert labels == [_month(as_of, k).strftime("%Y-%m") for k in range(1, 7)]
    assert all(Decimal(f["lower"]) <= Decimal(f["value"]) <= Decimal(f["upper"]) for f in report["forecast"])
    backtest = report["backtest"]
    assert report["model"] in ("ets", "sarimax") and report["note"] is None
    assert backtest["metric"] == "smape" and backtest["origins"] == 6 and backtest["baseline"] == "seasonal_naive"
    assert backtest["model_error"] < backtest["seasonal_naive_error"] == backtest["baseline_error"]
    assert set(report["candidates"]) == {"seasonal_naive", "ets", "sarimax"}
    # The season shows: next December above next June, whichever comes first.
    by_month = {f["label"][5:]: Decimal(f["value"]) for f in report["forecast"]}
    if "12" in by_month and "06" in by_month:
        assert by_month["12"] > by_month["06"]
    categories = {c["category"]: c for c in report["categories"]}
    assert list(categories) == ["gifts", "books"]
    for h, g, b in zip(report["history"], categories["gifts"]["history"], categories["books"]["history"], strict=True):
        assert abs(Decimal(g["value"]) + Decimal(b["value"]) - Decimal(h["value"])) <= Decimal("0.02")
        assert abs(Decimal(g["value"]) - Decimal(h["value"]) * Decimal("0.6")) <= Decimal("0.06")
    assert all(len(c["forecast"]) == 6 and c["backtest"]["origins"] == 6 for c in report["categories"])

    orders_report = await forecast(tenant, as_of=as_of.isoformat(), metric="orders", periods=3)
    counts = [int(h["value"]) for h in orders_report["history"]]
    assert sum(counts) == len(orders) and orders_report["currency"] is None and orders_report["categories"] is None
    assert len(orders_report["forecast"]) == 3 and all(f["value"].isdigit() for f in orders_report["forecast"])


async def test_a_short_history_gets_the_simpler_models(tenant: Tenant) -> None:
    as_of = _as_of(2)  # last month is for the orders after it
    empty = await forecast(tenant)
    assert_documented(await tenant.get(URL), URL)  # `horizon`, `baseline_error` as documented
    assert (empty["model"], empty["history"], empty["forecast"]) == ("none", [], [])
    assert empty["backtest"]["origins"] == 0 and empty["backtest"]["model_error"] is None
    assert (empty["backtest"]["baseline"], empty["backtest"]["baseline_error"]) == (None, None)

    orders, _ = history(18, as_of)
    await sync(tenant, orders)
    report = await forecast(tenant, as_of=as_of.isoformat())
    assert len(report["history"]) == 18 and len(report["forecast"]) == 6
    assert report["model"] in ("naive", "holt_damped", "sarimax")
    assert report["note"].startswith("18 periods of history: seasonality needs 29")
    assert report["backtest"]["baseline"] == "naive" and "ets" not in report["candidates"]
    # No full season before the first origin: no seasonal-naive error, the naive baseline's beside it.
    assert report["backtest"]["seasonal_naive_error"] is None
    assert report["backtest"]["baseline_error"] == report["candidates"]["naive"] is not None

    assert report["exchange_rate_currency"] is None  # the workspace keeps no rates

    # Shorter still: naive or the mean (and the history cut by as_of). A EUR rate each month from
    # the first is offered to the model (the mean of each month's).
    for k in range(11):
        for day, rate in ((3, "1.0"), (17, f"1.{k + 1}")):
            body = {"currency": "EUR", "rate": rate, "effective_on": (_month(as_of, k - 17) + dt.timedelta(days=day)
                                                                       ).isoformat()}  # fmt: skip
            assert (await tenant.post("/v1/exchange-rates", json=body)).status_code == 201
    short = _month(as_of, -6) - dt.timedelta(days=1)
    few = await forecast(tenant, as_of=short.isoformat())
    assert len(few["history"]) == 11 and few["model"] in ("naive", "mean") and "too short" in few["note"]
    assert few["exchange_rate_currency"] == "EUR"
    tiny = await forecast(tenant, as_of=_month(as_of, -15).isoformat())
    assert (len(tiny["history"]), tiny["model"], tiny["forecast"]) == (2, "none", [])
    assert "at least 3" in tiny["note"]

    # `as_of` reads no later order: a huge month after it changes nothing, even computed afresh.
    later = _month(as_of, 1)
    await sync(tenant, [order(f"late{k}", "late", later + dt.timedelta(days=k), "99999.00") for k in range(3)])
    fresh = await forecast(tenant, as_of=short.isoformat(), periods=5)
    assert fresh["history"] == few["history"] and fresh["model"] == few["model"]
    assert [f["value"] for f in fresh["forecast"]] == [f["value"] for f in few["forecast"][:5]]
    # A month on, that month is history (its 299,997.00 after the rest).
    on = await forecast(tenant, as_of=(_month(as_of, 2) - dt.timedelta(days=1)).isoformat(), periods=1)
    assert (on["history"][-1]["label"], on["history"][-1]["value"]) == (later.strftime("%Y-%m"), "299997.00")


async def test_a_jalali_workspace_forecasts_its_months(database: Database, client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(database, client, "Tehran", region="IR", timezone="Asia/Tehran")
    orders, _ = history(6, _as_of())
    await sync(tenant, orders)
    report = await forecast(tenant, interval="month", periods=2)
    assert all(h["label"].startswith("14") for h in report["history"])  # Jalali years
    assert len(report["forecast"]) == 2 and report["forecast"][0]["label"].startswith("14")


async def test_the_cache_answers_until_an_order_changes(tenant: Tenant, database: Database) -> None:
    as_of = _as_of()
    orders, _ = history(12, as_of)
    await sync(tenant, orders)
    first = await forecast(tenant, as_of=as_of.isoformat())
    again = await forecast(tenant, as_of=as_of.isoformat())
    assert again == first  # the cached answer, computed_at included
    # Another key is another forecast; an order after as_of leaves this one's data alone.
    assert (await forecast(tenant, as_of=as_of.isoformat(), periods=3))["computed_at"] != first["computed_at"]
    await sync(tenant, [order("after", "late", _month(as_of, 1), "10.00")])
    assert (await forecast(tenant, as_of=as_of.isoformat()))["computed_at"] == first["computed_at"]

    # CSV and PNG from the cache.
    answer = await tenant.get(URL, params={"as_of": as_of.isoformat()}, headers={"Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert [r["value"] for r in rows if r["section"] == "history"] == [h["value"] for h in first["history"]]
    assert [r["upper"] for r in rows if r["section"] == "forecast"] == [f["upper"] for f in first["forecast"]]
    png = await tenant.get(URL, params={"as_of": as_of.isoformat()}, headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 2000
    assert_problem(await tenant.get(URL, headers={"Accept": "application/xml"}), 406)

    # An order of the history changes (refunded in part): the next read recomputes.
    changed = dict(orders[0], status="partially_refunded", refunded_total="50.00",
                   source_updated_at=dt.datetime.now(dt.UTC).isoformat())  # fmt: skip
    await sync(tenant, [changed])
    moved = await forecast(tenant, as_of=as_of.isoformat())
    assert moved["computed_at"] != first["computed_at"]
    assert Decimal(moved["history"][0]["value"]) == Decimal(first["history"][0]["value"]) - 50

    # The nightly task queues the refresh job, which recomputes what moved: both keys' orders.
    await sync(tenant, [dict(changed, refunded_total="60.00", source_updated_at=dt.datetime.now(dt.UTC).isoformat())])
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, _uuid(tenant.id), SYSTEM, dt.datetime.now(dt.UTC), scopes=SERVICE_SCOPES)
        job = await recurring.TASKS["refresh-sales-forecasts"].run(ctx)
        await uow.commit()
    assert job is not None and job["kind"] == "reports.refresh_forecasts"
    await run_jobs(database)
    done = (await tenant.get(f"/v1/jobs/{job['id']}")).json()
    assert done["status"] == "succeeded" and done["result"] == {"forecasts": 2, "recomputed": 2}, done
    refreshed = await forecast(tenant, as_of=as_of.isoformat())
    assert refreshed["computed_at"] != moved["computed_at"]
    assert Decimal(refreshed["history"][0]["value"]) == Decimal(first["history"][0]["value"]) - 60
    async with UnitOfWork(database, write=False) as uow:
        stored = (await uow.execute(select(tables.report_forecasts.c.computed_at).where(
            tables.report_forecasts.c.workspace_id == _uuid(tenant.id)))).scalars().all()  # fmt: skip
    assert len(stored) == 2
    # Nothing moved since: the next night's job recomputes nothing.
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, _uuid(tenant.id), SYSTEM, dt.datetime.now(dt.UTC), scopes=SERVICE_SCOPES)
        job = await recurring.TASKS["refresh-sales-forecasts"].run(ctx)
        await uow.commit()
    await run_jobs(database)
    assert (await tenant.get(f"/v1/jobs/{job['id']}")).json()["result"] == {"forecasts": 2, "recomputed": 0}
    assert (await forecast(tenant, as_of=as_of.isoformat()))["computed_at"] == refreshed["computed_at"]


async def test_a_large_orders_import_recomputes_the_cached_forecasts(tenant: Tenant, database: Database) -> None:
    as_of = _as_of()
    orders, _ = history(6, as_of)
    await sync(tenant, orders)
    first = await forecast(tenant, as_of=as_of.isoformat(), periods=2)
    await settle(tenant, refresh_after_import_rows=2)  # the analytics' threshold: a "large" import
    placed = f"{_month(as_of, -5).isoformat()}T10:00:00Z"  # in the history's first month
    data = f"Order,Status,Currency,Total,Placed,Email\n1,paid,USD,10.00,{placed},a@x.io\n" \
           f"2,paid,USD,12.00,{placed},b@x.io\n".encode()  # fmt: skip
    mapping = {"external_id": "Order", "status": "Status", "currency": "Currency", "total": "Total",
               "placed_at": "Placed", "customer_email": "Email"}  # fmt: skip
    response = await tenant.post(
        "/v1/imports", params={"entity": "orders", "default_source": "legacy"},
        data={"mapping": json.dumps(mapping)}, files={"file": ("o.csv", data, "text/csv")},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    await run_jobs(database)
    [job] = (await tenant.get("/v1/jobs", params={"kind": "reports.refresh_forecasts"})).json()["data"]
    assert (job["status"], job["params"], job["result"]) == ("succeeded", {"cause": "import"},
                                                             {"forecasts": 1, "recomputed": 1})  # fmt: skip
    after = await forecast(tenant, as_of=as_of.isoformat(), periods=2)
    assert after["computed_at"] != first["computed_at"]  # the job's: the read found it fresh
    assert Decimal(after["history"][0]["value"]) == Decimal(first["history"][0]["value"]) + 22
    assert (await forecast(tenant, as_of=as_of.isoformat(), periods=2))["computed_at"] == after["computed_at"]


async def test_the_cache_keeps_so_many_forecasts_a_workspace_the_latest_ones_first(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    """A client sweeping `as_of` makes a key a day: the workspace keeps MAX_CACHED of them, the
    latest ones (no `as_of`) before dated ones, then the most recently computed."""
    from app.services.reports.sales_forecast import MAX_CACHED

    await sync(tenant, history(4, _as_of())[0])
    theirs = await forecast(other_tenant, periods=2)
    latest = await forecast(tenant, periods=2)
    last = _as_of()
    swept = [(last - dt.timedelta(days=n)).isoformat() for n in range(MAX_CACHED + 5)]
    first_computed = {day: (await forecast(tenant, as_of=day, periods=2))["computed_at"] for day in swept}

    async def keys(workspace: str) -> list[str]:
        async with UnitOfWork(database, write=False) as uow:
            rows = await uow.execute(select(tables.report_forecasts.c.key).where(
                tables.report_forecasts.c.workspace_id == _uuid(workspace)))  # fmt: skip
            return sorted(str(k) for k in rows.scalars())

    kept = await keys(tenant.id)
    assert len(kept) == MAX_CACHED and "sales-forecast:revenue:month:2:latest:total" in kept
    last_asked = swept[-(MAX_CACHED - 1) :]
    assert kept == sorted(["sales-forecast:revenue:month:2:latest:total",
                           *(f"sales-forecast:revenue:month:2:{day}:total" for day in last_asked)])  # fmt: skip
    assert (await forecast(tenant, periods=2))["computed_at"] == latest["computed_at"]  # still cached
    assert (await forecast(tenant, as_of=swept[-1], periods=2))["computed_at"] == first_computed[swept[-1]]
    first_asked = swept[0]
    assert (await forecast(tenant, as_of=first_asked, periods=2))["computed_at"] != first_computed[first_asked]
    assert len(await keys(tenant.id)) == MAX_CACHED
    # Another workspace's cache is its own.
    assert await keys(other_tenant.id) == ["sales-forecast:revenue:month:2:latest:total"]
    assert (await forecast(other_tenant, periods=2))["computed_at"] == theirs["computed_at"]


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


async def test_bad_input_names_the_field(tenant: Tenant) -> None:
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    assert_problem(await tenant.get(URL, params={"as_of": tomorrow}), 422, "as_of")
    assert_problem(await tenant.get(URL, params={"as_of": "someday"}), 422, "as_of")
    assert_problem(await tenant.get(URL, params={"periods": 0}), 422, "periods")
    assert_problem(await tenant.get(URL, params={"periods": 53}), 422, "periods")
    assert_problem(await tenant.get(URL, params={"metric": "profit"}), 422, "metric")
    assert_problem(await tenant.get(URL, params={"interval": "fortnight"}), 422, "interval")
    assert_problem(await tenant.get(URL, params={"by": "product"}), 422, "by")


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    orders, _ = history(6, _as_of())
    await sync(other_tenant, orders)
    theirs = await forecast(other_tenant, periods=2)
    mine = await forecast(tenant, periods=2)  # the same key, its own cache and data
    assert len(theirs["history"]) == 6 and mine["history"] == [] and mine["model"] == "none"
    orders_only = await tenant.key_with("orders:read")
    assert_problem(await tenant.get(URL, key=orders_only), 403)
    reader = await tenant.key_with("reports:read")
    assert (await tenant.get(URL, key=reader)).status_code == 200


async def test_the_workspaces_own_occasions_are_checked_and_recompute_the_forecast(tenant: Tenant) -> None:
    """`/v1/settings/occasions`: the workspace's own yearly dates, inputs of the forecast's model;
    a change of them is a change of the forecast's data (the cache recomputes)."""
    as_of = _as_of()
    orders, _ = history(12, as_of)
    await sync(tenant, orders)
    before = await forecast(tenant, as_of=as_of.isoformat())
    empty = (await tenant.get("/v1/settings/occasions")).json()
    assert empty["occasions"] == []
    sale = {"name": "anniversary_sale", "calendar": "jalali", "month": 12, "day": 30, "days": 3}
    saved = await tenant.request("PUT", "/v1/settings/occasions", json={"occasions": [sale]})
    assert saved.status_code == 200, saved.text
    assert saved.json()["occasions"] == [sale]
    after = await forecast(tenant, as_of=as_of.isoformat())
    assert after["computed_at"] != before["computed_at"] and len(after["forecast"]) == 6
    assert (await forecast(tenant, as_of=as_of.isoformat()))["computed_at"] == after["computed_at"]
    for bad, field in (
        ({**sale, "name": "nowruz"}, "occasions"),
        ({**sale, "name": "Big Sale"}, "occasions.0.name"),
        ({**sale, "month": 7, "day": 31}, "occasions"),
        ({**sale, "calendar": "gregorian", "month": 4, "day": 31}, "occasions"),
        ({**sale, "days": 0}, "occasions.0.days"),
        ({**sale, "month": "12"}, "occasions.0.month"),
    ):
        answer = await tenant.request("PUT", "/v1/settings/occasions", json={"occasions": [bad]})
        assert answer.status_code == 422, (bad, answer.text)
        assert any(e["field"].startswith(field) for e in answer.json()["errors"]), (bad, answer.text)
    twice = await tenant.request("PUT", "/v1/settings/occasions", json={"occasions": [sale, sale]})
    assert twice.status_code == 422
