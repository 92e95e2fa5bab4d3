"""The dashboard overview through HTTP on both databases, on a small workspace counted by hand at a
fixed clock: open leads by status, stage, temperature, owner and source; SLA clocks and today's
breaches; tasks due today and overdue; open churn alerts; the month's revenue so far against the
same stretch of the previous month (Gregorian, and a Jalali workspace across Esfand); sections
withheld from keys without their scope; the report filters on the lead sections and lead-bound
tasks (never churn alerts or revenue); CSV; tenancy."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import insert, update

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.routers import dependencies
from tests.api.reporting import campaign_with, form_with, set_rows
from tests.api.test_analytics import contact_id, order, sync
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.documented import assert_documented

NOW = dt.datetime(2026, 3, 15, 15, 0, tzinfo=dt.UTC)
SECTIONS = ["leads", "sla", "tasks", "churn_alerts", "revenue"]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def clock(monkeypatch: pytest.MonkeyPatch, now: dt.datetime) -> None:
    monkeypatch.setattr(dependencies, "utcnow", lambda: now)


async def change(database: Database, table: Any, row_id: str, **values: Any) -> None:
    async with UnitOfWork(database) as uow:
        await uow.execute(update(table).where(table.c.id == UUID(row_id)).values(**values))
        await uow.commit()


async def _lead(tenant: Tenant, n: int, **fields: Any) -> str:
    body = {"first_name": f"L{n}", "email": f"lead{n}@example.com", "source": "web_form", **fields}
    created = await tenant.post("/v1/leads", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _task(tenant: Tenant, title: str, due: str | None) -> str:
    created = await tenant.post("/v1/tasks", json={"title": title, "due_at": due})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def seeded(tenant: Tenant, database: Database) -> dict[str, Any]:
    """Seven leads, five open; five tasks; two churn alerts; orders this month and last."""
    member = await tenant.post("/v1/members", json={"name": "Sara", "email": "sara@example.com"})
    assert member.status_code == 201, member.text
    sara = str(member.json()["id"])
    ids = [await _lead(tenant, n, **({"source": "referral"} if n in (1, 5) else {})) for n in range(7)]
    state = [
        dict(owner_id=UUID(sara), temperature="hot", stage="mql", sla_status="pending",
             first_response_due_at=NOW + dt.timedelta(hours=1)),  # an open clock
        dict(owner_id=UUID(sara), status="contacted", sla_status="pending",
             first_response_due_at=NOW - dt.timedelta(hours=1)),  # past due, not swept yet
        dict(status="nurturing", temperature="warm", sla_status="breached",
             first_response_due_at=at("2026-03-15T09:00:00")),  # breached this morning
        dict(stage="sql", sla_status="breached", first_response_due_at=at("2026-03-14T20:00:00")),  # yesterday
        dict(sla_status="met"),
        dict(status="disqualified"),  # closed
        dict(archived_at=NOW, sla_status="pending", first_response_due_at=NOW + dt.timedelta(hours=2)),  # archived
    ]  # fmt: skip
    plain = {"status": "new", "owner_id": None, "stage": None, "temperature": "cold", "sla_status": "not_applicable",
             "first_response_due_at": None}  # fmt: skip
    for lead_id, values in zip(ids, state, strict=True):
        await change(database, tables.leads, lead_id, **{**plain, **values})
    await _task(tenant, "this morning", "2026-03-15T10:00:00Z")  # due today and overdue
    await _task(tenant, "tonight", "2026-03-15T20:00:00Z")  # due today
    await _task(tenant, "last week", "2026-03-10T09:00:00Z")  # overdue
    await _task(tenant, "tomorrow", "2026-03-16T01:00:00Z")
    await _task(tenant, "whenever", None)
    done = await _task(tenant, "done this morning", "2026-03-15T11:00:00Z")
    assert (await tenant.patch(f"/v1/tasks/{done}", json={"status": "completed"})).status_code == 200
    await sync(tenant, [
        order("m1", "alice", dt.date(2026, 3, 2), "100.00"),
        order("m2", "bob", dt.date(2026, 3, 15), "50.00"),  # 12:00, before the clock's 15:00
        order("m3", "bob", dt.date(2026, 3, 5), "40.00", status="partially_refunded", refunded_total="10.00"),
        order("m4", "carol", dt.date(2026, 3, 3), "999.00", status="cancelled"),
        order("p1", "alice", dt.date(2026, 2, 10), "120.00"),
        order("p2", "carol", dt.date(2026, 2, 15), "30.00"),  # 12:00 on the 15th: inside the stretch
        order("p3", "carol", dt.date(2026, 2, 20), "500.00"),  # after it
    ])  # fmt: skip
    alice = UUID(await contact_id(tenant, "alice"))
    async with UnitOfWork(database) as uow:
        for outcome in (None, "rescued"):
            await uow.execute(insert(tables.churn_alerts).values(
                workspace_id=UUID(tenant.id), id=uuid4(), contact_id=alice, snapshot_id=uuid4(),
                raised_on=dt.date(2026, 3, 1), window_ends_on=dt.date(2026, 3, 31), churn_score=0.8,
                clv_at_risk_minor=1000, currency="USD", reasons=[], outcome=outcome, created_at=NOW,
            ))  # fmt: skip
        await uow.commit()
    return {"sara": sara, "leads": ids}


async def test_the_overview_counted_by_hand(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock(monkeypatch, NOW)
    seed = await seeded(tenant, database)
    answer = await tenant.get("/v1/reports/overview")
    assert answer.status_code == 200, answer.text
    assert_documented(answer, "/v1/reports/overview")
    report = answer.json()
    assert (report["as_of"], report["date"], report["withheld"]) == ("2026-03-15T15:00:00.000000Z", "2026-03-15", [])
    leads = report["leads"]
    assert leads["by_status"] == {"new": 3, "contacted": 1, "nurturing": 1}
    assert leads["by_stage"] == {"ial": 0, "mql": 1, "sql": 1, "none": 3}
    assert leads["by_temperature"] == {"cold": 3, "warm": 1, "hot": 1}
    assert leads["by_owner"] == [{"owner_id": None, "name": None, "count": 3},
                                 {"owner_id": seed["sara"], "name": "Sara", "count": 2}]  # fmt: skip
    assert leads["by_source"]["web_form"] == 4 and leads["by_source"]["referral"] == 1
    assert leads["by_source"]["phone"] == 0 and sum(leads["by_source"].values()) == 5
    assert report["sla"] == {"open_clocks": 1, "breached_today": 2}
    assert report["tasks"] == {"due_today": 2, "overdue": 2}
    assert report["churn_alerts"] == {"open": 1}
    # March 1 to now: 100 + 50 + (40 - 10); February 1 to February 15, 15:00: 120 + 30.
    assert report["revenue"] == {
        "currency": "USD", "month_to_date": "180.00", "previous_month_to_date": "150.00", "change": 0.2,
        "month_start": "2026-03-01T00:00:00.000000Z", "previous_month_start": "2026-02-01T00:00:00.000000Z",
        "previous_month_end": "2026-02-15T15:00:00.000000Z",
    }  # fmt: skip
    # Late in a long month, the shorter previous month counts whole.
    clock(monkeypatch, at("2026-03-30T08:00:00"))
    late = (await tenant.get("/v1/reports/overview")).json()["revenue"]
    assert (late["previous_month_to_date"], late["previous_month_end"]) == ("650.00", "2026-03-01T00:00:00.000000Z")
    assert late["change"] == round((180 - 650) / 650, 4)


async def test_a_jalali_workspace_counts_its_own_month(
    database: Database, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran", currency="IRR")

    def rial(number: str, customer: str, placed: str, total: str) -> dict[str, Any]:
        return {**order(number, customer, dt.date(2026, 1, 1), total, currency="IRR"),
                "placed_at": placed, "source_updated_at": placed}  # fmt: skip

    await sync(shop, [
        rial("f1", "sina", "2026-03-21T12:00:00Z", "1000000"),  # 1 Farvardin 1405
        rial("f2", "sina", "2026-03-20T21:00:00Z", "500000"),  # 00:30 in Tehran: 1 Farvardin too
        rial("e1", "sina", "2026-03-20T19:00:00Z", "300000"),  # 22:30 on 29 Esfand 1404, its last day
        rial("e2", "sina", "2026-02-25T12:00:00Z", "200000"),  # 6 Esfand
        rial("b1", "sina", "2026-02-19T12:00:00Z", "7000000"),  # 30 Bahman: two months back
    ])  # fmt: skip
    # 30 Farvardin 1405, 10:00 in Tehran: Esfand has 29 days, so all of it faces this month.
    clock(monkeypatch, at("2026-04-19T06:30:00"))
    report = (await shop.get("/v1/reports/overview")).json()
    assert report["date"] == "2026-04-19"
    assert report["revenue"] == {
        "currency": "IRR", "month_to_date": "1500000.00", "previous_month_to_date": "500000.00", "change": 2.0,
        "month_start": "2026-03-20T20:30:00.000000Z", "previous_month_start": "2026-02-19T20:30:00.000000Z",
        "previous_month_end": "2026-03-20T20:30:00.000000Z",
    }  # fmt: skip
    # 6 Farvardin, 10:00: Esfand's first six days up to 10:00 on the 6th (e2 was placed at 15:30 that day).
    clock(monkeypatch, at("2026-03-26T06:30:00"))
    early = (await shop.get("/v1/reports/overview")).json()["revenue"]
    assert (early["month_to_date"], early["previous_month_to_date"], early["previous_month_end"]) == (
        "1500000.00", "0.00", "2026-02-25T06:30:00.000000Z")  # fmt: skip
    assert early["change"] is None
    clock(monkeypatch, at("2026-03-26T12:30:00"))  # 16:00 in Tehran: now e2 is inside
    assert (await shop.get("/v1/reports/overview")).json()["revenue"]["previous_month_to_date"] == "200000.00"


async def test_sections_withheld_from_keys_without_their_scope(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock(monkeypatch, NOW)
    await seeded(tenant, database)
    withheld = await tenant.get("/v1/reports/overview", key=await tenant.key_with("reports:read"))
    assert_documented(withheld, "/v1/reports/overview")
    bare = withheld.json()
    assert bare["withheld"] == SECTIONS and all(bare[s] is None for s in SECTIONS)
    some = await tenant.key_with("reports:read", "tasks:read", "orders:write")
    partial = (await tenant.get("/v1/reports/overview", key=some)).json()
    assert partial["withheld"] == ["leads", "sla", "churn_alerts"]
    assert partial["tasks"] == {"due_today": 2, "overdue": 2} and partial["revenue"]["month_to_date"] == "180.00"
    assert (partial["leads"], partial["sla"], partial["churn_alerts"]) == (None, None, None)
    analyst = await tenant.key_with("reports:read", "leads:read", "analytics:read")
    shown = (await tenant.get("/v1/reports/overview", key=analyst)).json()
    assert shown["withheld"] == ["tasks", "revenue"] and shown["churn_alerts"] == {"open": 1}
    assert shown["sla"] == {"open_clocks": 1, "breached_today": 2}
    everything = await tenant.key_with("leads:read", "tasks:read", "analytics:read", "orders:read")
    assert_problem(await tenant.get("/v1/reports/overview", key=everything), 403)  # the report needs reports:read


async def test_csv_one_row_per_figure(tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    clock(monkeypatch, NOW)
    seed = await seeded(tenant, database)
    answer = await tenant.get("/v1/reports/overview", headers={"Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert list(rows[0]) == ["section", "key", "value"]
    figures = {(r["section"], r["key"]): r["value"] for r in rows}
    assert figures[("leads.by_status", "new")] == "3" and figures[("leads.by_stage", "none")] == "3"
    assert figures[("leads.by_owner", seed["sara"])] == "2" and figures[("leads.by_owner", "none")] == "3"
    assert (figures[("sla", "open_clocks")], figures[("sla", "breached_today")]) == ("1", "2")
    assert (figures[("tasks", "due_today")], figures[("tasks", "overdue")]) == ("2", "2")
    assert figures[("churn_alerts", "open")] == "1"
    assert (figures[("revenue", "month_to_date")], figures[("revenue", "change")]) == ("180.00", "0.2")
    reader = await tenant.key_with("reports:read", "tasks:read")
    limited = await tenant.get("/v1/reports/overview", key=reader, headers={"Accept": "text/csv"})
    sections = {r["section"] for r in csv.DictReader(io.StringIO(limited.text.lstrip("\ufeff")))}
    assert sections == {"tasks", "withheld"}
    assert_problem(await tenant.get("/v1/reports/overview", headers={"Accept": "application/xml"}), 406)


async def test_tenancy(
    tenant: Tenant, other_tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock(monkeypatch, NOW)
    await seeded(other_tenant, database)
    mine = (await tenant.get("/v1/reports/overview")).json()
    assert sum(mine["leads"]["by_status"].values()) == 0 and mine["leads"]["by_owner"] == []
    assert mine["sla"] == {"open_clocks": 0, "breached_today": 0}
    assert mine["tasks"] == {"due_today": 0, "overdue": 0} and mine["churn_alerts"] == {"open": 0}
    assert (mine["revenue"]["month_to_date"], mine["revenue"]["change"]) == ("0.00", None)
    theirs = (await other_tenant.get("/v1/reports/overview")).json()
    assert theirs["tasks"] == {"due_today": 2, "overdue": 2}


async def test_the_filters_narrow_the_lead_sections_and_lead_bound_tasks(
    tenant: Tenant, other_tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sara owns leads 0 (an open clock) and 1 (past due, not swept); leads 2 and 3 (both
    breached, 2 this morning) are the team's; this morning's task is lead 0's, last week's lead 3's;
    the other tasks are bound to no lead."""
    clock(monkeypatch, NOW)
    seed = await seeded(tenant, database)
    leads = seed["leads"]
    team = await tenant.post("/v1/teams", json={"name": "Inbound", "member_ids": []})
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    await set_rows(database, tables.leads, [leads[2], leads[3]], team_id=UUID(team_id))
    tasks = {t["title"]: t["id"] for t in (await tenant.get("/v1/tasks", params={"limit": 100})).json()["data"]}
    await set_rows(database, tables.tasks, tasks["this morning"], lead_id=UUID(leads[0]))
    await set_rows(database, tables.tasks, tasks["last week"], lead_id=UUID(leads[3]))
    everything = (await tenant.get("/v1/reports/overview")).json()
    assert everything["filtered"] == []

    async def overview(**params: Any) -> dict[str, Any]:
        answer = await tenant.get("/v1/reports/overview", params=params)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    sara = await overview(owner_id=seed["sara"])
    assert sara["filtered"] == ["leads", "sla", "tasks"]
    assert sara["leads"]["by_status"] == {"new": 1, "contacted": 1, "nurturing": 0}
    assert sara["leads"]["by_owner"] == [{"owner_id": seed["sara"], "name": "Sara", "count": 2}]
    assert sara["sla"] == {"open_clocks": 1, "breached_today": 1}
    assert sara["tasks"] == {"due_today": 1, "overdue": 1}  # this morning's, lead 0's
    # Churn alerts and revenue are never narrowed.
    assert sara["churn_alerts"] == everything["churn_alerts"] and sara["revenue"] == everything["revenue"]
    referral = await overview(source="referral")  # lead 1 (open); lead 5 is disqualified
    assert sum(referral["leads"]["by_status"].values()) == 1 and referral["leads"]["by_source"]["referral"] == 1
    assert referral["sla"] == {"open_clocks": 0, "breached_today": 1}
    assert referral["tasks"] == {"due_today": 0, "overdue": 0}
    inbound = await overview(team_id=team_id)
    assert inbound["leads"]["by_status"] == {"new": 1, "contacted": 0, "nurturing": 1}
    assert inbound["sla"] == {"open_clocks": 0, "breached_today": 1}  # lead 3's deadline was yesterday
    assert inbound["tasks"] == {"due_today": 0, "overdue": 1}
    form = await form_with(tenant, database, [leads[0], leads[2]])
    by_form = await overview(form_id=form)
    assert by_form["leads"]["by_status"] == {"new": 1, "contacted": 0, "nurturing": 1}
    assert by_form["tasks"] == {"due_today": 1, "overdue": 1}
    campaign = await campaign_with(tenant, database, [leads[3]])
    assert (await overview(campaign_id=campaign))["tasks"] == {"due_today": 0, "overdue": 1}
    # Only the sections shown are named; CSV names them too.
    leads_only = await tenant.get("/v1/reports/overview", params={"source": "referral"},
                                  key=await tenant.key_with("reports:read", "leads:read"))  # fmt: skip
    assert leads_only.json()["filtered"] == ["leads", "sla"]
    table = await tenant.get("/v1/reports/overview", params={"owner_id": seed["sara"]}, headers={"Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(table.text.lstrip("\ufeff"))))
    assert [r["key"] for r in rows if r["section"] == "filtered"] == ["leads", "sla", "tasks"]
    theirs = await form_with(other_tenant, database, [])
    assert_problem(await tenant.get("/v1/reports/overview", params={"form_id": theirs}), 422, "form_id")
    unknown = {"owner_id": str(uuid4()), "team_id": str(uuid4())}
    assert_problem(await tenant.get("/v1/reports/overview", params=unknown), 422, "owner_id", "team_id")
