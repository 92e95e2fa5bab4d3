"""The funnel report through HTTP on both databases, checked against a small workspace counted by
hand: stages, rates, times, periods, groups, modes, CSV and PNG, scopes and tenancy."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from uuid import UUID

from sqlalchemy import update

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from tests.api.test_analytics import contact_id, order, sync
from tests.conftest import Tenant, assert_problem

HOUR, DAY = 3600, 86400


async def _lead(tenant: Tenant, n: int, **fields: Any) -> str:
    body = {"first_name": f"L{n}", "email": f"lead{n}@example.com", "source": "web_form", **fields}
    created = await tenant.post("/v1/leads", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _set(database: Database, table: Any, condition: Any, **values: Any) -> None:
    async with UnitOfWork(database) as uow:
        await uow.execute(update(table).where(condition).values(**values))
        await uow.commit()


def _at(day: str, seconds: int = 0) -> dt.datetime:
    """Noon UTC of an ISO day, plus `seconds`."""
    return dt.datetime.fromisoformat(f"{day}T12:00:00+00:00") + dt.timedelta(seconds=seconds)


async def seeded(tenant: Tenant) -> dict[str, Any]:
    """Ten leads: five reach MQL, three of them SQL, two of those are qualified into opportunities,
    one of which is won and its contact buys (a customer). Leads 8-9 come from referrals."""
    ids = [await _lead(tenant, n, **({"source": "referral"} if n >= 8 else {})) for n in range(10)]
    for n in range(5):
        answer = await tenant.patch(f"/v1/leads/{ids[n]}", json={"stage": "mql"})
        assert answer.status_code == 200, answer.text
    for n in range(3):
        assert (await tenant.patch(f"/v1/leads/{ids[n]}", json={"stage": "sql"})).status_code == 200
    qualified = []
    for n in range(2):
        answer = await tenant.post(f"/v1/leads/{ids[n]}/qualify", json={"opportunity": {"amount": "100"}})
        assert answer.status_code == 200, answer.text
        qualified.append(answer.json())
    deal = qualified[0]["opportunity_id"]
    won = await tenant.patch(f"/v1/opportunities/{deal}", json={"stage": "won", "close_reason": "price"})
    assert won.status_code == 200, won.text
    # Bought just after its lead came in (a purchase before the lead would be an old customer's).
    now = dt.datetime.now(dt.UTC)
    placed = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    await sync(tenant, [order("o-1", "lead0", now.date(), "30.00", placed_at=placed, source_updated_at=placed)])
    return {"ids": ids, "qualified": qualified}


async def test_the_funnel_counts_each_stage_as_reached_or_passed(tenant: Tenant) -> None:
    await seeded(tenant)
    answer = await tenant.get("/v1/reports/funnel", params={"interval": "day"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    counts = {s["stage"]: s["count"] for s in report["stages"]}
    assert counts == {"lead": 10, "mql": 5, "sql": 3, "opportunity": 2, "won": 1, "customer": 1}
    rates = [s["rate_from_previous"] for s in report["stages"]]
    assert rates == [None, 0.5, 0.6, 0.6667, 0.5, 1.0]
    assert all(s["median_seconds_from_previous"] is None or s["median_seconds_from_previous"] >= 0
               for s in report["stages"])  # fmt: skip
    assert report["stages"][1]["median_seconds_from_previous"] is not None  # lead → MQL, seconds apart
    assert report["conversion"] == {"rate": 0.1, "typical": 0.05, "good_low": 0.2, "good_high": 0.35,
                                    "standing": "typical"}  # fmt: skip
    assert (report["mode"], report["interval"]) == ("cohort", "day")
    assert report["from"] == (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=89)).isoformat()
    assert len(report["periods"]) == 90
    assert report["periods"][0]["label"] == report["from"]  # the range's first day, named "from"
    today = report["periods"][-1]
    assert today["label"] == report["to"] and (today["lead"], today["customer"]) == (10, 1)
    assert sum(p["lead"] for p in report["periods"]) == 10

    grouped = (await tenant.get("/v1/reports/funnel", params={"group_by": "source"})).json()
    by_source = {g["key"]: {s["stage"]: s["count"] for s in g["stages"]} for g in grouped["groups"]}
    assert by_source["web_form"]["lead"] == 8 and by_source["referral"]["lead"] == 2
    assert by_source["referral"]["mql"] == 0 and by_source["web_form"]["customer"] == 1
    filtered = (await tenant.get("/v1/reports/funnel", params={"source": "referral"})).json()
    assert {s["stage"]: s["count"] for s in filtered["stages"]}["lead"] == 2

    activity = (await tenant.get("/v1/reports/funnel", params={"mode": "activity"})).json()
    assert {s["stage"]: s["count"] for s in activity["stages"]} == counts  # all happened in the range
    # Leads created before the range are not in the cohort.
    later = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    empty = (await tenant.get("/v1/reports/funnel", params={"from": later, "to": later})).json()
    assert [s["count"] for s in empty["stages"]] == [0] * 6 and empty["conversion"]["standing"] == "no_leads"


async def test_csv_and_png(tenant: Tenant) -> None:
    await seeded(tenant)
    answer = await tenant.get("/v1/reports/funnel", params={"interval": "month"}, headers={"Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    total = next(r for r in rows if r["section"] == "total")
    assert (total["lead"], total["mql"], total["customer"]) == ("10", "5", "1")
    assert sum(int(r["lead"]) for r in rows if r["section"] == "period") == 10
    png = await tenant.get("/v1/reports/funnel", headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 2000
    assert_problem(await tenant.get("/v1/reports/funnel", headers={"Accept": "application/xml"}), 406)


async def test_bad_input_names_the_field(tenant: Tenant) -> None:
    backwards = {"from": "2026-12-10", "to": "2026-12-01"}
    assert_problem(await tenant.get("/v1/reports/funnel", params=backwards), 422, "from")
    assert_problem(await tenant.get("/v1/reports/funnel", params={"from": "2020-01-01", "to": "2026-12-01",
                                                                 "interval": "day"}), 422, "interval")  # fmt: skip
    assert_problem(await tenant.get("/v1/reports/funnel", params={"interval": "fortnight"}), 422, "interval")
    assert_problem(await tenant.get("/v1/reports/funnel", params={"mode": "both"}), 422, "mode")
    assert_problem(await tenant.get("/v1/reports/funnel", params={"from": "yesterday"}), 422, "from")
    assert_problem(await tenant.get("/v1/reports/funnel", params={"to": "9999-12-31"}), 422, "to")
    assert_problem(await tenant.get("/v1/reports/funnel", params={"from": "0001-01-01"}), 422, "from")
    assert_problem(await tenant.get("/v1/calendar/holidays", params={"from": "9999-06-01"}), 422, "from")


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    await seeded(other_tenant)
    mine = (await tenant.get("/v1/reports/funnel")).json()
    assert [s["count"] for s in mine["stages"]] == [0] * 6  # the other workspace's leads are not counted
    leads_only = await tenant.key_with("leads:read")
    assert_problem(await tenant.get("/v1/reports/funnel", key=leads_only), 403)
    reader = await tenant.key_with("reports:read")
    assert (await tenant.get("/v1/reports/funnel", key=reader)).status_code == 200


async def _stage_at(database: Database, lead: str, stage: str, moment: dt.datetime) -> None:
    """Back-dates the lead's change to `stage` (made through the API) to `moment`."""
    sc = tables.lead_state_changes
    changed = (sc.c.lead_id == UUID(lead)) & (sc.c.kind == "stage") & (sc.c.to_value == stage)
    await _set(database, sc, changed, occurred_at=moment)


async def test_activity_counts_leads_created_before_the_range_by_when_they_reach_each_stage(
    database: Database, tenant: Tenant
) -> None:
    """The range is June 2026 (the workspace's time zone is UTC). Leads A-D were created on May 31
    and reach MQL 1-4 days later (June 1-4); A, B and C reach SQL 1, 5 and 10 hours after their MQL;
    H was created May 29, reached MQL on May 30 and SQL on June 5. A's and B's opportunities come 1
    and 3 days after their SQL, A's is won 2 days later. E is created on June 10 and reaches MQL 6
    hours on; G was created and reached MQL in May. Cohort: only E. Activity: every stage reached in
    June, its time from the previous stage over the leads reaching it in June (nearest rank)."""
    names = "ABCDEGH"
    leads = {name: await _lead(tenant, n, first_name=name) for n, name in enumerate(names)}
    for name in names:
        assert (await tenant.patch(f"/v1/leads/{leads[name]}", json={"stage": "mql"})).status_code == 200
    for name in "ABCH":
        assert (await tenant.patch(f"/v1/leads/{leads[name]}", json={"stage": "sql"})).status_code == 200
    deals = {}
    for name in "AB":
        answer = await tenant.post(f"/v1/leads/{leads[name]}/qualify", json={"opportunity": {"amount": "100"}})
        assert answer.status_code == 200, answer.text
        deals[name] = answer.json()["opportunity_id"]
    won = await tenant.patch(f"/v1/opportunities/{deals['A']}", json={"stage": "won", "close_reason": "price"})
    assert won.status_code == 200, won.text

    created = {name: _at("2026-05-31") for name in "ABCD"} | {
        "E": _at("2026-06-10"), "G": _at("2026-05-20"), "H": _at("2026-05-29")
    }  # fmt: skip
    mql = {"A": _at("2026-06-01"), "B": _at("2026-06-02"), "C": _at("2026-06-03"), "D": _at("2026-06-04"),
           "E": _at("2026-06-10", 6 * HOUR), "G": _at("2026-05-25"), "H": _at("2026-05-30")}  # fmt: skip
    sql = {"A": mql["A"] + dt.timedelta(hours=1), "B": mql["B"] + dt.timedelta(hours=5),
           "C": mql["C"] + dt.timedelta(hours=10), "H": _at("2026-06-05")}  # fmt: skip
    opportunity = {"A": sql["A"] + dt.timedelta(days=1), "B": sql["B"] + dt.timedelta(days=3)}
    for name, moment in created.items():
        await _set(database, tables.leads, tables.leads.c.id == UUID(leads[name]), created_at=moment)
    for name, moment in mql.items():
        await _stage_at(database, leads[name], "mql", moment)
    for name, moment in sql.items():
        await _stage_at(database, leads[name], "sql", moment)
    op = tables.opportunities
    for name, moment in opportunity.items():
        await _set(database, op, op.c.id == UUID(deals[name]), created_at=moment)
    await _set(database, op, op.c.id == UUID(deals["A"]), closed_at=opportunity["A"] + dt.timedelta(days=2))

    june = {"from": "2026-06-01", "to": "2026-06-30", "interval": "day"}

    def figures(report: dict[str, Any]) -> dict[str, tuple[int, int | None, int | None]]:
        return {s["stage"]: (s["count"], s["median_seconds_from_previous"], s["p90_seconds_from_previous"])
                for s in report["stages"]}  # fmt: skip

    cohort = (await tenant.get("/v1/reports/funnel", params=june)).json()
    assert figures(cohort) == {
        "lead": (1, None, None), "mql": (1, 6 * HOUR, 6 * HOUR), "sql": (0, None, None),
        "opportunity": (0, None, None), "won": (0, None, None), "customer": (0, None, None),
    }  # fmt: skip
    activity = (await tenant.get("/v1/reports/funnel", params={**june, "mode": "activity"})).json()
    assert figures(activity) == {
        "lead": (1, None, None),
        # 6 hours, 1, 2, 3 and 4 days: the 3rd and the 5th of 5.
        "mql": (5, 2 * DAY, 4 * DAY),
        # A 1, B 5, C 10 hours, H 6 days: the 2nd and the 4th of 4.
        "sql": (4, 5 * HOUR, 6 * DAY),
        # A 1 day, B 3 days: the 1st and the 2nd of 2.
        "opportunity": (2, DAY, 3 * DAY),
        "won": (1, 2 * DAY, 2 * DAY),
        "customer": (0, None, None),
    }
    by_day = {p["label"]: p for p in activity["periods"]}
    assert [by_day[f"2026-06-0{d}"]["mql"] for d in range(1, 6)] == [1, 1, 1, 1, 0]
    assert (by_day["2026-06-05"]["sql"], by_day["2026-06-10"]["mql"], by_day["2026-06-10"]["lead"]) == (1, 1, 1)
    assert by_day["2026-06-02"]["opportunity"] == 1 and by_day["2026-06-04"]["won"] == 1  # A: June 1 + 1h + 1d + 2d
    assert activity["mode"] == "activity" and cohort["mode"] == "cohort"


async def test_a_returning_customer_is_not_a_customer_the_lead_made(database: Database, tenant: Tenant) -> None:
    """A lead qualified into a contact that first bought before the lead came: its open deal counts
    at `opportunity`, not at `won` or `customer`. A lead whose contact first buys after it came
    counts at `customer` (and, through it, at `won`)."""
    today = dt.datetime.now(dt.UTC).date()
    await sync(tenant, [order("o-1", "old", today - dt.timedelta(days=30), "30.00")])
    returning = await _lead(tenant, 1, email="old@example.com")
    qualified = await tenant.post(
        f"/v1/leads/{returning}/qualify",
        json={"contact_id": await contact_id(tenant, "old"), "opportunity": {"amount": "100"}},
    )
    assert qualified.status_code == 200, qualified.text
    answer = await tenant.get("/v1/reports/funnel")
    assert answer.status_code == 200, answer.text
    counts = {s["stage"]: s["count"] for s in answer.json()["stages"]}
    assert counts == {"lead": 1, "mql": 1, "sql": 1, "opportunity": 1, "won": 0, "customer": 0}

    fresh = await _lead(tenant, 2, email="new@example.com")
    assert (await tenant.post(f"/v1/leads/{fresh}/qualify", json={"opportunity": None})).status_code == 200
    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    await _set(database, tables.leads, tables.leads.c.id == UUID(fresh), created_at=two_days_ago)
    await sync(tenant, [order("o-2", "new", today, "40.00")])
    for mode in ("cohort", "activity"):
        report = (await tenant.get("/v1/reports/funnel", params={"mode": mode})).json()
        counts = {s["stage"]: s["count"] for s in report["stages"]}
        assert counts == {"lead": 2, "mql": 2, "sql": 2, "opportunity": 2, "won": 1, "customer": 1}, mode


async def test_the_accept_header_is_weighed(tenant: Tenant) -> None:
    """q-values, wildcards and q=0 count; JSON first among equals; a report without a chart refuses
    image/* alone."""

    async def kind(url: str, accept: str) -> str:
        answer = await tenant.get(url, headers={"Accept": accept})
        assert answer.status_code == 200, (accept, answer.text)
        return answer.headers["content-type"].split(";")[0]

    funnel, products = "/v1/reports/funnel", "/v1/reports/products"
    assert await kind(funnel, "text/csv;q=0, application/json") == "application/json"
    assert await kind(funnel, "application/json;q=0.5, text/csv") == "text/csv"
    assert await kind(funnel, "image/*") == "image/png"
    assert await kind(funnel, "*/*") == "application/json"
    assert await kind(funnel, "text/csv, */*;q=0.8") == "text/csv"
    assert await kind(products, "image/*;q=1, text/*;q=0.2") == "text/csv"
    assert await kind(products, "application/problem+json") == "application/json"
    for url, accept in ((funnel, "text/csv;q=0"), (products, "image/*"), (funnel, "*/*;q=0")):
        assert_problem(await tenant.get(url, headers={"Accept": accept}), 406)
