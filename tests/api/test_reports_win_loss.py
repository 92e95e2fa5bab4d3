"""The win/loss report through HTTP on both databases, checked against a small workspace counted by
hand: totals, reasons, owners, sources, amounts in the reporting currency (another currency counted,
not added), periods of back-dated closes, filters, CSV, bad input, scopes and tenancy."""

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
from tests.conftest import Tenant, assert_problem
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
