"""The funnel report through HTTP on both databases, checked against a small workspace counted by
hand: stages, rates, times, periods, groups, modes, CSV and PNG, scopes and tenancy."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from tests.api.test_analytics import order, sync
from tests.conftest import Tenant, assert_problem


async def _lead(tenant: Tenant, n: int, **fields: Any) -> str:
    body = {"first_name": f"L{n}", "email": f"lead{n}@example.com", "source": "web_form", **fields}
    created = await tenant.post("/v1/leads", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


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
    today = dt.datetime.now(dt.UTC).date()
    await sync(tenant, [order("o-1", "lead0", today, "30.00")])
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
