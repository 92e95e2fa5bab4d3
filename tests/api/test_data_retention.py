"""Retention that enforces itself, through HTTP on both databases: the `retention` section's
classes (defaults for a new workspace, validation) and the nightly `retention.enforce` job, which
removes exactly what aged past each class's window and reports it on its job record.

A row is made old by moving its time back before the workspace's first pass (what a row older than
the feature would look like); later nights are run with their time passed in, as the recurring
task does. (A workspace made before migration 0044 reads null for the classes:
tests/integration/test_migrations.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Table, select, update

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import new_id
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.worker import recurring
from tests.api.test_analytics import run_jobs
from tests.api.test_messages_api import EMAIL_CHANNEL, channels, lead, mail, send
from tests.conftest import Tenant, assert_problem

SITE = "https://www.shop.example"
CLASSES = ("form_submission_days", "message_body_days", "archived_lead_days", "privacy_export_days")


async def test_a_new_workspace_gets_the_default_of_each_class(tenant: Tenant) -> None:
    values = (await tenant.get("/v1/settings/retention")).json()
    assert {name: values[name] for name in CLASSES} == {
        "form_submission_days": 180,
        "message_body_days": 365,
        "archived_lead_days": None,
        "privacy_export_days": 7,
    }
    assert values["webhook_response_excerpt_days"] == 30 and values["version"] == 0


@pytest.mark.parametrize("field", CLASSES)
async def test_each_class_takes_1_to_3650_days_or_null(tenant: Tenant, field: str) -> None:
    for bad in (0, 3651, -1, "ninety", "30", 1.5, True):
        assert_problem(await tenant.patch("/v1/settings/retention", json={field: bad}), 422, field)
    for good in (1, 3650, None, 90):
        answer = await tenant.patch("/v1/settings/retention", json={field: good})
        assert answer.status_code == 200, answer.text
        assert answer.json()[field] == good
    assert (await tenant.get("/v1/settings/retention")).json()[field] == 90


# -- the nightly job -------------------------------------------------------------------------------------


async def _move_back(database: Database, table: Table, column: str, row_id: str, days: float) -> None:
    """Make a row `days` older: its `column` moved back (a row older than the workspace's first pass)."""
    async with UnitOfWork(database) as uow:
        row = table.c.id == UUID(row_id)
        moment = (await uow.execute(select(table.c[column]).where(row))).scalar_one()
        await uow.execute(update(table).where(row).values({column: moment - timedelta(days=days)}))
        await uow.commit()


async def _nightly(database: Database, tenant: Tenant, at: datetime) -> dict[str, Any]:
    """The recurring task at `at` (it queues the job), then the job run by the worker's job loop:
    the job as `GET /v1/jobs/{id}` shows it."""
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, UUID(tenant.id), SYSTEM, at, scopes=SERVICE_SCOPES)
        job = await recurring.TASKS["enforce-retention"].run(ctx)
        await uow.commit()
    assert job["kind"] == "retention.enforce" and job["status"] == "queued"
    await run_jobs(database)
    answer = await tenant.get(f"/v1/jobs/{job['id']}")
    assert answer.status_code == 200 and answer.json()["status"] == "succeeded", answer.text
    return dict(answer.json())


async def _form_submission(tenant: Tenant, form_id: str, email: str) -> dict[str, Any]:
    answer = await tenant.client.post(
        f"/v1/forms/{form_id}/submissions?utm_campaign=winter",
        json={"email": email, "first_name": "Sara", "message": "Call me"},
        headers={"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE, "User-Agent": "Mozilla/5.0"},
    )
    assert answer.status_code == 201, answer.text
    listed = (await tenant.get(f"/v1/forms/{form_id}/submissions", params={"limit": 100})).json()["data"]
    [submission] = [s for s in listed if s["id"] == answer.json()["submission_id"]]
    return dict(submission)


async def _submission(tenant: Tenant, form_id: str, submission_id: str) -> dict[str, Any]:
    listed = (await tenant.get(f"/v1/forms/{form_id}/submissions", params={"limit": 100})).json()["data"]
    [submission] = [s for s in listed if s["id"] == submission_id]
    return dict(submission)


async def _archived(tenant: Tenant, email: str, *, qualified: bool = False) -> dict[str, Any]:
    created = await tenant.post("/v1/leads", json={"first_name": "Reza", "last_name": "Karimi", "email": email,
                                                   "phone": "+989121112233", "company": "Karimi & Sons",
                                                   "job_title": "Owner", "city": "Tehran", "country": "IR",
                                                   "tags": ["expo"], "source": "event"})  # fmt: skip
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    if qualified:
        answer = await tenant.post(f"/v1/leads/{lead_id}/qualify", json={"opportunity": None})
        assert answer.status_code == 200, answer.text
    archived = await tenant.delete(f"/v1/leads/{lead_id}")
    assert archived.status_code == 200, archived.text
    return dict(archived.json())


async def _lead(tenant: Tenant, lead_id: str) -> dict[str, Any]:
    answer = await tenant.get(f"/v1/leads/{lead_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _message(tenant: Tenant, message_id: str) -> dict[str, Any]:
    answer = await tenant.get(f"/v1/messages/{message_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_the_nightly_job_removes_what_aged_past_each_window_and_reports_it(
    database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert (await tenant.patch("/v1/settings/retention", json={"archived_lead_days": 30})).status_code == 200
    form = (await tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE]})).json()
    old_submission = await _form_submission(tenant, form["id"], "old@example.com")
    new_submission = await _form_submission(tenant, form["id"], "new@example.com")
    assert old_submission["meta"]["ip"] and old_submission["meta"]["user_agent"] == "Mozilla/5.0"

    await channels(tenant, EMAIL_CHANNEL)
    reached = await lead(tenant, "reached@example.com")
    unreachable = await lead(tenant, "nobody@example.com", consent=None)
    old_blocked = await send(tenant, mail(lead_id=unreachable))  # blocked: will never be sent
    new_blocked = await send(tenant, mail(lead_id=unreachable))
    old_queued = await send(tenant, mail(lead_id=reached))  # may still be sent: its content stays
    assert (old_blocked["status"], old_queued["status"]) == ("blocked", "queued")

    old_archived = await _archived(tenant, "gone@example.com")
    old_customer = await _archived(tenant, "customer@example.com", qualified=True)
    new_archived = await _archived(tenant, "recent@example.com")
    open_lead = await _lead(tenant, reached)

    # Another workspace's old rows are not this workspace's job.
    other_form = (await other_tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE]})).json()
    other_submission = await _form_submission(other_tenant, other_form["id"], "other@example.com")
    other_archived = await _archived(other_tenant, "other-gone@example.com")
    assert (await other_tenant.patch("/v1/settings/retention", json={"archived_lead_days": 1})).status_code == 200

    s, m, ld = tables.form_submissions, tables.messages, tables.leads
    await _move_back(database, s, "created_at", old_submission["id"], 181)
    await _move_back(database, s, "created_at", other_submission["id"], 400)
    for message in (old_blocked, old_queued):
        await _move_back(database, m, "created_at", message["id"], 366)
    for archived in (old_archived, old_customer, other_archived):
        await _move_back(database, ld, "archived_at", archived["id"], 31)

    now = datetime.now(UTC)
    job = await _nightly(database, tenant, now)
    result = job["result"]
    assert {name: (entry["days"], entry["removed"]) for name, entry in result.items() if name != "as_of"} == {
        "form_submissions": (180, 1),
        "message_bodies": (365, 1),
        "archived_leads": (30, 1),
        "webhook_response_excerpts": (30, 0),
        "privacy_exports": (7, 0),
    }
    assert datetime.fromisoformat(result["as_of"]) == now
    # Everything older than the cutoff is done; the queued message holds its class back to its time.
    done = {name: datetime.fromisoformat(entry["done_before"]) for name, entry in result.items() if name != "as_of"}
    assert done["form_submissions"] == now - timedelta(days=180)
    assert done["archived_leads"] == now - timedelta(days=30)
    assert done["message_bodies"] == datetime.fromisoformat(old_queued["created_at"]) - timedelta(days=366)

    # Form submissions: the old one lost its raw fields, IP and user agent; the rest of it stays.
    cleared = await _submission(tenant, form["id"], old_submission["id"])
    assert cleared["fields"] == {}
    assert "ip" not in cleared["meta"] and "user_agent" not in cleared["meta"]
    assert cleared["meta"]["utm_campaign"] == "winter" and cleared["meta"]["origin"] == SITE
    kept = {k: cleared[k] for k in ("id", "form_id", "lead_id", "spam", "spam_reason", "merged")}
    assert kept == {k: old_submission[k] for k in kept}
    assert await _submission(tenant, form["id"], new_submission["id"]) == new_submission
    # its lead keeps what the form mapped
    assert (await _lead(tenant, old_submission["lead_id"]))["email"] == "old@example.com"

    # Messages: the old blocked one lost its content, its status and history stay; the queued one
    # (it may still be sent) and the new one keep theirs.
    forgotten = await _message(tenant, old_blocked["id"])
    assert (forgotten["subject"], forgotten["body_text"], forgotten["body_html"]) == (None, None, None)
    assert forgotten["status"] == "blocked" and forgotten["to_address"] == "nobody@example.com"
    assert [h["status"] for h in forgotten["history"]] == ["blocked"]
    for message in (old_queued, new_blocked):
        still = await _message(tenant, message["id"])
        assert still["subject"] == "Offer" and still["body_text"].startswith("Buy now"), still

    # Archived leads: the old one that never converted is anonymised, what reports count stays.
    anonymised = await _lead(tenant, old_archived["id"])
    personal = ("first_name", "last_name", "email", "phone", "company", "job_title", "city", "external_id")
    assert {name: anonymised[name] for name in personal} == dict.fromkeys(personal)
    assert anonymised["custom_fields"] == {}
    same = ("status", "source", "channel", "country", "tags", "owner_id", "stage", "score", "created_at")
    assert {k: anonymised[k] for k in same} == {k: old_archived[k] for k in same}
    assert anonymised["version"] == old_archived["version"] + 1
    events = (await tenant.get("/v1/events", params={"resource_id": old_archived["id"]})).json()["data"]
    assert events and all(e["data"] == {"redacted": True} for e in events)
    # it is not found by its email any more
    found = (await tenant.get("/v1/leads", params={"archived": "true", "q": "gone@example.com"})).json()["data"]
    assert found == []
    # the converted one, the recent one and the open lead are whole
    for whole in (old_customer, new_archived):
        assert (await _lead(tenant, whole["id"]))["email"] == whole["email"]
    assert await _lead(tenant, reached) == open_lead

    # The other workspace's rows are as they were.
    assert (await _submission(other_tenant, other_form["id"], other_submission["id"]))["fields"]
    assert (await _lead(other_tenant, other_archived["id"]))["email"] == "other-gone@example.com"

    # A second run the same night finds nothing more.
    again = (await _nightly(database, tenant, now + timedelta(minutes=5)))["result"]
    assert [again[name]["removed"] for name in done] == [0, 0, 0, 0, 0]

    # Half a year later: the rest has aged. The queued message is still left; the converted lead too.
    later = (await _nightly(database, tenant, now + timedelta(days=200)))["result"]
    assert {name: later[name]["removed"] for name in done} == {
        "form_submissions": 1, "message_bodies": 0, "archived_leads": 1, "webhook_response_excerpts": 0,
        "privacy_exports": 0,
    }  # fmt: skip
    assert (await _submission(tenant, form["id"], new_submission["id"]))["fields"] == {}
    assert (await _lead(tenant, new_archived["id"]))["email"] is None
    assert (await _lead(tenant, old_customer["id"]))["email"] == "customer@example.com"
    assert (await _message(tenant, old_queued["id"]))["body_text"].startswith("Buy now")


async def test_a_class_set_to_null_keeps_everything(database: Database, tenant: Tenant) -> None:
    nulls = dict.fromkeys(CLASSES)
    assert (await tenant.patch("/v1/settings/retention", json=nulls)).status_code == 200
    form = (await tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE]})).json()
    submission = await _form_submission(tenant, form["id"], "kept@example.com")
    archived = await _archived(tenant, "kept-lead@example.com")
    later = datetime.now(UTC) + timedelta(days=3650 * 2)
    result = (await _nightly(database, tenant, later))["result"]
    assert [result[name]["removed"] for name in result if name != "as_of"] == [0, 0, 0, 0, 0]
    assert result["form_submissions"] == {"days": None, "removed": 0, "done_before": None}
    assert await _submission(tenant, form["id"], submission["id"]) == submission
    assert (await _lead(tenant, archived["id"]))["email"] == "kept-lead@example.com"


async def test_webhook_response_excerpts_are_cleared_after_their_window(database: Database, tenant: Tenant) -> None:
    """The existing `webhook_response_excerpt_days` (30) is a class of the same job: an attempt older
    than that loses the receiver's reply; its status code, duration and error stay."""
    created = await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/crm"})
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    [event] = (await tenant.get("/v1/events", params={"type": "webhook_endpoint.created"})).json()["data"]
    now = datetime.now(UTC)
    delivery_id, old_attempt, new_attempt = new_id(), new_id(), new_id()
    workspace = {"workspace_id": UUID(tenant.id)}
    async with UnitOfWork(database) as uow:
        await uow.execute(tables.webhook_deliveries.insert().values(
            **workspace, id=delivery_id, endpoint_id=UUID(endpoint_id), event_id=UUID(event["id"]),
            event_type=event["type"], sequence=1, status="failed", attempts=2, next_attempt_at=now,
            last_attempt_at=now, last_status_code=500, created_at=now - timedelta(days=31), updated_at=now,
        ))  # fmt: skip
        for attempt_id, when in ((old_attempt, now - timedelta(days=31)), (new_attempt, now)):
            await uow.execute(tables.webhook_attempts.insert().values(
                **workspace, id=attempt_id, delivery_id=delivery_id, attempted_at=when, status_code=500,
                duration_ms=12, response_excerpt="upstream says no",
            ))  # fmt: skip
        await uow.commit()
    result = (await _nightly(database, tenant, now))["result"]
    assert result["webhook_response_excerpts"]["removed"] == 1
    detail = (await tenant.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}")).json()
    old, new = detail["attempts_log"]  # oldest first
    assert (old["response_excerpt"], old["status_code"], old["duration_ms"]) == (None, 500, 12)
    assert new["response_excerpt"] == "upstream says no"
