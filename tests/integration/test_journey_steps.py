# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""Journeys through HTTP on both databases, with a real worker, where a person relies on a rule
test_journeys.py leaves to the unit tests: the re-enrolment window, reactivate and disqualify as
steps, a wait until a time on the person's clock, an event wait's two ways on, and tasks given to
a team's next member."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from tests.conftest import Tenant, assert_problem
from tests.integration.test_email_messages import (  # noqa: F401
    app,
    client,
    running_worker,
    settled,
    tenant,
    until,
)
from tests.integration.test_journeys import at_step, ended, enrol, enrolment, journey, lead
from tests.integration.test_sms_messages import ACCOUNT, TOKEN, _callback, _form, twilio


async def enrolments_of(tenant: Tenant, journey_id: str) -> list[dict[str, Any]]:
    answer = await tenant.get(f"/v1/journeys/{journey_id}/enrolments", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def ended_ago(database: Database, enrolment_id: str, ago: timedelta) -> None:
    """The enrolment as if it had ended `ago` before now (the re-enrolment rule counts from its end)."""
    enrolments = tables.enrolments
    ended_at = datetime.now(UTC) - ago
    async with UnitOfWork(database) as uow:
        await uow.execute(
            update(enrolments)
            .where(enrolments.c.id == UUID(enrolment_id))
            .values(enrolled_at=ended_at - timedelta(minutes=5), ended_at=ended_at)
        )
        await uow.commit()


def when(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


async def test_after_days_lets_someone_who_exited_in_by_hand_only_once_the_days_have_passed(
    database: Database, tenant: Tenant
) -> None:
    document = {"name": "Once a week", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "out", "type": "exit"}], "reenrolment": {"type": "after_days", "days": 7}}  # fmt: skip
    created = await journey(tenant, document)
    assert created["reenrolment"] == {"type": "after_days", "days": 7}
    lead_id = await lead(tenant)
    async with running_worker(database):
        first = await ended(tenant, (await enrol(tenant, created["id"], lead_id))["id"])
    assert (first["status"], first["exit_reason"]) == ("exited", "exit_step")

    async def again() -> httpx.Response:
        return await tenant.post(f"/v1/journeys/{created['id']}/enrolments", json={"lead_id": lead_id})

    assert_problem(await again(), 409)  # just left
    await ended_ago(database, first["id"], timedelta(days=7) - timedelta(minutes=1))
    assert_problem(await again(), 409)  # a minute short of seven days
    await ended_ago(database, first["id"], timedelta(days=7, minutes=1))
    second = await again()
    assert second.status_code == 201, second.text
    assert second.json()["lead_id"] == lead_id and second.json()["id"] != first["id"]
    assert_problem(await again(), 409)  # and one active enrolment at a time


async def test_after_days_passes_a_triggered_person_over_until_the_days_have_passed(
    database: Database, tenant: Tenant
) -> None:
    def document(name: str, reenrolment: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "audience": "leads", "trigger": {"type": "event", "event": "lead.updated"},
                "steps": [{"id": "tell", "type": "notify", "message": name}], "reenrolment": reenrolment}  # fmt: skip

    weekly = await journey(tenant, document("Every three days at most", {"type": "after_days", "days": 3}))
    # enrols at every change: once it has, the same event was read for the journey under test too
    witness = await journey(tenant, document("Every change", {"type": "always"}))
    lead_id = await lead(tenant)

    async def change(city: str, witnessed: int) -> None:
        assert (await tenant.patch(f"/v1/leads/{lead_id}", json={"city": city})).status_code == 200

        async def read() -> list[dict[str, Any]] | None:
            rows = await enrolments_of(tenant, witness["id"])
            return rows if len(rows) == witnessed and all(r["status"] == "completed" for r in rows) else None

        await until(read)

    async with running_worker(database):
        await change("Tabriz", 1)
        [first] = await enrolments_of(tenant, weekly["id"])
        first = await ended(tenant, first["id"])
        assert (first["lead_id"], first["status"], first["trigger"]["type"]) == (lead_id, "completed", "event")
        await ended_ago(database, first["id"], timedelta(days=3) - timedelta(minutes=1))
        await change("Shiraz", 2)
        assert [r["id"] for r in await enrolments_of(tenant, weekly["id"])] == [first["id"]]  # passed over
        await ended_ago(database, first["id"], timedelta(days=3, minutes=1))
        await change("Yazd", 3)
        rows = await enrolments_of(tenant, weekly["id"])
    assert len(rows) == 2 and {r["lead_id"] for r in rows} == {lead_id}
    [latest] = [r for r in rows if r["id"] != first["id"]]
    assert latest["trigger"]["type"] == "event"
    witnessed = {r["trigger"]["event_id"] for r in await enrolments_of(tenant, witness["id"])}
    assert latest["trigger"]["event_id"] in witnessed  # enrolled by the third change, not a late read of the second


async def test_a_reactivate_step_brings_a_disqualified_lead_back_to_nurturing(
    database: Database, tenant: Tenant
) -> None:
    document = {"name": "Win back", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "back", "type": "reactivate"},
                          {"id": "tell", "type": "notify", "message": "back"}]}  # fmt: skip
    created = await journey(tenant, document)
    dropped = await lead(tenant)
    gone = await tenant.post(f"/v1/leads/{dropped}/disqualify", json={"reason": "no_budget", "note": "Next year"})
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "disqualified"
    still_open = await lead(tenant)
    async with running_worker(database):
        back = await ended(tenant, (await enrol(tenant, created["id"], dropped))["id"])
        left = await ended(tenant, (await enrol(tenant, created["id"], still_open))["id"])
    assert back["status"] == "completed"
    assert [(s["step_id"], s["result"]) for s in back["steps"]] == [("back", {"status": "nurturing"}), ("tell", None)]
    shown = (await tenant.get(f"/v1/leads/{dropped}")).json()
    assert (shown["status"], shown["disqualified_at"], shown["disqualification_reason"]) == ("nurturing", None, None)
    events = (await tenant.get("/v1/events", params={"type": "lead.reactivated"})).json()["data"]
    [event] = [e for e in events if e["data"]["id"] == dropped]
    assert event["actor"]["type"] == "system" and event["data"]["status"] == "nurturing"
    assert event["previous_attributes"]["status"] == "disqualified"
    assert event["previous_attributes"]["disqualification_reason"] == "no_budget"  # the history stays in the log
    # an open lead has nothing to reactivate: recorded, and the enrolment goes on
    assert left["status"] == "completed" and [s["step_id"] for s in left["steps"]] == ["back", "tell"]
    assert "error" in left["steps"][0]["result"]
    assert (await tenant.get(f"/v1/leads/{still_open}")).json()["status"] == "new"
    assert [e for e in events if e["data"]["id"] == still_open] == []


async def test_a_disqualify_step_uses_the_workspaces_reasons(database: Database, tenant: Tenant) -> None:
    reasons = await tenant.request("PUT", "/v1/settings/disqualification-reasons",
                                   json={"reasons": ["wrong_country", "duplicate_entry", "no_budget"]})  # fmt: skip
    assert reasons.status_code == 200, reasons.text

    def dropping(reason: str) -> dict[str, Any]:
        return {"name": f"Drop {reason}", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "drop", "type": "disqualify", "reason": reason, "note": "Outside our regions"},
                          {"id": "tell", "type": "notify", "message": "dropped"}]}  # fmt: skip

    listed = await journey(tenant, dropping("wrong_country"))
    # one of the workspace's reasons when published, removed from them since: the step cannot use it
    unlisted = await journey(tenant, dropping("no_budget"))
    reasons = await tenant.request("PUT", "/v1/settings/disqualification-reasons",
                                   json={"reasons": ["wrong_country", "duplicate_entry"]})  # fmt: skip
    assert reasons.status_code == 200, reasons.text
    dropped, kept = await lead(tenant), await lead(tenant)
    async with running_worker(database):
        done = await ended(tenant, (await enrol(tenant, listed["id"], dropped))["id"])
        refused = await ended(tenant, (await enrol(tenant, unlisted["id"], kept))["id"])
    assert done["status"] == "completed"
    assert [(s["step_id"], s["result"]) for s in done["steps"]] == [("drop", {"status": "disqualified"}),
                                                                    ("tell", None)]  # fmt: skip
    shown = (await tenant.get(f"/v1/leads/{dropped}")).json()
    assert (shown["status"], shown["disqualification_reason"]) == ("disqualified", "wrong_country")
    assert shown["disqualification_note"] == "Outside our regions" and shown["disqualified_at"]
    events = (await tenant.get("/v1/events", params={"type": "lead.disqualified"})).json()["data"]
    assert [(e["data"]["id"], e["actor"]["type"]) for e in events] == [(dropped, "system")]  # none for the refused one
    # a reason the workspace does not have: recorded as the step's error, the lead unchanged, the enrolment on
    assert refused["status"] == "completed" and [s["step_id"] for s in refused["steps"]] == ["drop", "tell"]
    error = refused["steps"][0]["result"]["error"]
    assert "wrong_country" in error and "duplicate_entry" in error  # what the workspace accepts
    unchanged = (await tenant.get(f"/v1/leads/{kept}")).json()
    assert (unchanged["status"], unchanged["disqualification_reason"]) == ("new", None)


def next_local(start: datetime, zone: str, at: time, weekdays: set[int]) -> datetime:
    """The first instant at or after `start` at which the clock in `zone` reads `at` on one of `weekdays`."""
    local = start.astimezone(ZoneInfo(zone))
    for offset in range(9):
        day = local.date() + timedelta(days=offset)
        moment = datetime.combine(day, at, tzinfo=ZoneInfo(zone))
        if day.weekday() in weekdays and moment >= start:
            return moment.astimezone(UTC)
    raise AssertionError("every week has each weekday")


async def test_an_until_wait_falls_due_at_the_next_matching_time_on_the_persons_clock(
    database: Database, tenant: Tenant
) -> None:
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    in_three_days = (datetime.now(ZoneInfo("Asia/Tehran")) + timedelta(days=3)).weekday()
    days = {in_three_days, (in_three_days + 2) % 7}  # neither today nor tomorrow, wherever they are
    document = {"name": "Morning call", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "morning", "type": "wait",
                           "until": {"time": "10:00", "weekdays": [names[d] for d in sorted(days)]}},
                          {"id": "tag", "type": "update", "set": {"tags": {"add": ["called"]}}}]}  # fmt: skip
    created = await journey(tenant, document)
    assert (await tenant.patch("/v1/workspace", json={"timezone": "Asia/Tokyo"})).status_code == 200
    tehran = await lead(tenant, timezone="Asia/Tehran")
    new_york = await lead(tenant, timezone="America/New_York")
    tokyo = await lead(tenant)  # no zone of her own: the workspace's
    people = (("Asia/Tehran", tehran), ("America/New_York", new_york), ("Asia/Tokyo", tokyo))
    started = {zone: await enrol(tenant, created["id"], person) for zone, person in people}
    async with running_worker(database):
        waiting = {zone: await at_step(tenant, begun["id"], "morning") for zone, begun in started.items()}
    due = {}
    for zone, found in waiting.items():
        [run] = found["steps"]
        assert (run["step_id"], run["finished_at"], found["waiting_event"]) == ("morning", None, None)
        due[zone] = when(found["due_at"])
        assert due[zone] == next_local(when(run["started_at"]), zone, time(10, 0), days)
        local = due[zone].astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute, local.second) == (10, 0, 0) and local.weekday() in days
    assert len(set(due.values())) == 3  # each on their own clock

    # the worker's step runner at Tehran's ten o'clock (this enrolment alone: the database is shared)
    from app.services.context import SERVICE_SCOPES, SYSTEM, Context
    from app.services.journeys import engine
    from app.services.journeys.enrolments import document_for

    async with UnitOfWork(database) as uow:
        ctx = Context(uow, UUID(tenant.id), SYSTEM, due["Asia/Tehran"], scopes=SERVICE_SCOPES)
        row = await ctx.enrolments.get(UUID(started["Asia/Tehran"]["id"]))
        assert row is not None
        await engine.run(ctx, row, await document_for(ctx, row["journey_id"], int(row["journey_version"])))
        await uow.commit()
    done = await enrolment(tenant, started["Asia/Tehran"]["id"])
    assert done["status"] == "completed"
    assert [(s["step_id"], s["result"]) for s in done["steps"]] == [
        ("morning", {"until": due["Asia/Tehran"].isoformat()}), ("tag", {"changed": ["tags"]})]  # fmt: skip
    assert (await tenant.get(f"/v1/leads/{tehran}")).json()["tags"] == ["called"]


PHONES = {"replied": "+15558675310", "silent": "+15558675311"}


async def asked_for_a_reply(tenant: Tenant, timeout_seconds: int, port: int) -> tuple[dict[str, Any], str]:
    """An SMS channel (Twilio, served on `port`) and a journey that texts, then waits for the answer:
    `thank` when it comes, `nudge` when it does not in time, `done` either way. (journey, callback URL)"""
    channel = {"type": "sms", "provider": "twilio", "name": "Twilio",
               "settings": {"account_sid": ACCOUNT, "auth_token": TOKEN, "from": "+15017122661",
                            "api_base_url": f"http://127.0.0.1:{port}"}}  # fmt: skip
    made = await tenant.post("/v1/channels", json=channel)
    assert made.status_code == 201, made.text
    policy = {"quiet_hours": None, "frequency_cap": None}
    assert (await tenant.patch("/v1/settings/messaging", json=policy)).status_code == 200
    ask = {"name": "Ask", "channel": "sms", "body_text": "Shall we call you, {{ person.first_name }}?"}
    template = await tenant.post("/v1/templates", json=ask)
    assert template.status_code == 201, template.text
    document = {"name": "Ask and listen", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "ask", "type": "send", "channel": "sms", "template_id": template.json()["id"],
                           "purpose": "transactional"},
                          {"id": "listen", "type": "wait", "event": "message.replied",
                           "timeout_seconds": timeout_seconds, "on_timeout": "nudge"},
                          {"id": "thank", "type": "update", "set": {"tags": {"add": ["replied"]}}, "next": "done"},
                          {"id": "nudge", "type": "update", "set": {"tags": {"add": ["no_reply"]}}},
                          {"id": "done", "type": "notify", "message": "asked"}]}  # fmt: skip
    created = await journey(tenant, document)
    assert created["steps"][1]["on_timeout"] == "nudge"
    return created, str(made.json()["callback_url"])


async def test_an_awaited_reply_that_comes_in_time_goes_on_down_the_usual_path(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with twilio("SM" + tenant.id.replace("-", "")) as provider:
        created, callback_url = await asked_for_a_reply(tenant, 3600, provider.port)
        lead_id = await lead(tenant, phone=PHONES["replied"])
        started = await enrol(tenant, created["id"], lead_id)
        async with running_worker(database):
            waiting = await at_step(tenant, started["id"], "listen")
            ask, listen = waiting["steps"]
            assert waiting["waiting_event"] == "message.replied"
            assert when(waiting["due_at"]) == when(listen["started_at"]) + timedelta(seconds=3600)  # the deadline
            await settled(tenant, ask["result"]["message_id"], "sent", "delivered")
            reply = _form("inbound.form", From=PHONES["replied"], Body="Yes, tomorrow", AccountSid=ACCOUNT)
            assert (await _callback(client, callback_url, reply)).status_code in (200, 204)
            done = await ended(tenant, started["id"])
    assert done["status"] == "completed"
    assert [s["step_id"] for s in done["steps"]] == ["ask", "listen", "thank", "done"]  # never `nudge`
    [replied] = (await tenant.get("/v1/events", params={"type": "message.replied"})).json()["data"]
    assert done["steps"][1]["result"] == {"event": "message.replied", "event_id": replied["id"]}
    assert replied["data"]["id"] == ask["result"]["message_id"]
    assert (await tenant.get(f"/v1/leads/{lead_id}")).json()["tags"] == ["replied"]


async def test_an_awaited_reply_that_never_comes_takes_the_timeout_path(database: Database, tenant: Tenant) -> None:
    async with twilio("SM" + tenant.id.replace("-", "")) as provider:
        created, _ = await asked_for_a_reply(tenant, 2, provider.port)
        lead_id = await lead(tenant, phone=PHONES["silent"])
        started = await enrol(tenant, created["id"], lead_id)
        async with running_worker(database):
            done = await ended(tenant, started["id"])
    assert done["status"] == "completed"
    assert [s["step_id"] for s in done["steps"]] == ["ask", "listen", "nudge", "done"]  # never `thank`
    ask, listen = done["steps"][:2]
    assert listen["result"] == {"timed_out": True}
    assert when(listen["finished_at"]) >= when(listen["started_at"]) + timedelta(seconds=2)  # not before its time
    assert ask["result"]["status"] == "queued"
    assert (await tenant.get(f"/v1/leads/{lead_id}")).json()["tags"] == ["no_reply"]


async def member(tenant: Tenant, name: str, **fields: Any) -> str:
    created = await tenant.post("/v1/members", json={"name": name, "email": f"{name.lower()}@team.example", **fields})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_task_for_a_team_goes_round_its_members_and_one_without_owner_or_team_to_no_one(
    database: Database, tenant: Tenant
) -> None:
    ana, ben, cyrus, owner = [await member(tenant, name) for name in ("Ana", "Ben", "Cyrus", "Dana")]
    team = await tenant.post("/v1/teams", json={"name": "Callers", "member_ids": [ana, ben, cyrus]})
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    to_team = await journey(tenant, {"name": "Team call", "audience": "leads", "trigger": {"type": "manual"},
                                     "steps": [{"id": "call", "type": "task", "title": "Call {{ person.first_name }}",
                                                "assign": {"team_id": team_id}}]})  # fmt: skip
    assert to_team["steps"][0]["assign"] == {"team_id": team_id}
    to_owner = await journey(tenant, {"name": "Owner call", "audience": "leads", "trigger": {"type": "manual"},
                                      "steps": [{"id": "call", "type": "task", "title": "Call"}]})  # fmt: skip

    async def task_of(journey_id: str, lead_id: str) -> dict[str, Any]:
        done = await ended(tenant, (await enrol(tenant, journey_id, lead_id))["id"])
        [run] = done["steps"]
        task = (await tenant.get(f"/v1/tasks/{run['result']['task_id']}")).json()
        assert task["assignee_id"] == run["result"]["assignee_id"] and task["lead_id"] == lead_id
        return dict(task)

    async with running_worker(database):
        # the lead's own owner is not the team's: the team's turn decides
        owned = [await lead(tenant, owner_id=owner) for _ in range(4)]
        turns = [(await task_of(to_team["id"], person))["assignee_id"] for person in owned]
        assert turns == [ana, ben, cyrus, ana]
        assert (await tenant.patch(f"/v1/members/{ben}", json={"available": False})).status_code == 200
        skipped = await task_of(to_team["id"], await lead(tenant, owner_id=owner))
        assert skipped["assignee_id"] == cyrus  # Ben's turn, but he is away
        assert (await tenant.get(f"/v1/teams/{team_id}")).json()["rr_position"] == 0  # Ana's turn next

        mine = await task_of(to_owner["id"], await lead(tenant, owner_id=owner))
        nobodys = await task_of(to_owner["id"], await lead(tenant))
    assert mine["assignee_id"] == owner
    assert nobodys["assignee_id"] is None and nobodys["title"] == "Call"  # neither owner nor team: unassigned
