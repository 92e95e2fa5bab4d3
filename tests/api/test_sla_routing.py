"""The first-response SLA, activities, teams and routing through HTTP on both databases: deadlines
on capture, what counts as a response, breaches fired by the worker with no traffic, escalation,
round-robin fairness and skipping, rules, manual assignment, and the speed-to-lead report."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.schemas.leads.leads import LeadCreate
from app.services.context import SYSTEM, Context
from app.services.leads import leads
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.integration.test_webhooks import running_worker

SITE = "https://www.shop.example"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _capture(tenant: Tenant, *, engagement_type: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"name": "Contact", "allowed_origins": [SITE], "engagement_type": engagement_type}
    form = (await tenant.post("/v1/forms", json=body)).json()
    response = await tenant.client.post(
        f"/v1/forms/{form['id']}/submissions",
        json=fields,
        headers={"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE},
    )
    assert response.status_code == 201, response.text
    return dict((await tenant.get(f"/v1/leads/{await tenant.lead_of(response)}")).json())


async def _member(tenant: Tenant, name: str, **fields: Any) -> str:
    body = {"name": name, "email": f"{name.lower().replace(' ', '.')}@team.io", **fields}
    response = await tenant.post("/v1/members", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _team(tenant: Tenant, *member_ids: str, name: str = "Sales") -> str:
    response = await tenant.post("/v1/teams", json={"name": name, "member_ids": list(member_ids)})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _events(tenant: Tenant, event_type: str) -> list[dict[str, Any]]:
    return list((await tenant.get("/v1/events", params={"type": event_type, "limit": 100})).json()["data"])


async def _lead_at(database: Database, tenant: Tenant, when: datetime, **data: Any) -> dict[str, Any]:
    """A lead captured at `when` (the past), as the API would have created it then."""
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, when)
        row = await leads.create(ctx, LeadCreate.model_validate(data).model_dump())
        await uow.commit()
    return row


async def _around_the_clock(tenant: Tenant, **policy: Any) -> None:
    """What a test of the clock itself relies on: a deadline in plain time, whatever the day."""
    response = await tenant.patch("/v1/settings/sla", json={"business_hours": None, **policy})
    assert response.status_code == 200, response.text


async def _stored_lead(database: Database, tenant: Tenant, lead_id: str) -> dict[str, Any]:
    """Read straight from the database: no API request that could trigger anything."""
    async with UnitOfWork(database, write=False) as uow:
        row = await WorkspaceRepositories(uow, uuid.UUID(tenant.id)).leads.get(uuid.UUID(lead_id))
    assert row is not None
    return row


async def test_a_captured_lead_gets_a_deadline_and_a_members_call_meets_it(tenant: Tenant) -> None:
    await _around_the_clock(tenant)
    rep = await _member(tenant, "Rep")
    lead = await _capture(tenant, email="quick@x.io")
    assert lead["sla_status"] == "pending" and lead["first_responded_at"] is None
    assert _ts(lead["first_response_due_at"]) - _ts(lead["created_at"]) == timedelta(minutes=5)

    call = await tenant.post(
        "/v1/activities", json={"lead_id": lead["id"], "type": "call", "member_id": rep, "outcome": "connected"}
    )
    assert call.status_code == 201, call.text
    assert call.json()["first_response"] is True and call.headers["location"].endswith(call.json()["id"])
    answered = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert answered["sla_status"] == "met"
    assert 0 <= answered["first_response_seconds"] < 60
    assert answered["first_responded_at"] == call.json()["occurred_at"]
    [event] = await _events(tenant, "lead.first_responded")
    assert event["data"]["sla_status"] == "met" and event["previous_attributes"]["sla_status"] == "pending"

    again = await tenant.post("/v1/activities", json={"lead_id": lead["id"], "type": "email", "member_id": rep})
    assert again.json()["first_response"] is False
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["first_responded_at"] == answered["first_responded_at"]
    listed = (await tenant.get("/v1/activities", params={"lead_id": lead["id"]})).json()["data"]
    assert [a["type"] for a in listed] == ["email", "call"]  # newest first
    assert len(await _events(tenant, "activity.created")) == 2


async def test_automated_inbound_notes_and_memberless_activities_do_not_stop_the_clock(tenant: Tenant) -> None:
    rep = await _member(tenant, "Rep")
    lead = await _capture(tenant, email="waiting@x.io")
    for activity in (
        {"type": "email", "member_id": rep, "automated": True, "subject": "Thanks for reaching out!"},
        {"type": "email", "member_id": rep, "direction": "inbound"},
        {"type": "note", "member_id": rep, "notes": "looked them up"},
        {"type": "call"},  # logged by an integration's key, no member
    ):
        response = await tenant.post("/v1/activities", json={"lead_id": lead["id"], **activity})
        assert response.status_code == 201 and response.json()["first_response"] is False, response.text
    still = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert still["sla_status"] == "pending" and still["first_responded_at"] is None


async def test_a_member_bound_key_logs_as_that_member_and_contacted_counts_as_a_response(tenant: Tenant) -> None:
    rep = await _member(tenant, "Rep")
    key = await tenant.key_with("leads:write", member_id=rep)
    lead = await _capture(tenant, email="bound@x.io")
    logged = await tenant.post("/v1/activities", key=key, json={"lead_id": lead["id"], "type": "sms"})
    assert logged.json()["member_id"] == rep and logged.json()["first_response"] is True

    other = await _capture(tenant, email="moved@x.io")
    moved = await tenant.patch(f"/v1/leads/{other['id']}", json={"status": "contacted"})
    assert moved.status_code == 200
    assert moved.json()["sla_status"] == "met" and moved.json()["first_responded_at"] is not None


async def test_activity_input_is_checked_and_stays_in_its_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    foreign_lead = await _capture(other_tenant, email="theirs@x.io")
    foreign_member = await _member(other_tenant, "Theirs")
    mine = await _capture(tenant, email="mine@x.io")
    assert_problem(
        await tenant.post("/v1/activities", json={"lead_id": foreign_lead["id"], "type": "call"}), 422, "lead_id"
    )
    assert_problem(
        await tenant.post("/v1/activities", json={"lead_id": mine["id"], "type": "call", "member_id": foreign_member}),
        422,
        "member_id",
    )
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert_problem(
        await tenant.post("/v1/activities", json={"lead_id": mine["id"], "type": "call", "occurred_at": future}),
        422,
        "occurred_at",
    )
    assert_problem(await tenant.post("/v1/activities", json={"lead_id": mine["id"], "type": "fax"}), 422, "type")
    assert (await tenant.get("/v1/activities", params={"lead_id": foreign_lead["id"]})).json()["data"] == []
    assert (await other_tenant.get(f"/v1/leads/{foreign_lead['id']}")).json()["sla_status"] == "pending"


async def test_imports_and_batches_are_exempt_unless_asked(tenant: Tenant) -> None:
    imported = (await tenant.post("/v1/leads", json={"email": "old@x.io", "source": "import"})).json()
    assert imported["sla_status"] == "not_applicable" and imported["first_response_due_at"] is None
    batch = (await tenant.post("/v1/leads/batch", json={"leads": [{"email": "b1@x.io", "source": "web_form"}]})).json()
    loaded = (await tenant.get(f"/v1/leads/{batch['results'][0]['id']}")).json()
    assert loaded["sla_status"] == "not_applicable"
    leads = [{"email": "b2@x.io", "source": "web_form"}, {"email": "b3@x.io", "source": "event"}]
    asked = (await tenant.post("/v1/leads/batch", params={"apply_sla": "true"}, json={"leads": leads})).json()
    statuses = [(await tenant.get(f"/v1/leads/{r['id']}")).json()["sla_status"] for r in asked["results"]]
    assert statuses == ["pending", "not_applicable"]  # an event lead is offline: outside the 5-minute rule


async def test_sla_settings_business_hours_follow_the_region_and_are_validated(
    tenant: Tenant, database: Database
) -> None:
    defaults = (await tenant.get("/v1/settings/sla")).json()
    assert (defaults["target_seconds"], defaults["escalation"]) == (300, "none")
    assert defaults["sources"] == ["web_form", "landing_page", "chat", "social", "ads"]
    assert defaults["business_hours"] == {"timezone": None, "days": None, "start": "09:00:00", "end": "17:00:00",
                                          "holidays": [], "region_holidays": True, "removed_holidays": []}  # fmt: skip
    assert_problem(await tenant.patch("/v1/settings/sla", json={"target_seconds": 0}), 422, "target_seconds")
    bad_hours = {"business_hours": {"start": "17:00", "end": "09:00"}}
    assert_problem(await tenant.patch("/v1/settings/sla", json=bad_hours), 422, "business_hours")
    assert_problem(
        await tenant.patch("/v1/settings/sla", json={"business_hours": {"days": ["funday"]}}),
        422,
        "business_hours.days.0",
    )

    hours = {"business_hours": {"start": "09:00", "end": "17:00"}}  # days: the region's week
    assert (await tenant.patch("/v1/settings/sla", json=hours)).status_code == 200
    assert (await _capture(tenant, email="utc@x.io"))["sla_status"] == "pending"  # the policy read in UTC
    await tenant.patch("/v1/workspace", json={"timezone": "Asia/Tehran", "default_region": "IR"})  # read anew
    thursday_evening = datetime.fromisoformat("2026-11-26T20:00:00+03:30")  # Thursday; Friday is the weekend
    lead = await _lead_at(database, tenant, thursday_evening, email="weekend@x.io", source="web_form")
    assert lead["first_response_due_at"] == datetime.fromisoformat("2026-11-28T09:05:00+03:30")  # Saturday

    assert (await tenant.patch("/v1/settings/sla", json={"enabled": False})).status_code == 200
    assert (await _capture(tenant, email="off@x.io"))["sla_status"] == "not_applicable"
    await tenant.patch("/v1/settings/sla", json={"enabled": True, "sources": ["chat"]})
    assert (await _capture(tenant, email="form@x.io"))["sla_status"] == "not_applicable"  # web_form not covered


def _tehran(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Asia/Tehran"))  # type: ignore[misc]


async def test_the_5_minute_rule_covers_website_and_ads_leads_in_tehrans_working_week(
    database: Database, client: httpx.AsyncClient
) -> None:
    tehran = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    card = await tehran.post("/v1/leads", json={"email": "card@x.io", "source": "business_card"})
    assert card.status_code == 201, card.text
    assert (card.json()["sla_status"], card.json()["first_response_due_at"]) == ("not_applicable", None)
    for source in ("event", "phone", "import"):
        offline = (await tehran.post("/v1/leads", json={"email": f"{source}@x.io", "source": source})).json()
        assert offline["sla_status"] == "not_applicable", source
    ads = (await tehran.post("/v1/leads", json={"email": "ad@x.io", "source": "ads"})).json()
    assert ads["sla_status"] == "pending"
    outside = (await tehran.get("/v1/leads", params={"sla_status": "not_applicable", "sort": "created_at"})).json()
    assert [lead["source"] for lead in outside["data"]] == ["business_card", "event", "phone", "import"]

    # Thursday 20:00: Thursday evening and Friday are outside Iran's week; Saturday opens at 09:00.
    web = await _lead_at(database, tehran, _tehran(2026, 11, 26, 20, 0), email="web@x.io", source="web_form")
    shown = (await tehran.get(f"/v1/leads/{web['id']}")).json()
    assert (shown["sla_status"], shown["first_response_due_at"]) == ("pending", "2026-11-28T05:35:00.000000Z")
    assert _ts(shown["first_response_due_at"]) == _tehran(2026, 11, 28, 9, 5)

    # A business-card lead answered is measured, but it is no part of the 5-minute rule's report.
    rep = await _member(tehran, "Rep")
    for lead_id in (card.json()["id"], shown["id"]):
        await tehran.post("/v1/activities", json={"lead_id": lead_id, "type": "call", "member_id": rep})
    answered = (await tehran.get(f"/v1/leads/{card.json()['id']}")).json()
    assert answered["sla_status"] == "not_applicable" and answered["first_responded_at"] is not None
    since = {"group_by": "source", "from": "2026-11-01"}  # the dated lead stays in range whenever this runs
    by_source = (await tehran.get("/v1/reports/speed-to-lead", params=since)).json()
    assert {g["key"]: g["leads"] for g in by_source["groups"]} == {"web_form": 1, "ads": 1}


async def test_region_holidays_the_workspaces_own_and_the_removed_ones(
    database: Database, client: httpx.AsyncClient
) -> None:
    tehran = await make_tenant(database, client, "Nowruz shop", region="IR", timezone="Asia/Tehran")
    thursday = _tehran(2026, 3, 19, 20, 0)  # Friday 20 March and Nowruz (Saturday 21 to Tuesday 24) are off

    async def due(email: str, **hours: Any) -> datetime:
        if hours:
            answer = await tehran.patch("/v1/settings/sla", json={"business_hours": hours})
            assert answer.status_code == 200, answer.text
        lead = await _lead_at(database, tehran, thursday, email=email, source="web_form")
        return _ts((await tehran.get(f"/v1/leads/{lead['id']}")).json()["first_response_due_at"])

    assert await due("nowruz@x.io") == _tehran(2026, 3, 25, 9, 5)
    assert await due("tuesday@x.io", removed_holidays=["2026-03-24"]) == _tehran(2026, 3, 24, 9, 5)
    assert await due("own@x.io", holidays=["2026-03-25"]) == _tehran(2026, 3, 28, 9, 5)  # then Thursday, Friday
    assert await due("none@x.io", region_holidays=False) == _tehran(2026, 3, 21, 9, 5)

    both = {"business_hours": {"holidays": ["2026-03-24"], "removed_holidays": ["2026-03-24"]}}
    assert_problem(await tehran.patch("/v1/settings/sla", json=both), 422, "business_hours.removed_holidays")
    not_a_date = {"business_hours": {"removed_holidays": ["24/03/2026"]}}
    assert_problem(await tehran.patch("/v1/settings/sla", json=not_a_date), 422, "business_hours.removed_holidays.0")


async def test_a_workspace_that_kept_the_earlier_policy_times_every_source_around_the_clock(
    database: Database, client: httpx.AsyncClient
) -> None:
    """What workspaces made before the 5-minute rule's defaults keep (stored by migration 0030)."""
    tehran = await make_tenant(database, client, "Old shop", region="IR", timezone="Asia/Tehran")
    await _around_the_clock(tehran, sources=None)
    thursday = _tehran(2026, 11, 26, 20, 0)
    card = await _lead_at(database, tehran, thursday, email="card@x.io", source="business_card")
    assert (card["sla_status"], card["first_response_due_at"]) == ("pending", _tehran(2026, 11, 26, 20, 5))
    imported = await _lead_at(database, tehran, thursday, email="old@x.io", source="import")
    assert imported["sla_status"] == "not_applicable"


async def test_a_breach_is_caught_by_the_worker_at_the_deadline_with_no_request(
    tenant: Tenant, database: Database
) -> None:
    await _around_the_clock(tenant, target_seconds=2)
    # the poll finds a new lead's deadline (at least the SLA target away), then the worker sleeps until it
    async with running_worker(database, worker_poll_seconds=1.0):
        lead = await _capture(tenant, email="forgotten@x.io")
        due = _ts(lead["first_response_due_at"])
        for _ in range(300):  # read the database directly: no API call may cause the breach
            if (await _stored_lead(database, tenant, lead["id"]))["sla_status"] == "breached":
                break
            await asyncio.sleep(0.1)
    stored = await _stored_lead(database, tenant, lead["id"])
    assert stored["sla_status"] == "breached"
    [event] = await _events(tenant, "lead.sla_breached")
    assert event["data"]["id"] == lead["id"] and event["actor"]["type"] == "system"
    lag = (_ts(event["occurred_at"]) - due).total_seconds()
    assert 0 <= lag < 10, f"breached {lag:.2f} s after the deadline"  # slack for a loaded machine
    # A late response is measured but the breach stands.
    rep = await _member(tenant, "Late")
    await tenant.post("/v1/activities", json={"lead_id": lead["id"], "type": "call", "member_id": rep})
    late = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert late["sla_status"] == "breached" and late["first_response_seconds"] >= 2


async def test_a_pending_lead_without_a_deadline_does_not_hold_up_the_others_breaches(
    tenant: Tenant, database: Database
) -> None:
    """A pending clock with no deadline (written by hand or by an older version) is never due; the
    worker still wakes for the real deadlines (SQLite sorts NULLs first)."""
    await _around_the_clock(tenant, target_seconds=2)
    odd = await _capture(tenant, email="no-deadline@x.io")
    async with UnitOfWork(database) as uow:
        await WorkspaceRepositories(uow, uuid.UUID(tenant.id)).leads.set_columns(
            uuid.UUID(odd["id"]), {"first_response_due_at": None}
        )
        await uow.commit()
    async with running_worker(database, worker_poll_seconds=1.0):
        lead = await _capture(tenant, email="waiting@x.io")
        for _ in range(100):
            if (await _stored_lead(database, tenant, lead["id"]))["sla_status"] == "breached":
                break
            await asyncio.sleep(0.1)
    assert (await _stored_lead(database, tenant, lead["id"]))["sla_status"] == "breached"
    assert (await _stored_lead(database, tenant, odd["id"]))["sla_status"] == "pending"


async def test_escalation_notifies_the_owners_manager(tenant: Tenant, database: Database) -> None:
    boss = await _member(tenant, "Boss")
    rep = await _member(tenant, "Rep", manager_id=boss)
    await _around_the_clock(tenant, target_seconds=1, escalation="notify_manager")
    lead = (await tenant.post("/v1/leads", json={"email": "vip@x.io", "source": "ads", "owner_id": rep})).json()
    async with running_worker(database, worker_poll_seconds=1.0):
        for _ in range(100):
            if await _events(tenant, "lead.sla_escalated"):
                break
            await asyncio.sleep(0.1)
    [event] = await _events(tenant, "lead.sla_escalated")
    assert event["data"] == {
        "lead_id": lead["id"],
        "action": "notify_manager",
        "owner_id": rep,
        "manager_id": boss,
        "to_member_id": None,
        "team_id": None,
    }


async def test_escalation_reassigns_to_the_next_member_of_the_team(tenant: Tenant, database: Database) -> None:
    first, second = await _member(tenant, "First"), await _member(tenant, "Second")
    team = await _team(tenant, first, second)
    assert (await tenant.request("PUT", "/v1/settings/routing", json={"rules": [{"team_id": team}]})).status_code == 200
    await _around_the_clock(tenant, target_seconds=1, escalation="reassign")
    lead = await _capture(tenant, email="slow@x.io")
    assert (lead["owner_id"], lead["team_id"]) == (first, team)
    async with running_worker(database, worker_poll_seconds=1.0):
        for _ in range(100):
            if (await _stored_lead(database, tenant, lead["id"]))["sla_status"] == "breached":
                break
            await asyncio.sleep(0.1)
    reassigned = (await tenant.get(f"/v1/leads/{lead['id']}")).json()
    assert reassigned["owner_id"] == second and reassigned["sla_status"] == "breached"
    history = (await tenant.get(f"/v1/leads/{lead['id']}/assignments")).json()["data"]
    assert [(h["reason"], h["from_member_id"], h["to_member_id"]) for h in history] == [
        ("rule", None, first),
        ("sla_escalation", first, second),
    ]
    [event] = await _events(tenant, "lead.sla_escalated")
    assert event["data"]["action"] == "reassign" and event["data"]["to_member_id"] == second


async def test_round_robin_is_fair_and_skips_the_away_the_full_and_the_inactive(tenant: Tenant) -> None:
    a, b, c = await _member(tenant, "Ana"), await _member(tenant, "Ben"), await _member(tenant, "Cyrus")
    team = await _team(tenant, a, b, c)
    assert (await tenant.request("PUT", "/v1/settings/routing", json={"rules": [{"team_id": team}]})).status_code == 200
    owners = [(await _capture(tenant, email=f"rr{n}@x.io"))["owner_id"] for n in range(6)]
    assert owners == [a, b, c, a, b, c]
    await tenant.patch(f"/v1/members/{b}", json={"available": False})  # on leave
    await tenant.patch(f"/v1/members/{c}", json={"capacity": 2})  # owns 2 open leads: full
    owners = [(await _capture(tenant, email=f"rs{n}@x.io"))["owner_id"] for n in range(2)]
    assert owners == [a, a]
    await tenant.patch(f"/v1/members/{a}", json={"active": False})
    nobody = await _capture(tenant, email="nobody@x.io")
    assert nobody["owner_id"] is None and nobody["team_id"] == team  # routed to the team, waiting for someone
    assigned = await _events(tenant, "lead.assigned")
    assert len(assigned) == 9 and assigned[0]["data"]["reason"] == "rule"
    assert (await tenant.get(f"/v1/teams/{team}")).json()["rr_position"] == 1


async def test_members_working_hours_and_availability_are_validated(tenant: Tenant) -> None:
    rep = await _member(tenant, "Rep", working_hours={"days": ["saturday", "sunday"], "start": "09:00", "end": "18:00"})
    shown = (await tenant.get(f"/v1/members/{rep}")).json()
    assert shown["available"] is True
    assert shown["working_hours"] == {"days": ["saturday", "sunday"], "start": "09:00:00", "end": "18:00:00"}
    bad = {"working_hours": {"days": ["monday"], "start": "18:00", "end": "09:00"}}
    assert_problem(await tenant.patch(f"/v1/members/{rep}", json=bad), 422, "working_hours")
    assert_problem(await tenant.patch(f"/v1/members/{rep}", json={"working_hours": {"days": []}}), 422)
    with_offset = {"working_hours": {"days": ["monday"], "start": "09:00+03:30", "end": "17:00"}}
    assert_problem(await tenant.patch(f"/v1/members/{rep}", json=with_offset), 422, "working_hours.start")
    offset_hours = {"business_hours": {"start": "09:00", "end": "17:00Z"}}
    assert_problem(await tenant.patch("/v1/settings/sla", json=offset_hours), 422, "business_hours.end")


async def test_hot_leads_go_straight_to_the_sales_team_before_any_rule(tenant: Tenant) -> None:
    seller, everyone = await _member(tenant, "Seller"), await _member(tenant, "Everyone")
    sales = await _team(tenant, seller)
    routing = {"hot_team_id": sales, "rules": [{"member_id": everyone}]}
    assert (await tenant.request("PUT", "/v1/settings/routing", json=routing)).status_code == 200
    hot = await _capture(tenant, engagement_type="demo_request", email="ceo@x.io")  # a demo form: hot at capture
    cold = await _capture(tenant, email="student@x.io", job_title="CEO")  # fit alone never makes a lead hot
    assert (hot["temperature"], hot["owner_id"], hot["team_id"]) == ("hot", seller, sales)
    assert (cold["owner_id"], cold["team_id"]) == (everyone, None)
    reasons = {e["data"]["lead_id"]: e["data"]["reason"] for e in await _events(tenant, "lead.assigned")}
    assert reasons == {hot["id"]: "hot_lead", cold["id"]: "rule"}


async def test_rules_by_country_then_manual_assignment_keeps_history(tenant: Tenant) -> None:
    iran, other = await _member(tenant, "Iran Desk"), await _member(tenant, "Other")
    team = await _team(tenant, other)
    rules = {"rules": [{"name": "Iran", "when": {"countries": ["IR"], "sources": ["web_form"]}, "member_id": iran}]}
    assert (await tenant.request("PUT", "/v1/settings/routing", json=rules)).status_code == 200
    lead = await _capture(tenant, email="tehran@x.io", country="IR")
    unrouted = await _capture(tenant, email="berlin@x.io", country="DE")
    assert lead["owner_id"] == iran and unrouted["owner_id"] is None
    assert (await tenant.get(f"/v1/leads/{unrouted['id']}/assignments")).json()["data"] == []

    moved = await tenant.post(f"/v1/leads/{lead['id']}/assign", json={"member_id": other})
    assert moved.status_code == 200 and moved.json()["owner_id"] == other
    via_team = await tenant.post(f"/v1/leads/{unrouted['id']}/assign", json={"team_id": team})
    assert via_team.json()["owner_id"] == other and via_team.json()["team_id"] == team
    patched = await tenant.patch(f"/v1/leads/{lead['id']}", json={"owner_id": iran})
    assert patched.json()["owner_id"] == iran
    history = (await tenant.get(f"/v1/leads/{lead['id']}/assignments")).json()["data"]
    assert [(h["reason"], h["rule_index"], h["to_member_id"]) for h in history] == [
        ("rule", 0, iran),
        ("manual", None, other),
        ("manual", None, iran),
    ]
    assert_problem(await tenant.post(f"/v1/leads/{lead['id']}/assign", json={}), 422, "member_id")
    assert_problem(
        await tenant.post(f"/v1/leads/{lead['id']}/assign", json={"member_id": str(uuid.uuid4())}), 422, "member_id"
    )
    assert (await tenant.get("/v1/leads", params={"team_id": team})).json()["data"][0]["id"] == unrouted["id"]


async def test_routing_settings_and_teams_name_only_this_workspaces_people(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await _member(other_tenant, "Theirs")
    their_team = await _team(other_tenant, theirs)
    put = "/v1/settings/routing"
    assert_problem(await tenant.request("PUT", put, json={"rules": [{"member_id": theirs}]}), 422, "rules.0.member_id")
    assert_problem(await tenant.request("PUT", put, json={"rules": [{"team_id": their_team}]}), 422, "rules.0.team_id")
    assert_problem(await tenant.request("PUT", put, json={"hot_team_id": their_team}), 422, "hot_team_id")
    mine = await _member(tenant, "Mine")
    both = {"rules": [{"member_id": mine, "team_id": their_team}]}
    assert_problem(await tenant.request("PUT", put, json=both), 422, "rules.0")
    assert_problem(await tenant.post("/v1/teams", json={"name": "X", "member_ids": [theirs]}), 422, "member_ids.0")
    assert_problem(await tenant.post("/v1/teams", json={"name": "X", "member_ids": [mine, mine]}), 422, "member_ids")

    team = await _team(tenant, mine)
    assert (await tenant.request("PUT", put, json={"hot_team_id": team})).status_code == 200
    assert_problem(await tenant.delete(f"/v1/teams/{team}"), 409)
    assert (await tenant.request("PUT", put, json={"hot_team_id": None})).status_code == 200
    assert (await tenant.delete(f"/v1/teams/{team}")).status_code == 200
    assert_problem(await tenant.get(f"/v1/teams/{team}"), 404)
    assert [e["type"] for e in reversed(await _events(tenant, "team.created"))] == ["team.created"]


async def test_speed_to_lead_report_buckets_and_percentiles(tenant: Tenant, database: Database) -> None:
    await _around_the_clock(tenant)  # response times in plain time
    ana, ben = await _member(tenant, "Ana"), await _member(tenant, "Ben")
    now = utcnow()
    ages = {"2m": (timedelta(minutes=2), ana), "10m": (timedelta(minutes=10), ana), "2h": (timedelta(hours=2), ben)}
    ages["30h"] = (timedelta(hours=30), ben)
    created = {}
    for name, (age, owner) in ages.items():
        created[name] = await _lead_at(
            database, tenant, now - age, email=f"{name}@x.io", source="web_form", owner_id=owner
        )
    never = await _lead_at(database, tenant, now - timedelta(hours=1), email="never@x.io", source="chat", owner_id=ben)
    for name, (_age, owner) in ages.items():
        response = await tenant.post(
            "/v1/activities",
            json={
                "lead_id": str(created[name]["id"]),
                "type": "call",
                "member_id": owner,
                "occurred_at": now.isoformat(),
            },
        )
        assert response.json()["first_response"] is True
    report = (await tenant.get("/v1/reports/speed-to-lead")).json()
    overall = report["overall"]
    assert (overall["leads"], overall["responded"], overall["pending"]) == (5, 4, 1)
    assert overall["buckets"] == {"under_5m": 1, "5m_30m": 1, "30m_60m": 0, "1h_24h": 1, "over_24h": 1, "never": 1}
    # Nearest rank, as every report: of 120, 600, 7,200 and 108,000 s the median is the 2nd, p90 the 4th.
    assert abs(overall["p50_seconds"] - 600) < 1 and abs(overall["p90_seconds"] - 30 * 3600) < 1
    assert overall["within_sla_share"] == 0.25 and overall["breached"] == 3

    by_owner = (await tenant.get("/v1/reports/speed-to-lead", params={"group_by": "owner"})).json()["groups"]
    assert {g["key"]: (g["leads"], g["responded"]) for g in by_owner} == {ben: (3, 2), ana: (2, 2)}
    by_source = (await tenant.get("/v1/reports/speed-to-lead", params={"group_by": "source"})).json()["groups"]
    assert {g["key"]: g["leads"] for g in by_source} == {"web_form": 4, "chat": 1}
    window = {"created_after": (now - timedelta(hours=3)).isoformat(), "group_by": "owner"}
    assert (await tenant.get("/v1/reports/speed-to-lead", params=window)).json()["overall"]["leads"] == 4
    assert_problem(await tenant.get("/v1/reports/speed-to-lead", params={"group_by": "moon"}), 422, "group_by")
    both = {"created_after": now.isoformat(), "from": now.date().isoformat()}
    assert_problem(await tenant.get("/v1/reports/speed-to-lead", params=both), 422, "from")

    # The reports' range and filters: local days (the leads above are all of the last 90), an owner.
    days = {"from": (now - timedelta(days=2)).date().isoformat(), "to": now.date().isoformat()}
    ranged = (await tenant.get("/v1/reports/speed-to-lead", params=days)).json()
    assert ranged["overall"]["leads"] == 5 and (ranged["from"], ranged["to"]) == (days["from"], days["to"])
    assert ranged["created_after"] is not None and ranged["created_before"] is not None
    anas = (await tenant.get("/v1/reports/speed-to-lead", params={"owner_id": ana})).json()["overall"]
    assert (anas["leads"], anas["responded"], anas["p50_seconds"]) == (2, 2, anas["p50_seconds"])
    assert abs(anas["p50_seconds"] - 120) < 1  # of 120 and 600 s: the 1st
    before = {"to": (now - timedelta(days=3)).date().isoformat()}
    assert (await tenant.get("/v1/reports/speed-to-lead", params=before)).json()["overall"]["leads"] == 0

    # As CSV: the overall row, then the groups.
    table = await tenant.get("/v1/reports/speed-to-lead", params={"group_by": "owner"},
                             headers={"Accept": "text/csv"})  # fmt: skip
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    lines = table.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("section,key,leads,responded,p50_seconds")
    assert lines[1].startswith("total,,5,4,600") and {line.split(",")[1] for line in lines[2:]} == {ana, ben}

    pending = (await tenant.get("/v1/leads", params={"sla_status": "pending"})).json()["data"]
    assert [p["id"] for p in pending] == [str(never["id"])]
    due_soon = {"first_response_due_before": (now + timedelta(hours=1)).isoformat(), "sla_status": "pending"}
    assert len((await tenant.get("/v1/leads", params=due_soon)).json()["data"]) == 1


async def test_speed_to_lead_needs_reports_or_leads_read_and_counts_only_its_workspace(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await _around_the_clock(other_tenant)
    await _capture(other_tenant, email="theirs@x.io")
    assert (await tenant.get("/v1/reports/speed-to-lead")).json()["overall"]["leads"] == 0
    for scope in ("reports:read", "leads:read"):
        key = await tenant.key_with(scope)
        assert (await tenant.get("/v1/reports/speed-to-lead", key=key)).status_code == 200, scope
    assert_problem(await tenant.get("/v1/reports/speed-to-lead", key=await tenant.key_with("tasks:read")), 403)
    assert_problem(await tenant.get("/v1/reports/speed-to-lead", headers={"Accept": "image/png"}), 406)
