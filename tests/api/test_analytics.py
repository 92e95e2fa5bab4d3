"""Customer analytics through HTTP on both databases: orders → refresh job → snapshot → value,
model and CLV-by-group endpoints. The snapshot's numbers are checked against the pure domain
(app/domain/analytics/clv) run on the orders the test sent, so the SQL summary is held to the reference one."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.analytics.clv import bgnbd, simulate, valuation
from app.domain.analytics.clv.summary import summarize
from app.worker import jobs
from tests.conftest import Tenant, assert_problem

AS_OF = dt.date(2026, 6, 30)


async def run_jobs(database: Database) -> None:
    while await jobs.run_due(database, Settings(database_url=database.settings.database_url)):
        pass


def order(number: str, customer: str, day: dt.date, total: str, **fields: Any) -> dict[str, Any]:
    placed = f"{day.isoformat()}T12:00:00Z"
    return {
        "source": "shopify", "external_id": number, "status": "paid", "currency": "USD", "total": total,
        "placed_at": placed, "source_updated_at": placed,
        "customer": {"external_id": customer, "email": f"{customer}@example.com"}, **fields,
    }  # fmt: skip


async def sync(tenant: Tenant, orders: list[dict[str, Any]]) -> None:
    for start in range(0, len(orders), 1000):
        response = await tenant.post("/v1/orders/batch", json={"orders": orders[start : start + 1000]})
        assert response.status_code == 200, response.text
        assert all(r["status"] != "error" for r in response.json()["results"]), response.text


async def refresh(tenant: Tenant, database: Database, **body: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/analytics/refresh", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"
    await run_jobs(database)
    job = (await tenant.get(response.headers["location"])).json()
    assert job["status"] == "succeeded", job
    return dict(job)


async def contact_id(tenant: Tenant, customer: str) -> str:
    found = (await tenant.get("/v1/contacts", params={"email": f"{customer}@example.com"})).json()["data"]
    assert len(found) == 1
    return str(found[0]["id"])


async def settle(tenant: Tenant, **values: Any) -> None:
    response = await tenant.patch("/v1/settings/analytics", json=values)
    assert response.status_code == 200, response.text


# -- a small workspace, checked by hand ---------------------------------------------------------------


async def test_a_customers_value_follows_the_conventions(tenant: Tenant, database: Database) -> None:
    d = dt.date
    await sync(tenant, [
        # ann: two orders on her first day are one purchase (30 + 20); a partial refund counts net;
        # a cancelled and a fully refunded order count for nothing; an order after as_of is not seen.
        order("1", "ann", d(2025, 1, 10), "30.00"),
        order("2", "ann", d(2025, 1, 10), "20.00", cost="12.00"),
        order("3", "ann", d(2025, 4, 10), "40.00", status="partially_refunded", refunded_total="10.00"),
        order("4", "ann", d(2025, 5, 1), "99.00", status="cancelled"),
        order("5", "ann", d(2025, 6, 1), "99.00", status="refunded", refunded_total="99.00"),
        order("6", "ann", d(2026, 3, 1), "70.00", status="fulfilled"),
        order("7", "ann", d(2026, 7, 15), "500.00"),
        # bob: one purchase, on the analysis date itself (included: T = 0)
        order("8", "bob", AS_OF, "25.00"),
    ])  # fmt: skip
    await settle(tenant, min_repeat_buyers=5, default_margin=0.25, yearly_discount_rate=0.1)
    job = await refresh(tenant, database, as_of=AS_OF.isoformat())
    assert job["result"]["customers"] == 2 and job["result"]["model"] == "simple"

    ann = (await tenant.get(f"/v1/contacts/{await contact_id(tenant, 'ann')}/value")).json()
    assert ann["status"] == "ready" and ann["as_of"] == "2026-06-30" and ann["currency"] == "USD"
    # Purchase days 2025-01-10 (50), 2025-04-10 (30 net), 2026-03-01 (70): x = 2.
    assert ann["historic"] == {
        "revenue": "150.00",
        "margin": "40.50",  # (20 - 12) on the costed order + 0.25 x the other 130
        "purchases": 3,
        "first_purchase_on": "2025-01-10",
        "last_purchase_on": "2026-03-01",
    }
    predictive = ann["predictive"]
    age = (AS_OF - d(2025, 1, 10)).days
    assert (predictive["frequency"], predictive["recency"], predictive["age"]) == (
        2,
        (d(2026, 3, 1) - d(2025, 1, 10)).days,
        age,
    )
    assert predictive["model"] == "simple" and predictive["p_alive"] is None
    per_year = 3 * 365 / (age + 1)
    assert ann["simple"]["purchases_per_year"] == pytest.approx(per_year)
    assert ann["simple"]["average_order_value"] == "50.00"
    assert predictive["expected_purchases_365d"] == pytest.approx(per_year)
    assert predictive["expected_purchases_90d"] == pytest.approx(per_year * 90 / 365)
    months = valuation.discount_factors(12, 0.01).sum()
    assert float(predictive["clv"]) == pytest.approx(50 * per_year / 365 * 30 * months, abs=0.006)
    # Retention: ann bought in the year before last (2024-07-01 … 2025-06-30) and again in the last
    # year; bob did not buy in the year before last: r = 1/1, capped at 0.95.
    assert ann["simple"]["retention_rate"] == pytest.approx(0.95)
    assert ann["simple"]["expected_years"] == pytest.approx(20.0)
    assert float(ann["simple"]["clv"]) == pytest.approx(50 * per_year * 20, abs=0.006)
    margin_rate = 40.5 / 150
    assert float(ann["retention_based"]["clv"]) == pytest.approx(50 * per_year * margin_rate * 0.95 / 0.15, abs=0.006)

    bob = (await tenant.get(f"/v1/contacts/{await contact_id(tenant, 'bob')}/value")).json()
    assert bob["historic"]["purchases"] == 1 and bob["predictive"]["age"] == 0
    assert bob["predictive"]["frequency"] == 0 and bob["historic"]["revenue"] == "25.00"
    # Bob's first day is the analysis date: his rate is measured over 90 days at least (365 / 90 a
    # year), the relationship lasts 1 / the annual churn rate 0.05 = 20 years: 25 x 4.0556 x 20.
    assert bob["simple"]["purchases_per_year"] == pytest.approx(365 / 90)
    assert bob["simple"]["annual_churn_rate"] == pytest.approx(0.05)
    assert bob["simple"]["clv"] == "2027.78"
    # The predictive fallback model still extrapolates over a year at least: one purchase a year.
    assert bob["predictive"]["expected_purchases_365d"] == pytest.approx(1.0)

    model = (await tenant.get("/v1/analytics/model")).json()
    assert model["model"] == "simple" and "1 repeat buyers" in model["model_reason"]
    assert (model["customers"], model["repeat_buyers"], model["time_unit"]) == (2, 1, "days")
    assert model["bgnbd"] is None and model["holdout"] is None
    assert model["retention"] == {"rate": 0.95, "source": "observed", "customers_year_before_last": 1,
                                  "retained": 1, "annual_churn_rate": pytest.approx(0.05),
                                  "expected_years": pytest.approx(20.0)}  # fmt: skip
    assert model["totals"]["historic_revenue"] == {"sum": "175.00", "mean": "87.50"}
    assert model["settings"]["default_margin"] == 0.25
    events = (await tenant.get("/v1/events", params={"type": "analytics.refreshed"})).json()["data"]
    assert len(events) == 1 and events[0]["data"]["snapshot_id"] == model["snapshot_id"]


async def test_a_contact_without_purchases_or_without_a_snapshot(tenant: Tenant, database: Database) -> None:
    lonely = (await tenant.post("/v1/contacts", json={"first_name": "Lonely", "email": "l@example.com"})).json()
    before = (await tenant.get(f"/v1/contacts/{lonely['id']}/value")).json()
    assert before["status"] == "no_snapshot" and before["predictive"] is None
    assert_problem(await tenant.get("/v1/analytics/model"), 404)
    assert_problem(await tenant.get("/v1/analytics/clv", params={"group_by": "country"}), 404)
    await refresh(tenant, database)  # no orders at all: an empty snapshot
    after = (await tenant.get(f"/v1/contacts/{lonely['id']}/value")).json()
    assert after["status"] == "not_a_customer" and after["snapshot_id"] and after["historic"] is None
    model = (await tenant.get("/v1/analytics/model")).json()
    assert (model["customers"], model["model"], model["totals"]["predicted_clv"]) == (
        0,
        "simple",
        {"sum": "0.00", "mean": None},
    )
    assert_problem(await tenant.get("/v1/contacts/00000000-0000-0000-0000-000000000000/value"), 404)


async def test_bad_requests_are_422s_naming_the_field(tenant: Tenant) -> None:
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    assert_problem(await tenant.post("/v1/analytics/refresh", json={"as_of": tomorrow}), 422, "as_of")
    same_day = {"as_of": "2026-01-01", "calibration_end": "2026-01-01"}
    assert_problem(await tenant.post("/v1/analytics/refresh", json=same_day), 422, "calibration_end")
    assert_problem(await tenant.post("/v1/analytics/refresh", json={"as_of": "yesterday"}), 422, "as_of")
    assert_problem(await tenant.post("/v1/analytics/refresh", json={"as_of": "0001-01-01"}), 422, "as_of")
    assert_problem(await tenant.patch("/v1/settings/analytics", json={"default_margin": 1.5}), 422, "default_margin")
    assert_problem(
        await tenant.patch("/v1/settings/analytics", json={"month_length_days": 45}), 422, "month_length_days"
    )
    assert_problem(
        await tenant.patch("/v1/settings/analytics", json={"min_repeat_buyers": 1}), 422, "min_repeat_buyers"
    )
    assert_problem(await tenant.get("/v1/analytics/clv", params={"group_by": "planet"}), 422, "group_by")
    assert_problem(await tenant.get("/v1/analytics/clv"), 422, "group_by")
    reader = await tenant.key_with("analytics:read")
    assert_problem(await tenant.post("/v1/analytics/refresh", json={}, key=reader), 403)
    assert (await tenant.get("/v1/analytics/clv", params={"group_by": "tag"}, key=reader)).status_code == 404
    settings = (await tenant.get("/v1/settings/analytics")).json()
    assert (settings["default_margin"], settings["clv_horizon_months"], settings["month_length_days"]) == (0.3, 12, 30)


# -- a simulated workspace: the fitted model ----------------------------------------------------------


def simulated_orders(customers: int, seed: int) -> tuple[list[dict[str, Any]], list[tuple[int, int, int]]]:
    """Customers drawn from a BG/NBD process (days), as orders; also (customer, day, cents) rows."""
    rng = np.random.default_rng(seed)
    first = dt.date(2025, 1, 1)
    starts = rng.integers(0, 500, customers)
    ages = (AS_OF - first).days - starts + 60  # some purchases fall after AS_OF (the holdout)
    truth = bgnbd.BgNbdParams(r=0.9, alpha=40.0, a=0.5, b=2.5)
    orders, rows = [], []
    nu = rng.gamma(4.0, 1 / 20.0, customers)  # Gamma-Gamma spend: each customer's own scale
    for i in range(customers):
        times = [0.0]
        rate, dropout = rng.gamma(truth.r, 1 / truth.alpha), rng.beta(truth.a, truth.b)
        now = 0.0
        while True:
            now += rng.exponential(1 / rate)
            if now > ages[i]:
                break
            times.append(now)
            if rng.random() < dropout:
                break
        for j, t in enumerate(times):
            day = first + dt.timedelta(days=int(starts[i] + t))
            cents = max(round(100 * rng.gamma(6.0, 1 / nu[i])), 1)
            orders.append(order(f"{i}-{j}", f"c{i}", day, f"{cents // 100}.{cents % 100:02d}"))
            rows.append((i, day.toordinal(), cents))
    assert simulate  # the domain's simulator draws the same process (vectorised) for the unit tests
    return orders, rows


async def test_the_snapshot_is_the_domain_model_of_the_synced_orders(tenant: Tenant, database: Database) -> None:
    orders, rows = simulated_orders(400, seed=3)
    await sync(tenant, orders)
    await settle(tenant, min_repeat_buyers=30)
    calibration_end = dt.date(2026, 3, 31)
    await refresh(tenant, database, as_of=AS_OF.isoformat(), calibration_end=calibration_end.isoformat())

    customers, days, cents = (np.array(column) for column in zip(*rows, strict=True))
    summary = summarize(customers, days, cents / 100, AS_OF.toordinal())
    expected = bgnbd.fit(summary.frequency, summary.recency, summary.age)
    model = (await tenant.get("/v1/analytics/model")).json()
    assert model["model"] == "bgnbd" and model["spend_model"] == "gamma_gamma", model["model_reason"]
    assert model["customers"] == len(summary.customers)
    assert model["repeat_buyers"] == int((summary.frequency > 0).sum())
    for name in ("r", "alpha", "a", "b"):
        assert model["bgnbd"][name] == pytest.approx(getattr(expected.params, name), rel=1e-6)
    assert model["bgnbd"]["log_likelihood"] == pytest.approx(expected.log_likelihood, rel=1e-9)
    assert set(model["gamma_gamma"]) >= {"p", "q", "v", "log_likelihood", "customers"}

    # One customer with repeat purchases, through the value endpoint.
    index = int(np.flatnonzero(summary.frequency >= 2)[0])
    value = (await tenant.get(f"/v1/contacts/{await contact_id(tenant, f'c{summary.customers[index]}')}/value")).json()
    x, t_x, age = (np.array([v[index]]) for v in (summary.frequency, summary.recency, summary.age))
    predictive = value["predictive"]
    assert (predictive["frequency"], predictive["recency"], predictive["age"]) == (int(x[0]), int(t_x[0]), int(age[0]))
    assert predictive["p_alive"] == pytest.approx(bgnbd.p_alive(expected.params, x, t_x, age)[0], rel=1e-6)
    assert predictive["expected_purchases_365d"] == pytest.approx(
        bgnbd.expected_purchases(expected.params, x, t_x, age, 365.0)[0], rel=1e-6
    )
    assert 0 < predictive["expected_purchases_90d"] < predictive["expected_purchases_365d"]
    assert float(value["historic"]["revenue"]) == pytest.approx(summary.total_value[index], abs=0.005)

    # The holdout check: fitted on the purchases up to calibration_end, compared with those after.
    holdout = model["holdout"]
    assert holdout["calibration_end"] == "2026-03-31" and holdout["holdout_days"] == (AS_OF - calibration_end).days
    calibration = summarize(customers, days, cents / 100, calibration_end.toordinal())
    known = set(calibration.customers.tolist())
    after = {(c, day) for c, day, _ in rows if calibration_end.toordinal() < day <= AS_OF.toordinal() and c in known}
    assert holdout["actual"] == len(after) and holdout["customers"] == len(calibration.customers)
    assert [b["frequency"] for b in holdout["buckets"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(b["customers"] for b in holdout["buckets"]) == len(calibration.customers)
    assert holdout["model"] == "bgnbd"
    calibrated = bgnbd.fit(calibration.frequency, calibration.recency, calibration.age)
    assert holdout["bgnbd"]["r"] == pytest.approx(calibrated.params.r, rel=1e-6)
    assert holdout["predicted"] == pytest.approx(
        bgnbd.expected_purchases(calibrated.params, calibration.frequency, calibration.recency, calibration.age,
                                 float(holdout["holdout_days"])).sum(), rel=1e-6)  # fmt: skip

    # CLV by group: every customer is in one acquisition month; sums add up to the total.
    by_month = (await tenant.get("/v1/analytics/clv", params={"group_by": "acquisition_month"})).json()
    assert by_month["metric"] == "predicted_clv" and by_month["customers"] == len(summary.customers)
    assert sum(g["count"] for g in by_month["groups"]) == len(summary.customers)
    assert sum(float(g["sum"]) for g in by_month["groups"]) == pytest.approx(
        float(model["totals"]["predicted_clv"]["sum"]), abs=0.5
    )
    group = by_month["groups"][0]
    assert (
        float(group["percentiles"]["p10"]) <= float(group["percentiles"]["p50"]) <= float(group["percentiles"]["p90"])
    )


async def test_groups_by_channel_tag_and_country(tenant: Tenant, database: Database) -> None:
    d = dt.date
    await sync(tenant, [order("1", "a", d(2026, 1, 5), "10.00"), order("2", "b", d(2026, 2, 5), "20.00"),
                        order("3", "c", d(2026, 2, 6), "30.00")])  # fmt: skip
    a, b = await contact_id(tenant, "a"), await contact_id(tenant, "b")
    assert (
        await tenant.patch(f"/v1/contacts/{a}", json={"tags": ["vip", "legacy"], "country": "DE"})
    ).status_code == 200
    assert (await tenant.patch(f"/v1/contacts/{b}", json={"tags": ["vip"], "country": "DE"})).status_code == 200
    await refresh(tenant, database, as_of="2026-03-01")

    async def grouped(group_by: str, metric: str = "historic_revenue") -> dict[Any, tuple[int, str]]:
        body = (await tenant.get("/v1/analytics/clv", params={"group_by": group_by, "metric": metric})).json()
        return {g["key"]: (g["count"], g["sum"]) for g in body["groups"]}

    assert await grouped("tag") == {"vip": (2, "30.00"), "legacy": (1, "10.00"), None: (1, "30.00")}
    assert await grouped("country") == {"DE": (2, "30.00"), None: (1, "30.00")}
    assert await grouped("acquisition_channel") == {"shopify": (3, "60.00")}
    assert await grouped("acquisition_month") == {"2026-02": (2, "50.00"), "2026-01": (1, "10.00")}


async def test_only_the_latest_two_snapshots_are_kept(tenant: Tenant, database: Database) -> None:
    await sync(tenant, [order("1", "a", dt.date(2026, 1, 5), "10.00")])
    for as_of in ("2026-02-01", "2026-03-01", "2026-04-01"):
        await refresh(tenant, database, as_of=as_of)
    assert (await tenant.get("/v1/analytics/model")).json()["as_of"] == "2026-04-01"
    snapshots, values = tables.analytics_snapshots, tables.customer_values
    async with UnitOfWork(database, write=False) as uow:
        kept = (await uow.execute(
            select(snapshots.c.as_of).where(snapshots.c.workspace_id == UUID(tenant.id))
        )).scalars().all()  # fmt: skip
        values = (await uow.execute(
            select(func.count()).select_from(values).where(values.c.workspace_id == UUID(tenant.id))
        )).scalar_one()  # fmt: skip
    assert sorted(str(k) for k in kept) == ["2026-03-01", "2026-04-01"] and values == 2


async def test_a_snapshot_left_building_past_six_hours_is_discarded_even_when_refreshes_fail(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that died leaves its snapshot `building`; one older than the limit (6 hours) is a dead
    run's and goes with its values at the next refresh, whether that one completes or not; a run
    that fails drops its own. A younger one may be a live run's and stays."""
    from app.ids import utcnow
    from app.services.analytics import analytics, retention

    workspace = UUID(tenant.id)
    snapshots, values = tables.analytics_snapshots, tables.customer_values
    await sync(tenant, [order("1", "a", dt.date(2026, 1, 5), "10.00"), order("2", "b", dt.date(2026, 1, 9), "5.00")])
    dead = UUID((await refresh(tenant, database, as_of="2026-02-01"))["result"]["snapshot_id"])
    live = UUID((await refresh(tenant, database, as_of="2026-03-01"))["result"]["snapshot_id"])
    async with UnitOfWork(database) as uow:  # as runs that died mid-way (hours ago) and one still going left them
        for snapshot_id, age in ((dead, analytics.DEAD_RUN + dt.timedelta(minutes=5)), (live, dt.timedelta(hours=1))):
            await uow.execute(
                snapshots.update()
                .where(snapshots.c.workspace_id == workspace, snapshots.c.id == snapshot_id)
                .values(status="building", created_at=utcnow() - age)
            )
        await uow.commit()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the comparison with the previous snapshot failed")

    monkeypatch.setattr(retention, "compare", broken)  # fails after the run has written its values
    response = await tenant.post("/v1/analytics/refresh", json={"as_of": "2026-04-01"})
    await run_jobs(database)
    assert (await tenant.get(response.headers["location"])).json()["status"] == "failed"
    async with UnitOfWork(database, write=False) as uow:
        left = (await uow.execute(
            select(snapshots.c.id, snapshots.c.status).where(snapshots.c.workspace_id == workspace)
        )).all()  # fmt: skip
        valued = (await uow.execute(
            select(values.c.snapshot_id).distinct().where(values.c.workspace_id == workspace)
        )).scalars().all()  # fmt: skip
    assert [(row.id, row.status) for row in left] == [(live, "building")]
    assert list(valued) == [live]


async def test_a_large_orders_import_refreshes_the_analytics(tenant: Tenant, database: Database) -> None:
    await settle(tenant, refresh_after_import_rows=2)
    data = (b"Order,Status,Currency,Total,Placed,Email\n1,paid,USD,10.00,2026-01-01T10:00:00Z,a@x.io\n"
            b"2,paid,USD,12.00,2026-01-02T10:00:00Z,b@x.io\n")  # fmt: skip
    mapping = {"external_id": "Order", "status": "Status", "currency": "Currency", "total": "Total",
               "placed_at": "Placed", "customer_email": "Email"}  # fmt: skip
    response = await tenant.post(
        "/v1/imports", params={"entity": "orders", "default_source": "legacy"},
        data={"mapping": json.dumps(mapping)}, files={"file": ("o.csv", data, "text/csv")},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    await run_jobs(database)
    listed = (await tenant.get("/v1/jobs", params={"kind": "analytics.refresh"})).json()["data"]
    assert [j["status"] for j in listed] == ["succeeded"] and listed[0]["params"]["cause"] == "import"
    assert (await tenant.get("/v1/analytics/model")).json()["customers"] == 2


async def test_one_workspace_never_sees_anothers_analytics(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    await sync(tenant, [order("1", "a", dt.date(2026, 1, 5), "10.00")])
    await refresh(tenant, database, as_of="2026-02-01")
    mine = await contact_id(tenant, "a")
    assert_problem(await other_tenant.get(f"/v1/contacts/{mine}/value"), 404)
    assert_problem(await other_tenant.get("/v1/analytics/model"), 404)
    assert_problem(await other_tenant.get("/v1/analytics/clv", params={"group_by": "tag"}), 404)
    await refresh(other_tenant, database, as_of="2026-02-01")
    assert (await other_tenant.get("/v1/analytics/model")).json()["customers"] == 0
    assert (await tenant.get("/v1/analytics/model")).json()["customers"] == 1
