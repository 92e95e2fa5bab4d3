"""The win/loss report through HTTP on both databases, checked against a small workspace counted by
hand: totals, reasons, owners, sources, amounts in the reporting currency (another currency
converted at the rate of the day each closed, counted apart without one), periods of back-dated
closes (and a Jalali workspace's months across Nowruz), every report filter, CSV, bad input, scopes
and tenancy."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from uuid import UUID, uuid4

import httpx
from sqlalchemy import update

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from tests.api.reporting import campaign_with, form_with, rate, set_rows
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.documented import assert_documented

URL = "/v1/reports/win-loss"


async def _created(tenant: Tenant, url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await tenant.post(url, json=body)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


async def _closed(tenant: Tenant, owner: str | None, stage: str, reason: str, **fields: Any) -> str:
    """An opportunity created open and then closed (as people close them)."""
    deal = await _created(tenant, "/v1/opportunities", {"name": f"{stage} {reason}", "owner_id": owner, **fields})
    closed = await tenant.patch(f"/v1/opportunities/{deal['id']}", json={"stage": stage, "close_reason": reason})
    assert closed.status_code == 200, closed.text
    return str(deal["id"])


async def seeded(tenant: Tenant) -> dict[str, Any]:
    """Two members (Ana in the Sales team, Bo) and, closed today:
    - won: Ana's deal of lead 1 (web_form) 100.00 `price`; Ana's 40.00 without a lead `relationship`;
      Bo's 1000.00 EUR without a lead `price` (another currency: counted, not added);
    - lost: Bo's deal of lead 2 (referral) 250.50 `no_budget`; Ana's without amount nor lead `price`;
    - disqualified: Bo's lead 3 (web_form) `no_budget`, lead 4 (referral, no owner) `not_interested`;
    - left out: an open deal, an archived won one, an open lead."""
    ana = (await _created(tenant, "/v1/members", {"name": "Ana", "email": "ana@team.io"}))["id"]
    bo = (await _created(tenant, "/v1/members", {"name": "Bo", "email": "bo@team.io"}))["id"]
    team = (await _created(tenant, "/v1/teams", {"name": "Sales", "member_ids": [ana]}))["id"]
    leads = []
    for n, (source, owner) in enumerate([("web_form", ana), ("referral", bo), ("web_form", bo), ("referral", None),
                                         ("web_form", ana)], start=1):  # fmt: skip
        body = {"first_name": f"L{n}", "email": f"wl{n}@example.com", "source": source, "owner_id": owner}
        leads.append((await _created(tenant, "/v1/leads", body))["id"])
    deals = []
    for lead, amount in ((leads[0], "100"), (leads[1], "250.50")):
        qualified = await _created(tenant, f"/v1/leads/{lead}/qualify", {"opportunity": {"amount": amount}})
        deals.append(qualified["opportunity_id"])
    for deal, stage, reason in ((deals[0], "won", "price"), (deals[1], "lost", "no_budget")):
        closed = await tenant.patch(f"/v1/opportunities/{deal}", json={"stage": stage, "close_reason": reason})
        assert closed.status_code == 200, closed.text
    deals.append(await _closed(tenant, ana, "won", "relationship", amount="40"))
    deals.append(await _closed(tenant, bo, "won", "price", amount="1000", currency="EUR"))
    deals.append(await _closed(tenant, ana, "lost", "price"))
    await _created(tenant, "/v1/opportunities", {"name": "Open", "owner_id": ana, "amount": "999"})
    archived = await _closed(tenant, ana, "won", "price", amount="5000")
    assert (await tenant.delete(f"/v1/opportunities/{archived}")).status_code in (200, 204)
    for lead, reason in ((leads[2], "no_budget"), (leads[3], "not_interested")):
        await _created(tenant, f"/v1/leads/{lead}/disqualify", {"reason": reason})
    return {"ana": ana, "bo": bo, "team": team, "leads": leads, "deals": deals}


def _outcomes(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["won"]["count"], entry["won"]["amount"], entry["lost"]["count"], entry["lost"]["amount"],
            entry["win_rate"], entry["disqualified"]["count"])  # fmt: skip


async def test_won_lost_and_disqualified_by_reason_owner_and_source(tenant: Tenant) -> None:
    seed = await seeded(tenant)
    answer = await tenant.get(URL, params={"interval": "day"})
    assert answer.status_code == 200, answer.text
    assert_documented(answer, "/v1/reports/win-loss")
    report = answer.json()
    assert report["currency"] == "USD" and report["interval"] == "day"
    assert report["won"] == {"count": 3, "amount": "140.00", "other_currency_count": 1, "unconverted_count": 1}
    assert report["lost"] == {"count": 2, "amount": "250.50", "other_currency_count": 0, "unconverted_count": 0}
    assert report["win_rate"] == 0.6 and report["disqualified"] == {"count": 2}
    assert report["by_reason"] == [
        {"outcome": "won", "reason": "price", "count": 2, "amount": "100.00"},
        {"outcome": "won", "reason": "relationship", "count": 1, "amount": "40.00"},
        {"outcome": "lost", "reason": "no_budget", "count": 1, "amount": "250.50"},
        {"outcome": "lost", "reason": "price", "count": 1, "amount": "0.00"},
        {"outcome": "disqualified", "reason": "no_budget", "count": 1, "amount": None},
        {"outcome": "disqualified", "reason": "not_interested", "count": 1, "amount": None},
    ]
    owners = {o["owner_id"]: o for o in report["by_owner"]}
    assert _outcomes(owners[seed["ana"]]) == (2, "140.00", 1, "0.00", 0.6667, 0)
    assert owners[seed["ana"]]["name"] == "Ana"
    assert _outcomes(owners[seed["bo"]]) == (1, "0.00", 1, "250.50", 0.5, 1)
    assert owners[seed["bo"]]["won"]["other_currency_count"] == 1
    assert _outcomes(owners[None]) == (0, "0.00", 0, "0.00", None, 1) and owners[None]["name"] is None
    assert report["by_owner"][-1]["owner_id"] is None  # the fewest outcomes last
    sources = [(s["source"], *_outcomes(s)) for s in report["by_source"]]
    assert sources[0] == (None, 2, "40.00", 1, "0.00", 0.6667, 0)  # the deals without a lead, the most
    assert set(sources[1:]) == {("web_form", 1, "100.00", 0, "0.00", 1.0, 1), ("referral", 0, "0.00", 1, "250.50",
                                                                                0.0, 1)}  # fmt: skip
    assert len(report["periods"]) == 90
    today = report["periods"][-1]
    assert today["label"] == report["to"]
    assert (today["won"], today["won_amount"], today["lost"], today["lost_amount"], today["win_rate"],
            today["disqualified"]) == (3, "140.00", 2, "250.50", 0.6, 2)  # fmt: skip
    assert sum(p["won"] + p["lost"] + p["disqualified"] for p in report["periods"]) == 7


async def test_filters_by_owner_team_and_source(tenant: Tenant, other_tenant: Tenant) -> None:
    seed = await seeded(tenant)
    ana = (await tenant.get(URL, params={"owner_id": seed["ana"]})).json()
    assert _outcomes(ana) == (2, "140.00", 1, "0.00", 0.6667, 0)
    assert [o["owner_id"] for o in ana["by_owner"]] == [seed["ana"]]
    team = (await tenant.get(URL, params={"team_id": seed["team"]})).json()
    assert _outcomes(team) == _outcomes(ana)  # Sales is Ana
    neither = (await tenant.get(URL, params={"team_id": seed["team"], "owner_id": seed["bo"]})).json()
    assert _outcomes(neither) == (0, "0.00", 0, "0.00", None, 0) and neither["by_reason"] == []
    referral = (await tenant.get(URL, params={"source": "referral"})).json()
    assert _outcomes(referral) == (0, "0.00", 1, "250.50", 0.0, 1)  # deals without a lead have no source
    assert [s["source"] for s in referral["by_source"]] == ["referral"]
    web = (await tenant.get(URL, params={"source": "web_form", "owner_id": seed["bo"]})).json()
    assert _outcomes(web) == (0, "0.00", 0, "0.00", None, 1)
    unknown = (await other_tenant.post("/v1/teams", json={"name": "Theirs", "member_ids": []})).json()["id"]
    assert_problem(await tenant.get(URL, params={"team_id": unknown}), 422, "team_id")


async def _set(database: Database, table: Any, row_id: str, **values: Any) -> None:
    async with UnitOfWork(database) as uow:
        await uow.execute(update(table).where(table.c.id == UUID(row_id)).values(**values))
        await uow.commit()


async def test_periods_by_the_day_each_closed(database: Database, tenant: Tenant) -> None:
    seed = await seeded(tenant)
    at = dt.datetime
    deals, leads = seed["deals"], seed["leads"]
    await _set(database, tables.opportunities, deals[0], closed_at=at(2025, 1, 10, 9, tzinfo=dt.UTC))  # won 100
    await _set(database, tables.opportunities, deals[1], closed_at=at(2025, 2, 3, tzinfo=dt.UTC))  # lost 250.50
    await _set(database, tables.opportunities, deals[2], closed_at=at(2025, 2, 28, 23, 59, tzinfo=dt.UTC))  # won 40
    await _set(database, tables.opportunities, deals[4], closed_at=at(2025, 4, 1, tzinfo=dt.UTC))  # after the range
    await _set(database, tables.leads, leads[2], disqualified_at=at(2025, 3, 31, 23, 0, tzinfo=dt.UTC))
    await _set(database, tables.leads, leads[3], disqualified_at=at(2024, 12, 31, 23, 59, tzinfo=dt.UTC))  # before
    params = {"from": "2025-01-01", "to": "2025-03-31", "interval": "month"}
    report = (await tenant.get(URL, params=params)).json()
    periods = [(p["label"], p["start_date"], p["end_date"], p["won"], p["won_amount"], p["lost"], p["lost_amount"],
                p["win_rate"], p["disqualified"]) for p in report["periods"]]  # fmt: skip
    assert periods == [
        ("2025-01", "2025-01-01", "2025-01-31", 1, "100.00", 0, "0.00", 1.0, 0),
        ("2025-02", "2025-02-01", "2025-02-28", 1, "40.00", 1, "250.50", 0.5, 0),
        ("2025-03", "2025-03-01", "2025-03-31", 0, "0.00", 0, "0.00", None, 1),
    ]
    assert _outcomes(report) == (2, "140.00", 1, "250.50", 0.6667, 1)
    assert report["periods"][0]["display_label"] == "January 2025"
    # Today's range keeps only Bo's EUR deal, closed today.
    today = (await tenant.get(URL)).json()
    assert _outcomes(today) == (1, "0.00", 0, "0.00", 1.0, 0) and today["won"]["other_currency_count"] == 1


async def test_csv(tenant: Tenant) -> None:
    seed = await seeded(tenant)
    answer = await tenant.get(URL, params={"interval": "month"}, headers={"Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    total = next(r for r in rows if r["section"] == "total")
    assert [total[k] for k in ("won", "won_amount", "lost", "lost_amount", "win_rate", "disqualified")] == [
        "3", "140.00", "2", "250.50", "0.6", "2"
    ]  # fmt: skip
    reasons = [(r["outcome"], r["key"], r["won"], r["won_amount"], r["lost"], r["disqualified"])
               for r in rows if r["section"] == "reason"]  # fmt: skip
    assert reasons[0] == ("won", "price", "2", "100.00", "", "")
    assert ("disqualified", "not_interested", "", "", "", "1") in reasons and len(reasons) == 6
    ana = next(r for r in rows if r["section"] == "owner" and r["key"] == seed["ana"])
    assert (ana["name"], ana["won"], ana["won_amount"], ana["lost"]) == ("Ana", "2", "140.00", "1")
    assert {r["key"] for r in rows if r["section"] == "source"} == {"", "web_form", "referral"}
    assert sum(int(r["won"]) for r in rows if r["section"] == "period") == 3
    assert_problem(await tenant.get(URL, headers={"Accept": "image/png"}), 406)


async def test_bad_input_names_the_field(tenant: Tenant) -> None:
    assert_problem(await tenant.get(URL, params={"from": "2026-12-10", "to": "2026-12-01"}), 422, "from")
    assert_problem(await tenant.get(URL, params={"interval": "fortnight"}), 422, "interval")
    assert_problem(await tenant.get(URL, params={"source": "carrier_pigeon"}), 422, "source")
    assert_problem(await tenant.get(URL, params={"owner_id": "ana"}), 422, "owner_id")
    assert_problem(await tenant.get(URL, params={"team_id": "00000000-0000-0000-0000-000000000001"}), 422, "team_id")


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    await seeded(other_tenant)
    mine = (await tenant.get(URL)).json()
    assert _outcomes(mine) == (0, "0.00", 0, "0.00", None, 0)  # the other workspace's are not counted
    assert mine["by_reason"] == mine["by_owner"] == mine["by_source"] == []
    assert_problem(await tenant.get(URL, key=await tenant.key_with("opportunities:read")), 403)
    assert (await tenant.get(URL, key=await tenant.key_with("reports:read"))).status_code == 200


async def test_every_report_filter_through_the_deals_lead(database: Database, tenant: Tenant,
                                                          other_tenant: Tenant) -> None:  # fmt: skip
    """Leads 1 and 3 carry utm_campaign `spring`; leads 2 and 4 submitted a form (lead 1 too, as
    spam); a campaign messaged lead 1 (and held lead 2 out); lead 4 is the Sales team's."""
    seed = await seeded(tenant)
    leads = seed["leads"]
    await set_rows(database, tables.leads, [leads[0], leads[2]], utm_campaign="spring")
    form = await form_with(tenant, database, [leads[1], leads[3]], spam=(leads[0],))
    campaign = await campaign_with(tenant, database, [leads[0]], held_out=(leads[1],))
    await set_rows(database, tables.leads, leads[3], team_id=UUID(seed["team"]))

    async def outcomes(**params: Any) -> tuple[Any, ...]:
        answer = await tenant.get(URL, params=params)
        assert answer.status_code == 200, answer.text
        return _outcomes(answer.json())

    # Lead 1's won deal (100.00) and lead 3, disqualified; deals without a lead never match.
    assert await outcomes(utm_campaign="spring") == (1, "100.00", 0, "0.00", 1.0, 1)
    # Lead 2's lost deal (250.50) and lead 4, disqualified; the spam submission does not count.
    assert await outcomes(form_id=form) == (0, "0.00", 1, "250.50", 0.0, 1)
    assert await outcomes(form_id=form, owner_id=seed["bo"]) == (0, "0.00", 1, "250.50", 0.0, 0)
    assert await outcomes(campaign_id=campaign) == (1, "100.00", 0, "0.00", 1.0, 0)  # the holdout is not messaged
    assert await outcomes(campaign_id=campaign, source="referral") == (0, "0.00", 0, "0.00", None, 0)
    # The team: deals its members own (Ana's), leads of the team (lead 4, whoever owns it).
    assert await outcomes(team_id=seed["team"]) == (2, "140.00", 1, "0.00", 0.6667, 1)
    assert await outcomes(team_id=seed["team"], owner_id=seed["bo"]) == (0, "0.00", 0, "0.00", None, 0)
    assert await outcomes(team_id=seed["team"], form_id=form) == (0, "0.00", 0, "0.00", None, 1)
    # Ids the workspace has not, named.
    theirs = await form_with(other_tenant, database, [])
    assert_problem(await tenant.get(URL, params={"form_id": theirs}), 422, "form_id")
    assert_problem(await tenant.get(URL, params={"campaign_id": str(uuid4()), "owner_id": str(uuid4())}), 422,
                   "campaign_id", "owner_id")  # fmt: skip
    assert_problem(await tenant.get(URL, params={"utm_campaign": "x" * 201}), 422, "utm_campaign")


async def test_amounts_in_another_currency_at_the_rate_of_the_day_each_closed(database: Database,
                                                                              tenant: Tenant) -> None:  # fmt: skip
    seed = await seeded(tenant)
    before = (await tenant.get(URL)).json()
    assert before["won"] == {"count": 3, "amount": "140.00", "other_currency_count": 1, "unconverted_count": 1}
    # Bo's 1000.00 EUR won ten days ago: the latest rate on or before that day (1.20, two days
    # earlier), not the one after it nor today's.
    today = dt.datetime.now(dt.UTC).date()
    closed = today - dt.timedelta(days=10)
    await set_rows(database, tables.opportunities, seed["deals"][3],
                   closed_at=dt.datetime.combine(closed, dt.time(12), dt.UTC))  # fmt: skip
    for value, day in (("1.20", closed - dt.timedelta(days=2)), ("1.10", closed + dt.timedelta(days=1)),
                       ("1.50", today)):  # fmt: skip
        await rate(tenant, "EUR", value, day)
    # Ana's 50.00 EUR lost forty days ago: no rate on or within seven days before it.
    lost = await _closed(tenant, seed["ana"], "lost", "price", amount="50", currency="EUR")
    await set_rows(database, tables.opportunities, lost,
                   closed_at=dt.datetime.combine(today - dt.timedelta(days=40), dt.time(12), dt.UTC))  # fmt: skip
    report = (await tenant.get(URL)).json()
    assert report["won"] == {"count": 3, "amount": "1340.00", "other_currency_count": 1, "unconverted_count": 0}
    assert report["lost"] == {"count": 3, "amount": "250.50", "other_currency_count": 1, "unconverted_count": 1}
    owners = {o["owner_id"]: o for o in report["by_owner"]}
    assert owners[seed["bo"]]["won"]["amount"] == "1200.00"
    assert owners[seed["ana"]]["lost"]["unconverted_count"] == 1
    assert report["by_reason"][0] == {"outcome": "won", "reason": "price", "count": 2, "amount": "1300.00"}
    assert sum(float(p["won_amount"]) for p in report["periods"]) == 1340.0


async def test_jalali_months_across_nowruz_and_the_local_day_s_rate(database: Database,
                                                                    client: httpx.AsyncClient) -> None:  # fmt: skip
    """Tehran (UTC+3:30): 1 Farvardin 1405 begins at 2026-03-20T20:30Z. A 10.00 EUR deal closed at
    21:00Z closed on the local 21st: its rate is the 21st's (3), not the 20th's (2)."""
    shop = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    ana = (await _created(shop, "/v1/members", {"name": "Ana", "email": "ana@shop.ir"}))["id"]
    moments = {
        await _closed(shop, ana, "won", "price", amount="100"): "2026-03-20T20:00:00",  # Esfand 29, 23:30
        await _closed(shop, ana, "won", "price", amount="10", currency="EUR"): "2026-03-20T21:00:00",  # Farvardin 1
        await _closed(shop, ana, "lost", "no_budget", amount="40"): "2026-04-21T12:00:00",  # Ordibehesht 1
    }
    for deal, moment in moments.items():
        await set_rows(database, tables.opportunities, deal, closed_at=dt.datetime.fromisoformat(moment + "+00:00"))
    lead = await _created(shop, "/v1/leads", {"first_name": "L", "email": "l@shop.ir", "owner_id": ana})
    await _created(shop, f"/v1/leads/{lead['id']}/disqualify", {"reason": "no_budget"})
    await set_rows(database, tables.leads, lead["id"], disqualified_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
    await rate(shop, "EUR", "2", dt.date(2026, 3, 20))
    await rate(shop, "EUR", "3", dt.date(2026, 3, 21))
    params = {"from": "2026-03-01", "to": "2026-04-30", "interval": "month"}
    report = (await shop.get(URL, params=params)).json()
    assert [(p["label"], p["display_label"], p["won"], p["won_amount"], p["lost"], p["lost_amount"],
             p["disqualified"]) for p in report["periods"]] == [
        ("1404-12", "اسفند ۱۴۰۴", 1, "100.00", 0, "0.00", 1),
        ("1405-01", "فروردین ۱۴۰۵", 1, "30.00", 0, "0.00", 0),
        ("1405-02", "اردیبهشت ۱۴۰۵", 0, "0.00", 1, "40.00", 0),
    ]  # fmt: skip
    assert report["won"] == {"count": 2, "amount": "130.00", "other_currency_count": 1, "unconverted_count": 0}
