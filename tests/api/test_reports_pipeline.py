"""The pipeline report through HTTP on both databases, checked against a few opportunities worked
out by hand: stage and period sums (weighted exactly), placement (overdue, undated, outside),
conversion, the seeded forecast, win rates calibrated from the event log's stage history against
the fallback, every report filter (the lead ones through the deal's lead), a Jalali workspace's
months across Nowruz, CSV and PNG, bad input, scopes and tenancy."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from uuid import uuid4

import httpx
import pytest

from app.db import tables
from app.db.session import Database
from app.routers import dependencies
from tests.api.reporting import campaign_with, form_with, set_rows
from tests.conftest import Tenant, assert_problem, make_tenant


async def _deal(tenant: Tenant, stage: str = "prospecting", **fields: Any) -> str:
    body = {"name": f"Deal {stage}", "stage": stage, **fields}
    for key in ("expected_close_date",):
        if isinstance(body.get(key), dt.date):
            body[key] = body[key].isoformat()
    created = await tenant.post("/v1/opportunities", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _move(tenant: Tenant, deal: str, stage: str) -> None:
    changes: dict[str, Any] = {"stage": stage}
    if stage in ("won", "lost"):
        changes["close_reason"] = "price"
    answer = await tenant.patch(f"/v1/opportunities/{deal}", json=changes)
    assert answer.status_code == 200, answer.text


def _next_month(day: dt.date, months: int = 1) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


async def seeded(tenant: Tenant) -> dt.date:
    """Open deals (USD unless said), today the workspace's (UTC) date:
    - A prospecting 1000.00 (default 10%), closing on the 1st of next month (period 1);
    - B proposal 2000.00 at 60% (its own), period 1; H proposal 400.00 (50%), in three years (outside);
    - C negotiation 500.00 (75%), expected yesterday: overdue, placed today (period 0);
    - D qualification 300.00 (20%), no expected date (undated);
    - E prospecting without amount, the month after next (period 2);
    - F negotiation 100.00 EUR: no rate, left out.
    Not open: an archived proposal, a won and a lost deal."""
    today = dt.datetime.now(dt.UTC).date()
    await _deal(tenant, amount="1000.00", expected_close_date=_next_month(today))
    await _deal(tenant, "proposal", amount="2000.00", probability=60, expected_close_date=_next_month(today))
    await _deal(tenant, "proposal", amount="400.00", expected_close_date=today + dt.timedelta(days=3 * 366))
    await _deal(tenant, "negotiation", amount="500.00", expected_close_date=today - dt.timedelta(days=1))
    await _deal(tenant, "qualification", amount="300.00")
    await _deal(tenant, expected_close_date=_next_month(today, 2))
    await _deal(tenant, "negotiation", amount="100.00", currency="EUR", expected_close_date=_next_month(today))
    archived = await _deal(tenant, "proposal", amount="9999.00", expected_close_date=_next_month(today))
    assert (await tenant.delete(f"/v1/opportunities/{archived}")).status_code == 200
    await _move(tenant, await _deal(tenant, amount="7777.00", expected_close_date=today), "won")
    await _move(tenant, await _deal(tenant, amount="8888.00", expected_close_date=today), "lost")
    return today


async def test_the_pipeline_by_stage_and_period_adds_up_by_hand(tenant: Tenant) -> None:
    today = await seeded(tenant)
    answer = await tenant.get("/v1/reports/pipeline")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["from"], report["interval"], report["today"]) == (today.isoformat(), "month", today.isoformat())
    assert report["to"] == (_next_month(today, 6) - dt.timedelta(days=1)).isoformat()  # six months
    assert (report["currency"], report["seed"], report["draws"], report["basis"]) == ("USD", 1729, 10000, "calibrated")
    stages = {s["stage"]: s for s in report["stages"]}
    assert list(stages) == ["prospecting", "qualification", "proposal", "negotiation"]
    figures = {k: (s["count"], s["amount"], s["weighted_by_stage"], s["weighted_by_history"])
               for k, s in stages.items()}  # fmt: skip
    assert figures == {
        "prospecting": (2, "1000.00", "100.00", "100.00"),
        "qualification": (1, "300.00", "60.00", "60.00"),
        "proposal": (2, "2400.00", "1400.00", "1200.00"),  # 2000 x 60% + 400 x 50%; by the stage's 50%
        "negotiation": (1, "500.00", "375.00", "375.00"),  # the EUR deal left out
    }
    assert stages["prospecting"]["without_amount"] == 1
    # No closed deal was ever at a stage (the won and lost ones were created at prospecting but
    # one is not 20): every stage keeps its default probability.
    assert {k: (s["win_rate"], s["win_rate_source"]) for k, s in stages.items()} == {
        "prospecting": (0.1, "stage_probability"),
        "qualification": (0.2, "stage_probability"),
        "proposal": (0.5, "stage_probability"),
        "negotiation": (0.75, "stage_probability"),
    }
    assert (stages["prospecting"]["closed"], stages["prospecting"]["won"]) == (2, 1)

    periods = report["periods"]
    assert len(periods) == 6 and periods[0]["start_date"] == today.isoformat()
    assert periods[1]["start_date"] == _next_month(today).isoformat()
    rows = [(p["count"], p["overdue"], p["amount"], p["expected"]) for p in periods]
    assert rows[:3] == [(1, 1, "500.00", "375.00"), (2, 0, "3000.00", "1100.00"), (1, 0, "0.00", "0.00")]
    assert all(r == (0, 0, "0.00", "0.00") for r in rows[3:])
    # C alone in period 0, won with 75%: P10 nothing, P50 and P90 all of it.
    assert (periods[0]["p10"], periods[0]["p50"], periods[0]["p90"]) == ("0.00", "500.00", "500.00")
    assert all(float(p["p10"]) <= float(p["p50"]) <= float(p["p90"]) <= float(p["amount"]) for p in periods)
    assert report["undated"] == {"count": 1, "amount": "300.00", "expected": "60.00"}
    assert report["outside"] == {"count": 1, "amount": "400.00", "expected": "200.00"}
    total = report["total"]
    assert (total["count"], total["overdue"], total["amount"], total["expected"]) == (4, 1, "3500.00", "1475.00")
    assert sum(s["count"] for s in report["stages"]) == total["count"] + 2  # plus undated and outside
    assert report["unconverted"] == [{"currency": "EUR", "count": 1, "amount": "100.00"}]

    # A rate for the EUR deal brings it in, converted.
    rate = await tenant.post("/v1/exchange-rates", json={"currency": "EUR", "rate": "1.10",
                                                          "effective_on": today.isoformat()})  # fmt: skip
    assert rate.status_code in (200, 201), rate.text
    converted = (await tenant.get("/v1/reports/pipeline")).json()
    negotiation = next(s for s in converted["stages"] if s["stage"] == "negotiation")
    assert (negotiation["count"], negotiation["amount"], converted["unconverted"]) == (2, "610.00", [])

    # The same seed, the same draws; each deal's own probability on request.
    first = (await tenant.get("/v1/reports/pipeline", params={"seed": 7})).json()
    again = (await tenant.get("/v1/reports/pipeline", params={"seed": 7})).json()
    assert first["seed"] == 7 and [p["p50"] for p in first["periods"]] == [p["p50"] for p in again["periods"]]
    assert first["total"] == again["total"]
    own = (await tenant.get("/v1/reports/pipeline", params={"basis": "stage_probability"})).json()
    assert own["periods"][1]["expected"] == "1382.50"  # 1000 x 10% + 2000 x 60% + 110 (the EUR deal) x 75%

    # Weeks from a later day: overdue C is expected before the window (outside); A, B and the EUR deal inside.
    later = _next_month(today)
    weekly = (await tenant.get("/v1/reports/pipeline", params={"from": later.isoformat(), "interval": "week"})).json()
    assert len(weekly["periods"]) == 6 and weekly["periods"][0]["count"] == 3
    assert weekly["outside"]["count"] == 2  # C (placed today, before `from`) and H
    # Filters: the owner filter keeps nobody's deals when no deal has that owner.
    member = (await tenant.post("/v1/members", json={"name": "Sam", "email": "sam@example.com"})).json()
    owned = (await tenant.get("/v1/reports/pipeline", params={"owner_id": member["id"]})).json()
    assert owned["total"]["count"] == 0 and sum(s["count"] for s in owned["stages"]) == 0
    renewals = (await tenant.get("/v1/reports/pipeline", params={"type": "renewal"})).json()
    assert renewals["total"]["count"] == 0


async def test_win_rates_come_from_the_stage_history_of_closed_deals(tenant: Tenant) -> None:
    """20 closed deals were ever at proposal (12 moved there from prospecting, 8 created there), 15
    of them won: proposal's rate is (15 + 10 x 0.5) / (20 + 10) = 2/3 from history. Prospecting saw
    12 (9 won): under 20, its default 10% stays. Created won or lost, or archived: nowhere."""
    for n in range(12):
        deal = await _deal(tenant, amount="10.00")
        await _move(tenant, deal, "proposal")
        await _move(tenant, deal, "won" if n < 9 else "lost")
    for n in range(8):
        await _move(tenant, await _deal(tenant, "proposal", amount="10.00"), "won" if n < 6 else "lost")
    await _deal(tenant, "won", amount="10.00", close_reason="price")
    archived = await _deal(tenant, "proposal", amount="10.00")
    await _move(tenant, archived, "lost")
    assert (await tenant.delete(f"/v1/opportunities/{archived}")).status_code == 200
    today = dt.datetime.now(dt.UTC).date()
    await _deal(tenant, "proposal", amount="2000.00", probability=60, expected_close_date=today)
    await _deal(tenant, "proposal", amount="400.00", expected_close_date=today)

    report = (await tenant.get("/v1/reports/pipeline")).json()
    stages = {s["stage"]: s for s in report["stages"]}
    proposal, prospecting = stages["proposal"], stages["prospecting"]
    assert (proposal["closed"], proposal["won"], proposal["observed_win_rate"]) == (20, 15, 0.75)
    assert (proposal["win_rate"], proposal["win_rate_source"]) == (0.6667, "history")
    assert proposal["weighted_by_history"] == "1600.00"  # 2400 x 2/3
    assert proposal["weighted_by_stage"] == "1400.00"
    assert report["periods"][0]["expected"] == "1600.00"
    assert (prospecting["closed"], prospecting["won"], prospecting["observed_win_rate"]) == (12, 9, 0.75)
    assert (prospecting["win_rate"], prospecting["win_rate_source"]) == (0.1, "stage_probability")
    assert stages["negotiation"]["closed"] == 0 and stages["negotiation"]["observed_win_rate"] is None
    # By the deals' own probabilities instead: 2000 x 60% + 400 x 50%.
    own = (await tenant.get("/v1/reports/pipeline", params={"basis": "stage_probability"})).json()
    assert own["periods"][0]["expected"] == "1400.00"


async def test_csv_and_png(tenant: Tenant) -> None:
    await seeded(tenant)
    answer = await tenant.get("/v1/reports/pipeline", headers={"Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    by_stage = {r["key"]: r for r in rows if r["section"] == "stage"}
    assert (by_stage["proposal"]["amount"], by_stage["proposal"]["weighted_by_stage"]) == ("2400.00", "1400.00")
    periods = [r for r in rows if r["section"] == "period"]
    assert len(periods) == 6 and periods[1]["expected"] == "1100.00"
    assert next(r for r in rows if r["section"] == "undated")["count"] == "1"
    assert next(r for r in rows if r["section"] == "total")["amount"] == "3500.00"
    png = await tenant.get("/v1/reports/pipeline", headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 2000
    assert_problem(await tenant.get("/v1/reports/pipeline", headers={"Accept": "application/xml"}), 406)


async def test_bad_input_names_the_field(tenant: Tenant) -> None:
    url = "/v1/reports/pipeline"
    assert_problem(await tenant.get(url, params={"from": "2026-12-10", "to": "2026-12-01"}), 422, "from")
    assert_problem(await tenant.get(url, params={"from": "2020-01-01", "to": "2026-12-01", "interval": "day"}), 422,
                   "interval")  # fmt: skip
    assert_problem(await tenant.get(url, params={"interval": "fortnight"}), 422, "interval")
    assert_problem(await tenant.get(url, params={"seed": -1}), 422, "seed")
    assert_problem(await tenant.get(url, params={"basis": "hunch"}), 422, "basis")
    assert_problem(await tenant.get(url, params={"type": "gift"}), 422, "type")
    assert_problem(await tenant.get(url, params={"owner_id": "nobody"}), 422, "owner_id")
    assert_problem(await tenant.get(url, params={"to": "soon"}), 422, "to")


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    await seeded(other_tenant)
    mine = (await tenant.get("/v1/reports/pipeline")).json()
    assert mine["total"]["count"] == 0 and all(s["count"] == 0 and s["closed"] == 0 for s in mine["stages"])
    assert mine["undated"]["count"] == 0 and mine["unconverted"] == []
    deals_only = await tenant.key_with("opportunities:read")
    assert_problem(await tenant.get("/v1/reports/pipeline", key=deals_only), 403)
    reader = await tenant.key_with("reports:read")
    assert (await tenant.get("/v1/reports/pipeline", key=reader)).status_code == 200


async def _qualified(tenant: Tenant, owner: str, source: str, amount: str, close: dt.date) -> tuple[str, str]:
    """A lead (its owner, source) qualified into an open deal closing on `close`: (lead, deal)."""
    body = {"first_name": source, "email": f"{source}-{amount}@example.com", "source": source, "owner_id": owner}
    lead = await tenant.post("/v1/leads", json=body)
    assert lead.status_code == 201, lead.text
    qualified = await tenant.post(f"/v1/leads/{lead.json()['id']}/qualify", json={"opportunity": {"amount": amount}})
    assert qualified.status_code in (200, 201), qualified.text
    deal = qualified.json()["opportunity_id"]
    changes = {"owner_id": owner, "expected_close_date": close.isoformat()}
    changed = await tenant.patch(f"/v1/opportunities/{deal}", json=changes)
    assert changed.status_code == 200, changed.text
    return str(lead.json()["id"]), str(deal)


async def test_every_report_filter_through_the_deals_lead(database: Database, tenant: Tenant,
                                                          other_tenant: Tenant) -> None:  # fmt: skip
    """Ana (the Sales team) owns a web-form lead's 100.00 deal and a 400.00 one without a lead; Bo a
    referral's 200.00 deal (utm_campaign `spring`, messaged by a campaign, and in a form)."""
    today = dt.datetime.now(dt.UTC).date()
    close = _next_month(today)
    ana = (await tenant.post("/v1/members", json={"name": "Ana", "email": "ana@team.io"})).json()["id"]
    bo = (await tenant.post("/v1/members", json={"name": "Bo", "email": "bo@team.io"})).json()["id"]
    team = (await tenant.post("/v1/teams", json={"name": "Sales", "member_ids": [ana]})).json()["id"]
    web, _ = await _qualified(tenant, ana, "web_form", "100.00", close)
    referral, _ = await _qualified(tenant, bo, "referral", "200.00", close)
    await _deal(tenant, amount="400.00", owner_id=ana, expected_close_date=close)
    await set_rows(database, tables.leads, referral, utm_campaign="spring")
    form = await form_with(tenant, database, [referral], spam=(web,))
    campaign = await campaign_with(tenant, database, [referral], held_out=(web,))

    async def total(**params: Any) -> tuple[int, str]:
        answer = await tenant.get("/v1/reports/pipeline", params=params)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert sum(s["count"] for s in report["stages"]) == report["total"]["count"]  # all dated, inside
        return report["total"]["count"], report["total"]["amount"]

    assert await total() == (3, "700.00")
    assert await total(source="web_form") == (1, "100.00")  # the deal without a lead never matches
    assert await total(team_id=team) == (2, "500.00")  # the deals its members own
    assert await total(team_id=team, owner_id=bo) == (0, "0.00")
    assert await total(owner_id=bo) == (1, "200.00")
    assert await total(utm_campaign="spring") == (1, "200.00")
    assert await total(form_id=form) == (1, "200.00")
    assert await total(campaign_id=campaign) == (1, "200.00")
    assert await total(campaign_id=campaign, team_id=team) == (0, "0.00")
    assert await total(source="web_form", type="renewal") == (0, "0.00")
    theirs = await form_with(other_tenant, database, [])
    assert_problem(await tenant.get("/v1/reports/pipeline", params={"form_id": theirs}), 422, "form_id")
    unknown = {"team_id": str(uuid4()), "campaign_id": str(uuid4()), "owner_id": str(uuid4())}
    assert_problem(await tenant.get("/v1/reports/pipeline", params=unknown), 422, "team_id", "campaign_id", "owner_id")


async def test_jalali_months_across_nowruz(
    database: Database, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Today 2026-03-10 in Tehran: by month, Esfand 1404 cut at today (to the 20th), Farvardin 1405
    (March 21 to April 20), Ordibehesht..."""
    monkeypatch.setattr(dependencies, "utcnow", lambda: dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))
    shop = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    for day, amount in (("2026-03-20", "100.00"), ("2026-03-21", "200.00"), ("2026-04-20", "300.00"),
                        ("2026-04-21", "400.00")):  # fmt: skip
        await _deal(shop, "negotiation", amount=amount, expected_close_date=dt.date.fromisoformat(day))
    report = (await shop.get("/v1/reports/pipeline")).json()
    assert report["today"] == "2026-03-10"
    assert [(p["label"], p["display_label"], p["start_date"], p["end_date"], p["count"], p["amount"])
            for p in report["periods"][:3]] == [
        ("1404-12", "اسفند ۱۴۰۴", "2026-03-10", "2026-03-20", 1, "100.00"),
        ("1405-01", "فروردین ۱۴۰۵", "2026-03-21", "2026-04-20", 2, "500.00"),
        ("1405-02", "اردیبهشت ۱۴۰۵", "2026-04-21", "2026-05-21", 1, "400.00"),
    ]  # fmt: skip
    assert report["periods"][1]["expected"] == "375.00"  # 500 x 75%
