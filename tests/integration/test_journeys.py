# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""Journeys through HTTP on both databases, with a real worker: define, validate, publish, enrol (by
hand and by an event), each step kind, exits by event and by condition, waits for an event,
versions, pause and resume, re-enrolment, scopes and tenancy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, update

from app.config import Settings
from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.worker.runner import Worker
from tests.conftest import Tenant, assert_problem, drain_dispatch
from tests.integration.test_email_messages import (  # noqa: F401
    _async,
    app,
    client,
    running_worker,
    setup,
    tenant,
    until,
)
from tests.smtp_server import SmtpServer


async def journey(tenant: Tenant, document: dict[str, Any], *, publish: bool = True) -> dict[str, Any]:
    created = await tenant.post("/v1/journeys", json=document)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["draft_version"], body["active_version"]) == ("draft", 1, None)
    if publish:
        published = await tenant.post(f"/v1/journeys/{body['id']}/publish")
        assert published.status_code == 200, published.text
        body = published.json()
        assert (body["status"], body["active_version"], body["draft_version"]) == ("active", 1, None)
    return dict(body)


async def lead(tenant: Tenant, **fields: Any) -> str:
    fields.setdefault("email", f"{uuid.uuid4().hex[:12]}@example.com")
    created = await tenant.post("/v1/leads", json={"first_name": "Sara", **fields})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def enrol(tenant: Tenant, journey_id: str, lead_id: str) -> dict[str, Any]:
    answer = await tenant.post(f"/v1/journeys/{journey_id}/enrolments", json={"lead_id": lead_id})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def enrolment(tenant: Tenant, enrolment_id: str) -> dict[str, Any]:
    answer = await tenant.get(f"/v1/enrolments/{enrolment_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# Generous: the worker also works through what other tests left due in the shared database, and a
# loaded machine runs it slowly; the tests that time steps bound the times they measure themselves.
PATIENCE = 60.0


async def ended(tenant: Tenant, enrolment_id: str, timeout: float = PATIENCE) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await enrolment(tenant, enrolment_id)
        return found if found["status"] != "active" else None

    result: dict[str, Any] = await until(check, timeout)
    return result


async def at_step(tenant: Tenant, enrolment_id: str, step: str) -> dict[str, Any]:
    """Once the enrolment waits at `step` (the worker ran what came before)."""

    async def check() -> dict[str, Any] | None:
        found = await enrolment(tenant, enrolment_id)
        return found if found["current_step"] == step and any(s["step_id"] == step for s in found["steps"]) else None

    result: dict[str, Any] = await until(check, PATIENCE)
    return result


async def settled_before(database: Database) -> None:
    """Advance whatever earlier tests left due (the database is shared), so a test that runs a pass
    itself counts only its own enrolments."""
    from app.services.journeys import engine

    for _ in range(20):
        if not await engine.advance_due(database, datetime.now(UTC)):
            return
    raise AssertionError("enrolments stay due")


async def test_a_journey_runs_each_step_once_in_order(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp, running_worker(database):
        await setup(tenant, smtp)
        template = await tenant.post("/v1/templates", json={"name": "Hi", "channel": "email", "subject": "Hi",
                                                             "body_text": "Hello {{ person.first_name }}"})  # fmt: skip
        assert template.status_code == 201, template.text
        document = {
            "name": "Welcome", "audience": "leads", "trigger": {"type": "manual"},
            "steps": [
                {"id": "hello", "type": "send", "channel": "email", "template_id": template.json()["id"],
                 "purpose": "transactional"},
                {"id": "pause", "type": "wait", "seconds": 1},
                {"id": "check", "type": "branch",
                 "conditions": {"all": [{"field": "tags", "op": "contains", "value": "vip"}]},
                 "then": "vip", "else": "tag"},
                {"id": "vip", "type": "exit"},
                {"id": "tag", "type": "update", "set": {"tags": {"add": ["welcomed"]}}},
                {"id": "call", "type": "task", "title": "Call {{ person.first_name }}", "due_in_seconds": 3600},
                {"id": "tell", "type": "notify", "message": "welcomed"},
            ],
        }  # fmt: skip
        created = await journey(tenant, document)
        lead_id = await lead(tenant, email="sara@example.com")
        started = await enrol(tenant, created["id"], lead_id)
        assert (started["status"], started["current_step"], started["journey_version"]) == ("active", "hello", 1)
        done = await ended(tenant, started["id"])
    assert (done["status"], done["exit_reason"]) == ("completed", None)
    runs = {s["step_id"]: s for s in done["steps"]}
    assert [s["step_id"] for s in done["steps"]] == ["hello", "pause", "check", "tag", "call", "tell"]
    assert all(s["visit"] == 1 and s["finished_at"] for s in done["steps"])
    assert runs["check"]["result"] == {"branch": "else"}
    message = (await tenant.get(f"/v1/messages/{runs['hello']['result']['message_id']}")).json()
    assert message["lead_id"] == lead_id and message["automated"] is True
    task = (await tenant.get(f"/v1/tasks/{runs['call']['result']['task_id']}")).json()
    assert task["title"] == "Call Sara" and task["lead_id"] == lead_id
    assert "welcomed" in (await tenant.get(f"/v1/leads/{lead_id}")).json()["tags"]
    timeline = (await tenant.get(f"/v1/leads/{lead_id}/timeline", params={"limit": 100})).json()
    shown = [e["data"]["step_id"] for e in timeline["data"] if e["kind"] == "journey_step"]
    assert sorted(shown) == sorted(["hello", "pause", "check", "tag", "call", "tell"])  # the journey on her timeline
    types = [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 200})).json()["data"]]
    assert types.count("journey.enrolled") == 1 and types.count("journey.completed") == 1
    assert types.count("journey.notified") == 1
    assert len(smtp.to("sara@example.com")) <= 1  # sent once at most (the worker may still be sending)


async def test_an_event_enrols_and_another_ends_the_enrolment(database: Database, tenant: Tenant) -> None:
    document = {
        "name": "Web leads", "audience": "leads",
        "trigger": {"type": "event", "event": "lead.created",
                    "conditions": {"all": [{"field": "source", "op": "eq", "value": "web_form"}]}},
        "steps": [{"id": "later", "type": "wait", "seconds": 3600}, {"id": "tag", "type": "update",
                                                                      "set": {"tags": {"add": ["late"]}}}],
        "exit_on": [{"event": "lead.updated", "conditions": {"all": [{"field": "tags", "op": "contains",
                                                                       "value": "stop"}]}}],
    }  # fmt: skip
    created = await journey(tenant, document)
    async with running_worker(database):
        other = await lead(tenant, email="event@example.com", source="event")
        web = await lead(tenant, email="web@example.com", source="web_form")

        async def enrolled() -> list[dict[str, Any]] | None:
            rows = (await tenant.get(f"/v1/journeys/{created['id']}/enrolments")).json()["data"]
            return rows if rows and rows[0]["current_step"] == "later" and rows[0]["due_at"] else None

        [row] = await until(enrolled)
        assert row["lead_id"] == web and row["trigger"]["type"] == "event" and other != web
        # a change that does not meet the exit's conditions leaves it; one that does ends it at once
        assert (await tenant.patch(f"/v1/leads/{web}", json={"city": "Tehran"})).status_code == 200
        assert (await tenant.patch(f"/v1/leads/{web}", json={"tags": ["stop"]})).status_code == 200
        done = await ended(tenant, row["id"])
    assert (done["status"], done["exit_reason"]) == ("exited", "event:lead.updated")
    assert [s["step_id"] for s in done["steps"]] == ["later"]  # the update step never ran
    stats = (await tenant.get(f"/v1/journeys/{created['id']}/stats")).json()
    assert (stats["enrolled"], stats["converted"], stats["conversion_rate"]) == (1, 1, 1.0)  # a goal reached
    assert stats["exited"] == {"event:lead.updated": 1}
    later, tag = stats["steps"]
    assert (later["step_id"], later["entered"], later["exited"]) == ("later", 1, {"event:lead.updated": 1})
    assert (tag["step_id"], tag["entered"]) == ("tag", 0)


async def test_a_wait_for_an_event_goes_on_when_it_comes(database: Database, tenant: Tenant) -> None:
    document = {
        "name": "Nudge", "audience": "leads", "trigger": {"type": "manual"},
        "steps": [{"id": "listen", "type": "wait", "event": "lead.updated", "timeout_seconds": 3600},
                  {"id": "tag", "type": "update", "set": {"tags": {"add": ["answered"]}}}],
    }  # fmt: skip
    created = await journey(tenant, document)
    lead_id = await lead(tenant)
    async with running_worker(database):
        started = await enrol(tenant, created["id"], lead_id)

        async def listening() -> dict[str, Any] | None:
            found = await enrolment(tenant, started["id"])
            return found if found["waiting_event"] else None

        waiting = await until(listening)
        assert (waiting["current_step"], waiting["waiting_event"]) == ("listen", "lead.updated")
        await asyncio.sleep(0.3)
        assert (await enrolment(tenant, started["id"]))["status"] == "active"
        assert (await tenant.patch(f"/v1/leads/{lead_id}", json={"city": "Shiraz"})).status_code == 200
        done = await ended(tenant, started["id"])
    assert done["status"] == "completed"
    assert done["steps"][0]["result"]["event"] == "lead.updated"
    assert "answered" in (await tenant.get(f"/v1/leads/{lead_id}")).json()["tags"]


async def test_a_split_records_its_variant_and_versions_keep_their_enrolments(
    database: Database, tenant: Tenant
) -> None:
    document = {
        "name": "Split", "audience": "leads", "trigger": {"type": "manual"},
        "steps": [
            {"id": "ab", "type": "split", "variants": [{"name": "a", "weight": 1, "next": "wait"},
                                                       {"name": "b", "weight": 1, "next": "wait"}]},
            {"id": "wait", "type": "wait", "seconds": 3600},
        ],
    }  # fmt: skip
    created = await journey(tenant, document)
    first = await enrol(tenant, created["id"], await lead(tenant, email="one@example.com"))
    edited = await tenant.patch(f"/v1/journeys/{created['id']}", json={"steps": [{"id": "only", "type": "wait",
                                                                                  "seconds": 3600}]})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert (edited.json()["active_version"], edited.json()["draft_version"]) == (1, 2)
    assert (await tenant.post(f"/v1/journeys/{created['id']}/publish")).json()["active_version"] == 2
    second = await enrol(tenant, created["id"], await lead(tenant, email="two@example.com"))
    async with running_worker(database):
        one = await at_step(tenant, first["id"], "wait")
        two = await at_step(tenant, second["id"], "only")
    assert one["journey_version"] == 1 and one["variant"] in ("a", "b")
    assert two["journey_version"] == 2 and two["variant"] is None
    version = (await tenant.get(f"/v1/journeys/{created['id']}/versions/1")).json()
    assert [s["id"] for s in version["document"]["steps"]] == ["ab", "wait"] and version["published_at"]
    listed = await tenant.get(f"/v1/journeys/{created['id']}/enrolments", params={"variant": one["variant"]})
    assert [e["id"] for e in listed.json()["data"]] == [first["id"]]
    stats = (await tenant.get(f"/v1/journeys/{created['id']}/stats")).json()
    assert (stats["enrolled"], stats["active"], stats["converted"]) == (2, 2, 0)
    # the active version's steps first, then those only older versions have
    shown = [(s["step_id"], s["entered"], s["waiting"]) for s in stats["steps"]]
    assert shown == [("only", 1, 1), ("ab", 1, 0), ("wait", 1, 1)]
    assert stats["split"] is None  # the active version has no split


async def test_pause_holds_due_steps_until_resume(database: Database, tenant: Tenant) -> None:
    document = {"name": "Pause", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "tag", "type": "update", "set": {"tags": {"add": ["ran"]}}}]}  # fmt: skip
    created = await journey(tenant, document)
    paused = await tenant.post(f"/v1/journeys/{created['id']}/pause")
    assert paused.json()["status"] == "paused"
    lead_id = await lead(tenant)
    assert_problem(await tenant.post(f"/v1/journeys/{created['id']}/enrolments", json={"lead_id": lead_id}), 409)
    assert (await tenant.post(f"/v1/journeys/{created['id']}/resume")).json()["status"] == "active"
    started = await enrol(tenant, created["id"], lead_id)
    assert (await tenant.post(f"/v1/journeys/{created['id']}/pause")).status_code == 200
    async with running_worker(database):
        await asyncio.sleep(0.5)
        assert (await enrolment(tenant, started["id"]))["steps"] == []  # due, but the journey is paused
        assert (await tenant.post(f"/v1/journeys/{created['id']}/resume")).status_code == 200
        done = await ended(tenant, started["id"])
    assert done["status"] == "completed"


async def test_reenrolment_rules(database: Database, tenant: Tenant) -> None:
    steps = [{"id": "tag", "type": "update", "set": {"tags": {"add": ["ran"]}}}]
    never = await journey(tenant, {"name": "Once", "audience": "leads", "trigger": {"type": "manual"}, "steps": steps})
    always = await journey(tenant, {"name": "Always", "audience": "leads", "trigger": {"type": "manual"},
                                    "steps": steps, "reenrolment": {"type": "always"}})  # fmt: skip
    lead_id = await lead(tenant)
    async with running_worker(database):
        for created in (never, always):
            first = await enrol(tenant, created["id"], lead_id)
            await ended(tenant, first["id"])
    again = await tenant.post(f"/v1/journeys/{never['id']}/enrolments", json={"lead_id": lead_id})
    assert_problem(again, 409)
    assert (await tenant.post(f"/v1/journeys/{always['id']}/enrolments", json={"lead_id": lead_id})).status_code == 201
    twice = await tenant.post(f"/v1/journeys/{always['id']}/enrolments", json={"lead_id": lead_id})
    assert_problem(twice, 409)  # one active enrolment per person


async def test_documents_are_checked_and_publishing_needs_them_complete(tenant: Tenant) -> None:
    bad = {"name": "Bad", "audience": "leads", "trigger": {"type": "manual"},
           "steps": [{"id": "a", "type": "branch", "conditions": {"all": [{"field": "score", "op": "gte",
                                                                          "value": 10}]},
                      "then": "missing", "else": "a"}]}  # fmt: skip
    assert_problem(await tenant.post("/v1/journeys", json=bad), 422, "steps.0.then")
    draft = await journey(tenant, {"name": "Draft", "audience": "leads", "trigger": {"type": "manual"},
                                   "steps": [{"id": "s", "type": "send", "channel": "email", "template_id": None,
                                              "purpose": "marketing"}]}, publish=False)  # fmt: skip
    assert_problem(await tenant.post(f"/v1/journeys/{draft['id']}/publish"), 422, "steps.0.template_id")
    built = await tenant.post("/v1/journeys", json={"template": "lead_nurture"})
    assert built.status_code == 201, built.text
    assert built.json()["template"] == "lead_nurture" and built.json()["status"] == "draft"
    assert_problem(await tenant.post("/v1/journeys", json={"template": "nope"}), 422, "template")


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    created = await journey(tenant, {"name": "Mine", "audience": "leads", "trigger": {"type": "manual"},
                                     "steps": [{"id": "w", "type": "wait", "seconds": 60}]})  # fmt: skip
    assert_problem(await other_tenant.get(f"/v1/journeys/{created['id']}"), 404)
    theirs = await lead(other_tenant)
    assert_problem(await tenant.post(f"/v1/journeys/{created['id']}/enrolments", json={"lead_id": theirs}), 422,
                   "lead_id")  # fmt: skip
    reader = await tenant.key_with("journeys:read")
    assert (await tenant.get(f"/v1/journeys/{created['id']}", key=reader)).status_code == 200
    assert_problem(await tenant.post(f"/v1/journeys/{created['id']}/pause", key=reader), 403)
    assert_problem(await tenant.get(f"/v1/journeys/{created['id']}/enrolments", key=reader), 403)  # names leads
    writer = await tenant.key_with("journeys:write", "journeys:read")
    body = {"lead_id": await lead(tenant)}
    assert_problem(await tenant.post(f"/v1/journeys/{created['id']}/enrolments", json=body, key=writer), 403)


async def test_a_schedule_enrols_whoever_its_conditions_hold_for_at_its_time(
    database: Database, tenant: Tenant
) -> None:
    document = {
        "name": "Dormant", "audience": "leads",
        "trigger": {"type": "schedule", "cron": "0 10 * * *",
                    "conditions": {"all": [{"field": "last_activity_at", "op": "older_than_days", "value": 90}]}},
        "steps": [{"id": "w", "type": "wait", "seconds": 3600}],
    }  # fmt: skip
    quiet = await lead(tenant)
    busy = await lead(tenant)
    engaged = await tenant.post(f"/v1/leads/{busy}/engagements", json={"type": "page_view"})
    assert engaged.status_code in (200, 201), engaged.text
    created = await journey(tenant, document)
    journeys = tables.journeys
    mine = journeys.c.id == UUID(created["id"])
    async with UnitOfWork(database) as uow:  # its next occurrence (tomorrow 10:00 at the latest) brought to now
        planned = (await uow.execute(select(journeys.c.next_run_at).where(mine))).scalar()
        assert planned is not None and planned > datetime.now(UTC)
        await uow.execute(update(journeys).where(mine).values(next_run_at=datetime.now(UTC)))
        await uow.commit()
    async with running_worker(database):

        async def enrolled() -> list[dict[str, Any]] | None:
            rows = (await tenant.get(f"/v1/journeys/{created['id']}/enrolments")).json()["data"]
            return rows or None

        rows = await until(enrolled)
        await asyncio.sleep(0.3)  # one occurrence, one pass: nobody else comes
    rows = (await tenant.get(f"/v1/journeys/{created['id']}/enrolments")).json()["data"]
    assert [(r["lead_id"], r["trigger"]["type"]) for r in rows] == [(quiet, "schedule")]
    async with UnitOfWork(database) as uow:
        later = (await uow.execute(select(journeys.c.next_run_at).where(mine))).scalar()
    assert later is not None and later > datetime.now(UTC)  # the next occurrence


async def test_entering_a_segment_enrols_a_contact_and_emits_its_events(database: Database, tenant: Tenant) -> None:
    async def contact(email: str, tags: list[str]) -> str:
        created = await tenant.post("/v1/contacts", json={"first_name": "Reza", "email": email, "tags": tags})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    before = await contact("before@example.com", ["vip"])
    later = await contact("later@example.com", [])
    segment = await tenant.post("/v1/segments", json={"name": "VIP", "filters": {"tag": "vip"}})
    assert segment.status_code == 201, segment.text
    document = {"name": "VIP welcome", "audience": "contacts",
                "trigger": {"type": "segment", "segment_id": segment.json()["id"]},
                "steps": [{"id": "w", "type": "wait", "seconds": 3600}]}  # fmt: skip
    created = await journey(tenant, document)
    settings = Settings(database_url=database.settings.database_url, worker_poll_seconds=0.05,
                        segment_refresh_seconds=0.2, outbound_allow_loopback=True)  # fmt: skip
    worker = Worker(database, settings)
    task = asyncio.create_task(worker.run())
    try:

        async def evaluated() -> bool:  # the first evaluation records who is in it already, without events
            async with UnitOfWork(database, write=False) as uow:
                found = select(tables.segment_evaluations.c.members).where(
                    tables.segment_evaluations.c.segment_id == UUID(segment.json()["id"])
                )
                return (await uow.execute(found)).first() is not None

        await until(evaluated)
        assert (await tenant.patch(f"/v1/contacts/{later}", json={"tags": ["vip"]})).status_code == 200
        assert (await tenant.patch(f"/v1/contacts/{before}", json={"tags": []})).status_code == 200

        async def enrolled() -> list[dict[str, Any]] | None:
            rows = (await tenant.get(f"/v1/journeys/{created['id']}/enrolments")).json()["data"]
            return rows or None

        rows = await until(enrolled)
        await asyncio.sleep(0.5)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 20)
    rows = (await tenant.get(f"/v1/journeys/{created['id']}/enrolments")).json()["data"]
    assert [(r["contact_id"], r["trigger"]["type"]) for r in rows] == [(later, "segment")]
    events = (await tenant.get("/v1/events", params={"limit": 200})).json()["data"]
    moves = [(e["type"], e["data"]["contact_id"]) for e in events if e["type"].startswith("contact.segment_")]
    assert sorted(moves) == sorted([("contact.segment_entered", later), ("contact.segment_exited", before)])


async def test_each_built_in_journey_runs_end_to_end_with_short_waits(database: Database, tenant: Tenant) -> None:
    ids = {}
    for channel in ("email", "sms"):
        body = {"name": channel, "channel": channel, "body_text": "Hello {{ person.first_name }}"}
        if channel == "email":
            body["subject"] = "Hello"
        created = await tenant.post("/v1/templates", json=body)
        assert created.status_code == 201, created.text
        ids[channel] = created.json()["id"]
    runs = []
    for name in ("lead_nurture", "speed_to_lead", "dormant_reengagement", "onboarding", "churn_rescue",
                 "inactive_reactivation"):  # fmt: skip
        draft = await tenant.post("/v1/journeys", json={"template": name})
        assert draft.status_code == 201, draft.text
        steps = []
        for step in draft.json()["steps"]:
            if step["type"] == "send":
                step["template_id"] = ids[step["channel"]]
            if step["type"] == "wait":  # a second, whatever it waited for
                step = {k: v for k, v in step.items() if k in ("id", "type", "next")} | {"seconds": 1}
            step.pop("business_hours", None)
            steps.append(step)
        edited = await tenant.patch(f"/v1/journeys/{draft.json()['id']}", json={"steps": steps})
        assert edited.status_code == 200, (name, edited.text)
        published = await tenant.post(f"/v1/journeys/{draft.json()['id']}/publish")
        assert published.status_code == 200, (name, published.text)
        if draft.json()["audience"] == "leads":
            person = {"lead_id": await lead(tenant, phone=f"+98912{len(runs):07d}")}
        else:
            contact = await tenant.post("/v1/contacts", json={"first_name": "Reza", "email": f"{name}@example.com"})
            person = {"contact_id": contact.json()["id"]}
        enrolled = await tenant.post(f"/v1/journeys/{draft.json()['id']}/enrolments", json=person)
        assert enrolled.status_code == 201, (name, enrolled.text)
        runs.append((name, enrolled.json()["id"]))
    async with running_worker(database):
        for name, enrolment_id in runs:
            done = await ended(tenant, enrolment_id, timeout=30)
            assert done["status"] in ("completed", "exited"), (name, done)
            failed = [s for s in done["steps"] if (s["result"] or {}).get("error")]
            assert failed == [], (name, failed)


async def test_a_journey_published_later_never_replays_events_from_before(database: Database, tenant: Tenant) -> None:
    document = {"name": "New leads", "audience": "leads", "trigger": {"type": "event", "event": "lead.created"},
                "steps": [{"id": "w", "type": "wait", "seconds": 3600}]}  # fmt: skip
    first = await journey(tenant, document)
    async with running_worker(database):
        await lead(tenant, email="seen@example.com")

        async def one() -> list[dict[str, Any]] | None:
            return (await tenant.get(f"/v1/journeys/{first['id']}/enrolments")).json()["data"] or None

        await until(one)
        assert (await tenant.delete(f"/v1/journeys/{first['id']}")).json()["status"] == "archived"
        before = await lead(tenant, email="before@example.com")  # no journey reads events now
        await drain_dispatch(database)  # its event numbered before the publish, however slow the machine
        second = await journey(tenant, {**document, "name": "Later"})
        after = await lead(tenant, email="after@example.com")

        async def enrolled() -> list[dict[str, Any]] | None:
            return (await tenant.get(f"/v1/journeys/{second['id']}/enrolments")).json()["data"] or None

        rows = await until(enrolled)
        await asyncio.sleep(0.3)
    rows = (await tenant.get(f"/v1/journeys/{second['id']}/enrolments")).json()["data"]
    assert [r["lead_id"] for r in rows] == [after] and before != after
    archived = (await tenant.get(f"/v1/journeys/{first['id']}/enrolments")).json()["data"]
    assert [r["exit_reason"] for r in archived] == ["journey_archived"]


async def test_a_loop_ends_at_its_visit_limit_and_a_bad_change_is_recorded_not_retried(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.journeys import engine

    monkeypatch.setattr(engine, "MAX_VISITS", 2)
    document = {"name": "Loop", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "bad", "type": "update", "set": {"fields": {"country": "Germany"}}},
                          {"id": "tell", "type": "notify", "message": "round"},
                          {"id": "pause", "type": "wait", "seconds": 1},
                          {"id": "again", "type": "branch", "conditions": {"all": []}, "then": "bad",
                           "else": "tell"}]}  # fmt: skip
    created = await journey(tenant, document)
    started = await enrol(tenant, created["id"], await lead(tenant))
    async with running_worker(database):
        done = await ended(tenant, started["id"])
    assert (done["status"], done["exit_reason"]) == ("exited", "loop_limit")
    bad = [s for s in done["steps"] if s["step_id"] == "bad"]
    assert len(bad) == 2 and all("country" in s["result"]["error"] for s in bad)
    events = (await tenant.get("/v1/events", params={"limit": 200})).json()["data"]
    assert [e["type"] for e in events].count("journey.notified") == 2  # one a round, none from a failed run
    never = {"name": "Never", "audience": "leads", "steps": [{"id": "w", "type": "wait", "seconds": 1}],
             "trigger": {"type": "schedule", "cron": "0 0 30 2 *", "conditions": {"all": []}}}  # fmt: skip
    assert_problem(await tenant.post("/v1/journeys", json=never), 422, "trigger.cron")


async def test_a_pass_writes_the_enrolment_once_where_it_stops_keeping_the_first_variant(
    database: Database, tenant: Tenant
) -> None:
    document = {
        "name": "Two splits", "audience": "leads", "trigger": {"type": "manual"},
        "steps": [
            {"id": "ab", "type": "split", "variants": [{"name": "a", "weight": 1, "next": "cd"},
                                                       {"name": "b", "weight": 1, "next": "cd"}]},
            {"id": "cd", "type": "split", "variants": [{"name": "c", "weight": 1, "next": "tag"},
                                                       {"name": "d", "weight": 1, "next": "tag"}]},
            {"id": "tag", "type": "update", "set": {"tags": {"add": ["split"]}}},
            {"id": "pause", "type": "wait", "seconds": 3600},
        ],
    }  # fmt: skip
    created = await journey(tenant, document)
    lead_id = await lead(tenant, tags=["kept"])
    started = await enrol(tenant, created["id"], lead_id)
    async with running_worker(database):
        waiting = await at_step(tenant, started["id"], "pause")
    assert waiting["variant"] in ("a", "b")  # the first split's, not the second's
    assert waiting["version"] == started["version"] + 1  # one write, where the pass left it
    assert [s["step_id"] for s in waiting["steps"]] == ["ab", "cd", "tag", "pause"]  # in their order
    assert (await tenant.get(f"/v1/leads/{lead_id}")).json()["tags"] == ["kept", "split"]


async def test_a_savepoint_takes_back_the_events_and_rows_it_queued(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        uow.add_event({"kept": True})
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                uow.add_event({"kept": False})
                uow.defer_insert(tables.journey_cursors, [{"x": 1}])
                uow.wake("journeys")
                raise RuntimeError("a step failed")
        assert uow._events == [{"kept": True}] and uow._deferred == [] and uow._wakes == set()


async def test_a_trigger_can_ask_whether_the_event_came_outside_business_hours(
    database: Database, tenant: Tenant
) -> None:
    away = (datetime.now(UTC) + timedelta(hours=12)).hour  # an hour's window half a day from now
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    window = {"start": f"{away:02d}:00", "end": f"{away:02d}:59"}
    hours = {"business_hours": {"timezone": "UTC", "days": days, "region_holidays": False, **window}}
    set_hours = await tenant.patch("/v1/settings/sla", json=hours)
    assert set_hours.status_code == 200, set_hours.text

    def after_hours(value: bool) -> dict[str, Any]:
        conditions = {"all": [{"field": "in_business_hours", "op": "eq", "value": value}]}
        return {"name": f"hours {value}", "audience": "leads",
                "trigger": {"type": "event", "event": "lead.created", "conditions": conditions},
                "steps": [{"id": "w", "type": "wait", "seconds": 3600}]}  # fmt: skip

    closed = await journey(tenant, after_hours(False))
    open_ = await journey(tenant, after_hours(True))
    async with running_worker(database):
        await lead(tenant, email="night@example.com")

        async def enrolled() -> list[dict[str, Any]] | None:
            return (await tenant.get(f"/v1/journeys/{closed['id']}/enrolments")).json()["data"] or None

        await until(enrolled)
        await asyncio.sleep(0.3)
    assert (await tenant.get(f"/v1/journeys/{open_['id']}/enrolments")).json()["data"] == []


async def test_quiet_hours_push_a_journeys_marketing_send(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        now = datetime.now(UTC)
        start, end = (now - timedelta(minutes=30)).time(), (now + timedelta(minutes=30)).time()
        quiet = {"quiet_hours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}}
        assert (await tenant.patch("/v1/settings/messaging", json=quiet)).status_code == 200
        template = await tenant.post("/v1/templates", json={"name": "Offer", "channel": "email", "subject": "Offer",
                                                             "body_text": "Hi {{ person.first_name }}"})  # fmt: skip
        document = {"name": "Offer", "audience": "leads", "trigger": {"type": "manual"},
                    "steps": [{"id": "offer", "type": "send", "channel": "email", "purpose": "marketing",
                               "template_id": template.json()["id"]}]}  # fmt: skip
        created = await journey(tenant, document)
        lead_id = await lead(tenant, timezone="UTC")
        opted = await tenant.request("PUT", f"/v1/leads/{lead_id}/consents/email",
                                     json={"status": "opted_in", "source": "api"})  # fmt: skip
        assert opted.status_code == 200, opted.text
        started = await enrol(tenant, created["id"], lead_id)
        async with running_worker(database):
            done = await ended(tenant, started["id"])
    [run] = done["steps"]
    message = (await tenant.get(f"/v1/messages/{run['result']['message_id']}")).json()
    due = datetime.fromisoformat(message["send_at"])
    assert message["status"] == "queued" and (due.hour, due.minute) == (end.hour, end.minute)  # at their end
    assert smtp.to(message["to_address"]) == []


async def test_a_customers_first_purchase_enrols_the_contact_in_onboarding(database: Database, tenant: Tenant) -> None:
    document = {"name": "Onboarding", "audience": "contacts",
                "trigger": {"type": "event", "event": "customer.converted"},
                "steps": [{"id": "w", "type": "wait", "seconds": 3600}]}  # fmt: skip
    created = await journey(tenant, document)
    buyer = await lead(tenant, email="buyer@example.com")  # the lead the customer came from
    order = {"source": "shopify", "external_id": "o-1", "status": "paid", "currency": "USD", "total": "30.00",
             "placed_at": "2026-03-01T10:00:00Z", "source_updated_at": "2026-03-01T10:00:00Z",
             "customer": {"external_id": "c-1", "email": "buyer@example.com", "first_name": "Bea"},
             "line_items": [{"sku": "MUG-1", "name": "Mug", "quantity": 1, "unit_price": "30.00"}]}  # fmt: skip
    async with running_worker(database):
        synced = await tenant.post("/v1/orders/batch", json={"orders": [order]})
        assert synced.status_code == 200, synced.text

        async def enrolled() -> list[dict[str, Any]] | None:
            return (await tenant.get(f"/v1/journeys/{created['id']}/enrolments")).json()["data"] or None

        [row] = await until(enrolled)
    contact_id = (await tenant.get(f"/v1/leads/{buyer}")).json()["contact_id"]
    assert row["contact_id"] == contact_id and row["lead_id"] is None  # the contact, not the lead it came from


async def test_a_task_names_what_the_triggering_event_carried(database: Database, tenant: Tenant) -> None:
    document = {"name": "Call web leads", "audience": "leads",
                "trigger": {"type": "event", "event": "lead.created"},
                "steps": [{"id": "call", "type": "task", "title": "Call {{ person.first_name }}",
                           "notes": "Came from {{ event.source }} ({{ event.utm_campaign }})"}]}  # fmt: skip
    created = await journey(tenant, document)
    async with running_worker(database):
        lead_id = await lead(tenant, source="web_form", utm_campaign="winter")

        async def done() -> list[dict[str, Any]] | None:
            rows = (await tenant.get(f"/v1/journeys/{created['id']}/enrolments")).json()["data"]
            return rows if rows and rows[0]["status"] == "completed" else None

        [row] = await until(done)
    [run] = (await enrolment(tenant, row["id"]))["steps"]
    task = (await tenant.get(f"/v1/tasks/{run['result']['task_id']}")).json()
    assert (task["title"], task["notes"], task["lead_id"]) == ("Call Sara", "Came from web_form (winter)", lead_id)


async def test_one_enrolment_failing_leaves_the_rest_of_its_batch_advanced_once(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    await settled_before(database)
    from app.services.journeys import engine

    document = {"name": "Tag them", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "tag", "type": "update", "set": {"tags": {"add": ["reached"]}}},
                          {"id": "tell", "type": "notify", "message": "tagged"}]}  # fmt: skip
    created = await journey(tenant, document)
    people = [await lead(tenant) for _ in range(5)]
    broken = people[2]
    started = [await enrol(tenant, created["id"], person) for person in people]
    update = engine._update

    async def failing(ctx, who, step, subject, row, writes=None):  # type: ignore[no-untyped-def]
        result = await update(ctx, who, step, subject, row, writes)  # done, then the pass fails: all undone
        if str(who.id) == broken:
            raise RuntimeError("a bug in one step")
        return result

    monkeypatch.setattr(engine, "_update", failing)
    assert await engine.advance_due(database, datetime.now(UTC)) == 5  # together first, then one by one

    by_lead = {e["lead_id"]: await enrolment(tenant, e["id"]) for e in started}
    for person in people:
        found = by_lead[person]
        tags = (await tenant.get(f"/v1/leads/{person}")).json()["tags"]
        if person == broken:  # tried again later; nothing of its failed run kept
            assert (found["status"], found["current_step"], found["steps"]) == ("active", "tag", [])
            assert tags == []
        else:
            assert found["status"] == "completed" and found["version"] == started[0]["version"] + 1
            assert [(s["step_id"], s["result"]) for s in found["steps"]] == [
                ("tag", {"changed": ["tags"]}), ("tell", None)]  # fmt: skip
            assert tags == ["reached"]
    events = (await tenant.get("/v1/events", params={"limit": 200})).json()["data"]
    kinds = [e["type"] for e in events]
    assert kinds.count("journey.completed") == 4 and kinds.count("journey.notified") == 4
    assert sum(1 for e in events if e["type"] == "lead.updated" and e["data"]["id"] == broken) == 0
    assert sum(1 for e in events if e["type"] == "lead.updated") == 4  # each tagged once

    async with UnitOfWork(database) as uow:  # the failed one is due again after RETRY_AFTER
        rows = await uow.enrolment_queue().due(datetime.now(UTC) + engine.RETRY_AFTER * 2, 100)
    ours = [r for r in rows if str(r["workspace_id"]) == tenant.id]
    assert [str(r["lead_id"]) for r in ours] == [broken] and ours[0]["failures"] == 1


async def test_changes_kept_for_the_end_of_a_batch_are_what_its_later_steps_see(
    database: Database, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    await settled_before(database)
    from app.services.journeys import engine

    document = {"name": "Two changes", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "tag", "type": "update", "set": {"tags": {"add": ["first"]}}},
                          {"id": "seen", "type": "branch", "conditions": {"field": "tags", "op": "contains",
                                                                           "value": "first"},
                           "then": "more", "else": "missed"},
                          {"id": "more", "type": "update", "set": {"tags": {"add": ["second"]}, "stage": "mql"},
                           "next": "done"},
                          {"id": "missed", "type": "notify", "message": "the change was not seen"},
                          {"id": "done", "type": "notify", "message": "done"}]}  # fmt: skip
    created = await journey(tenant, document)
    city = [{"id": "city", "type": "update", "set": {"fields": {"city": "Tabriz"}}}]
    other = await journey(tenant, {**document, "name": "Same person, another journey", "steps": city})
    people = [await lead(tenant) for _ in range(3)]
    before = {p: (await tenant.get(f"/v1/leads/{p}")).json()["version"] for p in people}
    started = [await enrol(tenant, created["id"], p) for p in people]
    await enrol(tenant, other["id"], people[0])  # two enrolments of one lead in one batch
    caplog.set_level("INFO", logger="app.services")
    assert await engine.advance_due(database, datetime.now(UTC)) == 4
    assert "one enrolment at a time" not in caplog.text  # the batch advanced together

    for person, begun in zip(people, started, strict=True):
        found = await enrolment(tenant, begun["id"])
        assert found["status"] == "completed"
        assert [s["step_id"] for s in found["steps"]] == ["tag", "seen", "more", "done"]
        assert found["steps"][1]["result"] == {"branch": "then"}
        shown = (await tenant.get(f"/v1/leads/{person}")).json()
        assert shown["tags"] == ["first", "second"] and shown["stage"] == "mql"
        changes = 3 if person == people[0] else 2
        assert shown["version"] == before[person] + changes
        if person == people[0]:
            assert shown["city"] == "Tabriz"
        found_by_tag = (await tenant.get("/v1/leads", params={"tag": "second"})).json()["data"]
        assert person in {f["id"] for f in found_by_tag}  # the tag index kept in step
    events = (await tenant.get("/v1/events", params={"type": "lead.updated", "limit": 100})).json()["data"]
    assert len(events) == 7
    versions = sorted(e["data"]["version"] for e in events if e["data"]["id"] == people[1])
    assert versions == [before[people[1]] + 1, before[people[1]] + 2]


async def test_a_lead_changed_by_someone_else_mid_batch_is_advanced_again_on_its_new_state(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite serialises writers: no one else writes while a batch advances")
    await settled_before(database)
    from app.services.journeys import engine

    document = {"name": "Tag", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "tag", "type": "update", "set": {"tags": {"add": ["journeyed"]}}}]}  # fmt: skip
    created = await journey(tenant, document)
    people = [await lead(tenant) for _ in range(3)]
    started = [await enrol(tenant, created["id"], p) for p in people]
    flush = engine._Together.flush

    async def meanwhile(self, uow, now):  # type: ignore[no-untyped-def]
        changed = await tenant.patch(f"/v1/leads/{people[1]}", json={"city": "Shiraz"})  # its own transaction
        assert changed.status_code == 200, changed.text
        await flush(self, uow, now)

    monkeypatch.setattr(engine._Together, "flush", meanwhile)
    caplog.set_level("INFO", logger="app.services")
    assert await engine.advance_due(database, datetime.now(UTC)) == 3
    assert "one enrolment at a time" in caplog.text  # the batch's version check failed: all undone, run again
    for person, begun in zip(people, started, strict=True):
        assert (await enrolment(tenant, begun["id"]))["status"] == "completed"
        shown = (await tenant.get(f"/v1/leads/{person}")).json()
        assert shown["tags"] == ["journeyed"]
    assert (await tenant.get(f"/v1/leads/{people[1]}")).json()["city"] == "Shiraz"  # both changes kept


async def test_an_older_versions_exit_rule_still_ends_the_enrolments_on_it(database: Database, tenant: Tenant) -> None:
    document = {"name": "Exit on change", "audience": "leads", "trigger": {"type": "manual"},
                "exit_on": [{"event": "lead.archived"}],
                "steps": [{"id": "wait", "type": "wait", "seconds": 3600}]}  # fmt: skip
    created = await journey(tenant, document)
    lead_id = await lead(tenant)
    first = await enrol(tenant, created["id"], lead_id)
    edited = await tenant.patch(f"/v1/journeys/{created['id']}", json={"exit_on": []})
    assert edited.status_code == 200, edited.text
    assert (await tenant.post(f"/v1/journeys/{created['id']}/publish")).json()["active_version"] == 2
    other = await lead(tenant)
    second = await enrol(tenant, created["id"], other)
    async with running_worker(database):
        await at_step(tenant, first["id"], "wait")
        await at_step(tenant, second["id"], "wait")
        assert (await tenant.delete(f"/v1/leads/{other}")).status_code == 200  # read first: events go in order
        assert (await tenant.delete(f"/v1/leads/{lead_id}")).status_code == 200
        done = await ended(tenant, first["id"])
    assert (done["status"], done["exit_reason"]) == ("exited", "event:lead.archived")
    assert (await enrolment(tenant, second["id"]))["status"] == "active"  # version 2 exits on nothing


async def test_steps_that_read_the_lead_from_the_database_see_a_change_kept_for_the_end(
    database: Database, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    await settled_before(database)
    from app.services.journeys import engine

    document = {"name": "Change then act", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "rename", "type": "update", "set": {"fields": {"company": "Acme"}}},
                          {"id": "call", "type": "task", "title": "Call {{ person.company }}", "due_in_seconds": 60},
                          {"id": "answered", "type": "update", "set": {"fields": {"status": "contacted"}}},
                          {"id": "tag", "type": "update", "set": {"tags": {"add": ["called"]}}}]}  # fmt: skip
    created = await journey(tenant, document)
    people = [await lead(tenant, company="Old") for _ in range(3)]
    started = [await enrol(tenant, created["id"], p) for p in people]
    caplog.set_level("INFO", logger="app.services")
    assert await engine.advance_due(database, datetime.now(UTC)) == 3
    assert "one enrolment at a time" not in caplog.text  # together, without a version clash
    for person, begun in zip(people, started, strict=True):
        found = await enrolment(tenant, begun["id"])
        assert found["status"] == "completed", found
        task_id = next(s for s in found["steps"] if s["step_id"] == "call")["result"]["task_id"]
        assert (await tenant.get(f"/v1/tasks/{task_id}")).json()["title"] == "Call Acme"
        shown = (await tenant.get(f"/v1/leads/{person}")).json()
        assert (shown["company"], shown["status"], shown["tags"]) == ("Acme", "contacted", ["called"])
        assert shown["first_responded_at"] is not None
