"""The team report through HTTP on both databases, checked against a small workspace counted by
hand: each member's leads, first-response times and SLA, activities, tasks, qualified leads and won
deals beside the team's median, the members listed, periods of back-dated work (and a Jalali
workspace's months across Nowruz), the team and member filters and the lead filters on each
member's figures, won amounts in another currency at the closing day's rate, CSV, bad input,
scopes and tenancy."""

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

URL = "/v1/reports/team"
UTC = dt.UTC


async def _created(tenant: Tenant, url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await tenant.post(url, json=body)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


async def _set(database: Database, table: Any, condition: Any, **values: Any) -> None:
    async with UnitOfWork(database) as uow:
        await uow.execute(update(table).where(condition).values(**values))
        await uow.commit()


async def _lead(tenant: Tenant, name: str, owner: str) -> str:
    body = {"first_name": name, "email": f"{name.lower()}@example.com", "owner_id": owner}
    return str((await _created(tenant, "/v1/leads", body))["id"])


async def _activity(tenant: Tenant, member: str, lead: str, kind: str, **fields: Any) -> str:
    body = {"lead_id": lead, "member_id": member, "type": kind, **fields}
    return str((await _created(tenant, "/v1/activities", body))["id"])


async def seeded(database: Database, tenant: Tenant) -> dict[str, Any]:
    """Members Ana and Bo (the Sales team), Cy, and deactivated Dee (nothing in the range) and Eve (an
    email in it). Today:
    - Ana is assigned A1-A4 and E; first responses A1 60s met, A2 300s breached, A3 30s met, A4 none
      (pending), E 900s breached. She qualifies A1 into a 500.00 deal she wins and wins a EUR deal;
      logs 2 calls and an email; completes a task and has one open overdue and one open due later.
    - Bo is assigned B1 (120s met) and B2 (no response), and E by an SLA escalation (its 900s breach
      was Ana's: not in his response figures); qualifies B2, wins a 200.00 deal, logs a call and a
      meeting. A lead he was assigned long ago counts nowhere.
    - Cy logs a note and completes a task."""
    ids: dict[str, Any] = {}
    for name in ("Ana", "Bo", "Cy", "Dee", "Eve"):
        ids[name] = (await _created(tenant, "/v1/members", {"name": name, "email": f"{name.lower()}@team.io"}))["id"]
    ana, bo, cy = ids["Ana"], ids["Bo"], ids["Cy"]
    ids["team"] = (await _created(tenant, "/v1/teams", {"name": "Sales", "member_ids": [ana, bo]}))["id"]
    leads = {name: await _lead(tenant, name, ana) for name in ("A1", "A2", "A3", "A4", "E")}
    leads.update({name: await _lead(tenant, name, bo) for name in ("B1", "B2", "Old")})
    ids["leads"] = leads
    assigned = await tenant.post(f"/v1/leads/{leads['E']}/assign", json={"member_id": bo})
    assert assigned.status_code == 200, assigned.text
    asg = tables.lead_assignments
    escalated = (asg.c.lead_id == UUID(leads["E"])) & (asg.c.to_member_id == UUID(bo))
    await _set(database, asg, escalated, reason="sla_escalation")
    await _set(database, asg, asg.c.lead_id == UUID(leads["Old"]), assigned_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    for member, lead, kind in ((ana, "A1", "call"), (ana, "A2", "call"), (ana, "A3", "email"), (bo, "B1", "call"),
                               (bo, "B1", "meeting"), (cy, "A4", "note"), (ids["Eve"], "A4", "email")):  # fmt: skip
        await _activity(tenant, member, leads[lead], kind)
    await _activity(tenant, ids["Dee"], leads["A4"], "note", occurred_at="2020-01-02T10:00:00Z")
    for name in ("Dee", "Eve"):
        assert (await tenant.patch(f"/v1/members/{ids[name]}", json={"active": False})).status_code == 200
    a1 = await _created(tenant, f"/v1/leads/{leads['A1']}/qualify", {"opportunity": {"amount": "500"}})
    ids["deal"] = a1["opportunity_id"]
    await _created(tenant, f"/v1/leads/{leads['B2']}/qualify", {})
    for owner, fields in ((ana, {"opportunity_id": a1["opportunity_id"]}), (ana, {"amount": "70", "currency": "EUR"}),
                          (bo, {"amount": "200"}), (bo, {"amount": "999", "stage": "lost"})):  # fmt: skip
        deal, stage = fields.pop("opportunity_id", None), fields.pop("stage", "won")
        if deal is None:
            deal = (await _created(tenant, "/v1/opportunities", {"name": "Deal", "owner_id": owner, **fields}))["id"]
        reason = "no_budget" if stage == "lost" else "price"
        closed = await tenant.patch(f"/v1/opportunities/{deal}", json={"stage": stage, "close_reason": reason})
        assert closed.status_code == 200, closed.text
    now = dt.datetime.now(UTC)
    tasks = {}
    for name, assignee, due in (("done", ana, None), ("late", ana, now - dt.timedelta(days=2)),
                                ("later", ana, now + dt.timedelta(days=2)), ("cy", cy, None)):  # fmt: skip
        body = {"title": name, "assignee_id": assignee, "due_at": due.isoformat() if due else None}
        tasks[name] = (await _created(tenant, "/v1/tasks", body))["id"]
    for name in ("done", "cy"):
        assert (await tenant.patch(f"/v1/tasks/{tasks[name]}", json={"status": "completed"})).status_code == 200
    ids["tasks"] = tasks
    responses = {"A1": (60.0, "met"), "A2": (300.0, "breached"), "A3": (30.0, "met"), "A4": (None, "pending"),
                 "E": (900.0, "breached"), "B1": (120.0, "met"), "B2": (None, "not_applicable")}  # fmt: skip
    for name, (seconds, status) in responses.items():
        # a pending clock keeps a deadline (ahead: no worker of another test breaches it meanwhile)
        due = {"first_response_due_at": now + dt.timedelta(days=30)} if status == "pending" else {}
        await _set(database, tables.leads, tables.leads.c.id == UUID(leads[name]), first_response_seconds=seconds,
                   sla_status=status, **due)  # fmt: skip
    return ids


def _figures(member: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(member[k] for k in ("leads_assigned", "first_response_median_seconds", "first_response_p90_seconds",
                                     "sla_met_rate", "tasks_done", "tasks_overdue", "leads_qualified",
                                     "opportunities_won", "won_amount", "won_other_currency_count",
                                     "conversion_rate"))  # fmt: skip


def _activities(**counts: int) -> dict[str, int]:
    return {t: counts.get(t, 0) for t in ("call", "email", "sms", "whatsapp", "social", "meeting", "note")}


async def test_each_member_beside_the_team_median(database: Database, tenant: Tenant) -> None:
    ids = await seeded(database, tenant)
    answer = await tenant.get(URL, params={"interval": "day"})
    assert answer.status_code == 200, answer.text
    assert_documented(answer, "/v1/reports/team")
    report = answer.json()
    assert report["currency"] == "USD"
    # Dee (deactivated, nothing in the range) is not listed; Eve (deactivated, an email) is.
    assert [m["name"] for m in report["members"]] == ["Ana", "Bo", "Cy", "Eve"]
    ana, bo, cy, eve = report["members"]
    assert ana["member_id"] == ids["Ana"]
    assert _figures(ana) == (5, 60.0, 900.0, 0.5, 1, 1, 1, 2, "500.00", 1, 0.2)
    assert ana["activities"] == _activities(call=2, email=1)
    assert _figures(bo) == (3, 120.0, 120.0, 1.0, 0, 0, 1, 1, "200.00", 0, 0.3333)
    assert bo["activities"] == _activities(call=1, meeting=1)
    assert _figures(cy) == (0, None, None, None, 1, 0, 0, 0, "0.00", 0, None)
    assert cy["activities"] == _activities(note=1) and eve["activities"] == _activities(email=1)
    # Medians over the four (nearest rank, the lower middle; members without a value left out).
    assert report["team_median"] == {
        "leads_assigned": 0, "first_response_median_seconds": 60.0, "first_response_p90_seconds": 120.0,
        "sla_met_rate": 0.5, "activities": _activities(), "tasks_done": 0,
        "tasks_overdue": 0, "leads_qualified": 0, "opportunities_won": 0, "won_amount": "0.00",
        "won_other_currency_count": 0, "won_unconverted_count": 0, "conversion_rate": 0.2,
    }  # fmt: skip
    assert len(report["periods"]) == 90
    today = report["periods"][-1]
    assert today["label"] == report["to"]
    assert {k: today[k] for k in ("leads_assigned", "leads_qualified", "opportunities_won", "won_amount",
                                  "tasks_done", "activities")} == {
        "leads_assigned": 8, "leads_qualified": 2, "opportunities_won": 3, "won_amount": "700.00", "tasks_done": 2,
        "activities": 7,
    }  # fmt: skip
    assert sum(p["leads_assigned"] for p in report["periods"]) == 8


async def test_filters_by_team_and_member(database: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    ids = await seeded(database, tenant)
    team = (await tenant.get(URL, params={"team_id": ids["team"]})).json()
    assert [m["name"] for m in team["members"]] == ["Ana", "Bo"]
    median = team["team_median"]
    assert (median["leads_assigned"], median["won_amount"], median["conversion_rate"]) == (3, "200.00", 0.2)
    assert median["first_response_p90_seconds"] == 120.0 and median["activities"]["call"] == 1
    assert team["periods"][-1]["leads_assigned"] == 8 and team["periods"][-1]["activities"] == 5
    bo = (await tenant.get(URL, params={"owner_id": ids["Bo"]})).json()
    assert [m["name"] for m in bo["members"]] == ["Bo"] and bo["team_median"]["leads_assigned"] == 3
    assert bo["periods"][-1]["opportunities_won"] == 1
    outside = (await tenant.get(URL, params={"owner_id": ids["Cy"], "team_id": ids["team"]})).json()
    assert outside["members"] == [] and outside["team_median"]["leads_assigned"] is None
    theirs = (await other_tenant.post("/v1/members", json={"name": "X", "email": "x@o.io"})).json()["id"]
    assert_problem(await tenant.get(URL, params={"owner_id": theirs}), 422, "owner_id")
    their_team = (await other_tenant.post("/v1/teams", json={"name": "T", "member_ids": [theirs]})).json()["id"]
    assert_problem(await tenant.get(URL, params={"team_id": their_team}), 422, "team_id")


async def test_periods_of_back_dated_work(database: Database, tenant: Tenant) -> None:
    ids = await seeded(database, tenant)
    leads, asg = ids["leads"], tables.lead_assignments
    at = dt.datetime
    await _set(database, asg, asg.c.lead_id.in_([UUID(leads["A1"]), UUID(leads["A2"])]),
               assigned_at=at(2025, 1, 15, tzinfo=UTC))  # fmt: skip
    await _set(database, asg, asg.c.lead_id == UUID(leads["B1"]), assigned_at=at(2025, 2, 10, tzinfo=UTC))
    await _set(database, tables.leads, tables.leads.c.id == UUID(leads["A1"]), qualified_at=at(2025, 2, 20, tzinfo=UTC))
    await _set(database, tables.opportunities, tables.opportunities.c.id == UUID(ids["deal"]),
               closed_at=at(2025, 1, 31, 23, 59, tzinfo=UTC))  # fmt: skip
    await _set(database, tables.tasks, tables.tasks.c.id == UUID(ids["tasks"]["done"]),
               completed_at=at(2025, 3, 5, tzinfo=UTC))  # fmt: skip
    await _activity(tenant, ids["Cy"], leads["A4"], "call", occurred_at="2025-03-31T22:00:00Z")
    await _activity(tenant, ids["Cy"], leads["A4"], "call", occurred_at="2025-04-01T00:00:00Z")  # after the range
    report = (await tenant.get(URL, params={"from": "2025-01-01", "to": "2025-03-31", "interval": "month"})).json()
    periods = [(p["label"], p["leads_assigned"], p["leads_qualified"], p["opportunities_won"], p["won_amount"],
                p["tasks_done"], p["activities"]) for p in report["periods"]]  # fmt: skip
    assert periods == [
        ("2025-01", 2, 0, 1, "500.00", 0, 0),
        ("2025-02", 1, 1, 0, "0.00", 0, 0),
        ("2025-03", 0, 0, 0, "0.00", 1, 1),
    ]
    members = {m["name"]: m for m in report["members"]}
    assert set(members) == {"Ana", "Bo", "Cy"}  # Eve's email is today's
    ana = members["Ana"]
    # A1 (60s met) and A2 (300s breached): median rank 1 of 2, p90 rank 2.
    assert _figures(ana) == (2, 60.0, 300.0, 0.5, 1, 1, 1, 1, "500.00", 0, 0.5)
    assert _figures(members["Bo"])[:4] == (1, 120.0, 120.0, 1.0)
    assert members["Cy"]["activities"]["call"] == 1


async def test_csv(database: Database, tenant: Tenant) -> None:
    ids = await seeded(database, tenant)
    answer = await tenant.get(URL, headers={"Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert [r["name"] for r in rows] == ["Ana", "Bo", "Cy", "Eve"]
    ana = rows[0]
    assert ana["member_id"] == ids["Ana"]
    assert [ana[k] for k in ("leads_assigned", "first_response_median_seconds", "sla_met_rate", "won_amount",
                             "conversion_rate", "activities_call", "activities_email")] == [
        "5", "60.0", "0.5", "500.00", "0.2", "2", "1"
    ]  # fmt: skip
    assert rows[2]["sla_met_rate"] == "" and rows[2]["activities_note"] == "1"
    assert_problem(await tenant.get(URL, headers={"Accept": "image/png"}), 406)


async def test_bad_input_names_the_field(tenant: Tenant) -> None:
    assert_problem(await tenant.get(URL, params={"from": "2026-12-10", "to": "2026-12-01"}), 422, "from")
    assert_problem(await tenant.get(URL, params={"interval": "decade"}), 422, "interval")
    assert_problem(await tenant.get(URL, params={"team_id": "sales"}), 422, "team_id")
    assert_problem(await tenant.get(URL, params={"owner_id": "00000000-0000-0000-0000-000000000001"}), 422, "owner_id")


async def test_scopes_and_tenancy(database: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    await seeded(database, other_tenant)
    mine = (await tenant.get(URL)).json()
    assert mine["members"] == [] and sum(p["leads_assigned"] + p["activities"] for p in mine["periods"]) == 0
    mine_member = (await tenant.post("/v1/members", json={"name": "Solo", "email": "solo@team.io"})).json()["id"]
    alone = (await tenant.get(URL)).json()
    assert [m["member_id"] for m in alone["members"]] == [mine_member]
    assert _figures(alone["members"][0])[0] == 0
    assert_problem(await tenant.get(URL, key=await tenant.key_with("members:read", "leads:read")), 403)
    assert (await tenant.get(URL, key=await tenant.key_with("reports:read"))).status_code == 200


async def test_the_lead_filters_narrow_each_members_figures(database: Database, tenant: Tenant,
                                                            other_tenant: Tenant) -> None:  # fmt: skip
    """A1, A2 and B1 carry utm_campaign `spring`; Ana completes a task on A1 and her overdue task
    is A2's; B2 and E submitted a form; a campaign messaged A3."""
    ids = await seeded(database, tenant)
    leads = ids["leads"]
    await set_rows(database, tables.leads, [leads["A1"], leads["A2"], leads["B1"]], utm_campaign="spring")
    call_back = await _created(tenant, "/v1/tasks", {"title": "call back", "assignee_id": ids["Ana"],
                                                     "lead_id": leads["A1"]})  # fmt: skip
    assert (await tenant.patch(f"/v1/tasks/{call_back['id']}", json={"status": "completed"})).status_code == 200
    await set_rows(database, tables.tasks, ids["tasks"]["late"], lead_id=UUID(leads["A2"]))
    form = await form_with(tenant, database, [leads["B2"], leads["E"]])
    campaign = await campaign_with(tenant, database, [leads["A3"]])

    spring = (await tenant.get(URL, params={"utm_campaign": "spring", "interval": "day"})).json()
    members = {m["name"]: m for m in spring["members"]}
    assert list(members) == ["Ana", "Bo", "Cy"]  # Eve's email was on A4: nothing left to list her for
    # Ana: A1 and A2 (60s met, 300s breached), their calls, the task on A1 done and A2's overdue, A1
    # qualified into the 500.00 deal she won; her EUR deal has no lead.
    assert _figures(members["Ana"]) == (2, 60.0, 300.0, 0.5, 1, 1, 1, 1, "500.00", 0, 0.5)
    assert members["Ana"]["activities"] == _activities(call=2)
    assert _figures(members["Bo"]) == (1, 120.0, 120.0, 1.0, 0, 0, 0, 0, "0.00", 0, 0.0)
    assert members["Bo"]["activities"] == _activities(call=1, meeting=1)
    assert _figures(members["Cy"]) == (0, None, None, None, 0, 0, 0, 0, "0.00", 0, None)
    today = spring["periods"][-1]
    assert (today["leads_assigned"], today["leads_qualified"], today["opportunities_won"], today["won_amount"],
            today["tasks_done"], today["activities"]) == (3, 1, 1, "500.00", 1, 4)  # fmt: skip

    by_form = {m["name"]: m for m in (await tenant.get(URL, params={"form_id": form})).json()["members"]}
    # Ana: E (900s breached); Bo: B2 and E by escalation (not his response), B2 qualified.
    assert _figures(by_form["Ana"])[:4] == (1, 900.0, 900.0, 0.0) and by_form["Ana"]["leads_qualified"] == 0
    assert _figures(by_form["Bo"]) == (2, None, None, None, 0, 0, 1, 0, "0.00", 0, 0.5)
    by_campaign = {m["name"]: m for m in (await tenant.get(URL, params={"campaign_id": campaign})).json()["members"]}
    assert by_campaign["Ana"]["leads_assigned"] == 1 and by_campaign["Ana"]["activities"] == _activities(email=1)
    # With the team: its members, the lead filter on their figures (A1, B1 and B2 referred).
    await set_rows(database, tables.leads, [leads["A1"], leads["B1"], leads["B2"]], source="referral")
    team = (await tenant.get(URL, params={"team_id": ids["team"], "source": "referral"})).json()
    assert [(m["name"], m["leads_assigned"], m["leads_qualified"]) for m in team["members"]] == [
        ("Ana", 1, 1), ("Bo", 2, 1)
    ]  # fmt: skip
    assert team["team_median"]["leads_assigned"] == 1
    theirs = await form_with(other_tenant, database, [])
    assert_problem(await tenant.get(URL, params={"form_id": theirs}), 422, "form_id")
    assert_problem(await tenant.get(URL, params={"campaign_id": str(uuid4())}), 422, "campaign_id")


async def test_won_amounts_in_another_currency_at_the_closing_day_s_rate(database: Database, tenant: Tenant) -> None:
    ids = await seeded(database, tenant)
    ana = next(m for m in (await tenant.get(URL)).json()["members"] if m["name"] == "Ana")
    assert (ana["won_amount"], ana["won_other_currency_count"], ana["won_unconverted_count"]) == ("500.00", 1, 1)
    await rate(tenant, "EUR", "1.50", dt.datetime.now(UTC).date())
    report = (await tenant.get(URL, params={"interval": "day"})).json()
    ana = next(m for m in report["members"] if m["name"] == "Ana")
    assert (ana["won_amount"], ana["won_other_currency_count"], ana["won_unconverted_count"]) == ("605.00", 1, 0)
    assert report["periods"][-1]["won_amount"] == "805.00"  # 500 + 70 x 1.5 + Bo's 200
    assert report["team_median"]["won_unconverted_count"] == 0
    assert ids["Ana"] == ana["member_id"]


async def test_jalali_months_across_nowruz(database: Database, client: httpx.AsyncClient) -> None:
    shop = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    ana = (await _created(shop, "/v1/members", {"name": "Ana", "email": "ana@shop.ir"}))["id"]
    lead = await _lead(shop, "Nowruz", ana)
    await _set(database, tables.lead_assignments, tables.lead_assignments.c.lead_id == UUID(lead),
               assigned_at=dt.datetime(2026, 4, 21, 12, tzinfo=UTC))  # Ordibehesht 1  # fmt: skip
    for moment in ("2026-03-20T20:00:00", "2026-03-20T21:00:00"):  # Esfand 29, 23:30; Farvardin 1, 00:30
        deal = await _created(shop, "/v1/opportunities", {"name": "Deal", "owner_id": ana, "amount": "100"})
        assert (await shop.patch(f"/v1/opportunities/{deal['id']}", json={"stage": "won", "close_reason": "price"}
                                 )).status_code == 200  # fmt: skip
        await set_rows(database, tables.opportunities, deal["id"],
                       closed_at=dt.datetime.fromisoformat(moment + "+00:00"))  # fmt: skip
    await _activity(shop, ana, lead, "call", occurred_at="2026-03-20T20:29:00Z")  # Esfand
    await _activity(shop, ana, lead, "call", occurred_at="2026-03-20T20:30:00Z")  # Farvardin's first minute
    params = {"from": "2026-03-01", "to": "2026-04-30", "interval": "month"}
    report = (await shop.get(URL, params=params)).json()
    assert [(p["label"], p["display_label"], p["leads_assigned"], p["opportunities_won"], p["won_amount"],
             p["activities"]) for p in report["periods"]] == [
        ("1404-12", "اسفند ۱۴۰۴", 0, 1, "100.00", 1),
        ("1405-01", "فروردین ۱۴۰۵", 0, 1, "100.00", 1),
        ("1405-02", "اردیبهشت ۱۴۰۵", 1, 0, "0.00", 0),
    ]  # fmt: skip
