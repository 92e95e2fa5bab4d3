# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""Exit rules without an event end an enrolment as soon as they hold, during a wait: whatever
event names the person (a change, a consent), or an engagement recorded through the API (which
emits none). Consent and a customer's activity are fields conditions can read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.session import Database
from tests.conftest import Tenant
from tests.integration.test_email_messages import app, client, running_worker, tenant, until  # noqa: F401
from tests.integration.test_journeys import at_step, ended, enrol, journey, lead


def waiting(exit_on: list[dict[str, Any]], audience: str = "leads") -> dict[str, Any]:
    return {
        "name": "Wait a week", "audience": audience, "trigger": {"type": "manual"},
        "steps": [{"id": "week", "type": "wait", "seconds": 7 * 86400},
                  {"id": "tag", "type": "update", "set": {"tags": {"add": ["waited"]}}}],
        "exit_on": exit_on,
    }  # fmt: skip


async def test_a_condition_that_comes_true_during_a_wait_ends_the_enrolment_at_once(
    database: Database, tenant: Tenant
) -> None:
    created = await journey(tenant, waiting([{"conditions": {"all": [{"field": "city", "op": "eq",
                                                                        "value": "Shiraz"}]}}]))  # fmt: skip
    async with running_worker(database):
        person = await lead(tenant)
        row = await enrol(tenant, created["id"], person)
        await at_step(tenant, row["id"], "week")
        assert (await tenant.patch(f"/v1/leads/{person}", json={"city": "Tehran"})).status_code == 200
        assert (await tenant.patch(f"/v1/leads/{person}", json={"city": "Shiraz"})).status_code == 200
        done = await ended(tenant, row["id"])
    assert (done["status"], done["exit_reason"]) == ("exited", "conditions")
    assert [s["step_id"] for s in done["steps"]] == ["week"]  # a week early: the update never ran
    assert datetime.fromisoformat(done["ended_at"]) < datetime.now(UTC) + timedelta(minutes=1)


async def test_an_engagement_recorded_through_the_api_ends_it_in_the_same_request(
    database: Database, tenant: Tenant
) -> None:
    rule = {"conditions": {"all": [{"field": "engagements.meeting_booked", "op": "gte", "value": 1}]}}
    created = await journey(tenant, waiting([rule]))
    person, other = await lead(tenant), await lead(tenant)
    async with running_worker(database):
        row = await enrol(tenant, created["id"], person)
        stays = await enrol(tenant, created["id"], other)
        await at_step(tenant, row["id"], "week")
        await at_step(tenant, stays["id"], "week")
    # No worker now: the request itself ends it.
    page_view = await tenant.post(f"/v1/leads/{person}/engagements", json={"type": "page_view"})
    assert page_view.status_code in (200, 201), page_view.text
    assert (await tenant.get(f"/v1/enrolments/{row['id']}")).json()["status"] == "active"
    booked = await tenant.post(f"/v1/leads/{person}/engagements", json={"type": "meeting_booked"})
    assert booked.status_code in (200, 201), booked.text
    done = (await tenant.get(f"/v1/enrolments/{row['id']}")).json()
    assert (done["status"], done["exit_reason"]) == ("exited", "conditions")
    batch = await tenant.post("/v1/engagements", json={"engagements": [
        {"lead_id": other, "type": "meeting_booked"}]})  # fmt: skip
    assert batch.status_code in (200, 201, 207), batch.text
    assert (await tenant.get(f"/v1/enrolments/{stays['id']}")).json()["exit_reason"] == "conditions"
    exited = (await tenant.get("/v1/events", params={"type": "journey.exited"})).json()["data"]
    assert sorted(e["data"]["id"] for e in exited) == sorted([row["id"], stays["id"]])


async def test_an_opt_out_ends_it_by_condition_or_by_the_consent_event(database: Database, tenant: Tenant) -> None:
    by_condition = await journey(tenant, waiting([{"conditions": {"all": [
        {"field": "consent.email", "op": "eq", "value": "opted_out"}]}}]))  # fmt: skip
    by_event = await journey(tenant, waiting([{"event": "consent.updated", "conditions": {"all": [
        {"field": "consent.sms", "op": "eq", "value": "opted_out"}]}}]))  # fmt: skip
    person = await lead(tenant, phone="+989121234567")
    async with running_worker(database):
        first = await enrol(tenant, by_condition["id"], person)
        second = await enrol(tenant, by_event["id"], person)
        await at_step(tenant, first["id"], "week")
        await at_step(tenant, second["id"], "week")
        for channel, status in (("email", "opted_in"), ("sms", "opted_in")):  # consent given: both stay
            body = {"status": status, "source": "api"}
            assert (await tenant.request("PUT", f"/v1/leads/{person}/consents/{channel}", json=body)).status_code == 200
        body = {"status": "opted_out", "source": "unsubscribe"}
        assert (await tenant.request("PUT", f"/v1/leads/{person}/consents/email", json=body)).status_code == 200
        done = await ended(tenant, first["id"])
        assert (done["status"], done["exit_reason"]) == ("exited", "conditions")
        assert (await tenant.get(f"/v1/enrolments/{second['id']}")).json()["status"] == "active"  # sms still in
        assert (await tenant.request("PUT", f"/v1/leads/{person}/consents/sms", json=body)).status_code == 200
        done = await ended(tenant, second["id"])
    assert (done["status"], done["exit_reason"]) == ("exited", "event:consent.updated")


async def test_a_bad_consent_condition_names_the_field(tenant: Tenant) -> None:
    rule = {"conditions": {"all": [{"field": "consent.email", "op": "eq", "value": "maybe"}]}}
    answer = await tenant.post("/v1/journeys", json=waiting([rule]))
    assert answer.status_code == 422 and "exit_on" in answer.text
    rule = {"conditions": {"all": [{"field": "consent.fax", "op": "eq", "value": "opted_in"}]}}
    answer = await tenant.post("/v1/journeys", json=waiting([rule]))
    assert answer.status_code == 422 and "consent.fax" in answer.text


async def test_a_customers_activity_is_a_field(database: Database, tenant: Tenant) -> None:
    """`active`: their `active_until` (last purchase + the active window) is still ahead."""
    from tests.api.test_analytics import contact_id, order, sync

    today = datetime.now(UTC).date()
    await sync(tenant, [order("recent", "recent", today - timedelta(days=10), "20.00"),
                        order("old", "old", today - timedelta(days=700), "20.00")])  # fmt: skip
    document = {
        "name": "Win back", "audience": "contacts", "trigger": {"type": "manual"},
        "steps": [{"id": "lapsed", "type": "branch",
                   "conditions": {"all": [{"field": "active", "op": "eq", "value": False}]},
                   "then": "win_back", "else": "keep"},
                  {"id": "win_back", "type": "update", "set": {"tags": {"add": ["win_back"]}}, "next": "done"},
                  {"id": "keep", "type": "update", "set": {"tags": {"add": ["active"]}}},
                  {"id": "done", "type": "exit"}],
    }  # fmt: skip
    created = await journey(tenant, document)
    people = {name: await contact_id(tenant, name) for name in ("recent", "old")}
    async with running_worker(database):
        for person in people.values():
            answer = await tenant.post(f"/v1/journeys/{created['id']}/enrolments", json={"contact_id": person})
            assert answer.status_code == 201, answer.text
            await ended(tenant, answer.json()["id"])
    tags = {name: (await tenant.get(f"/v1/contacts/{person}")).json()["tags"] for name, person in people.items()}
    assert tags == {"recent": ["active"], "old": ["win_back"]}


async def test_publishing_needs_a_disqualification_reason_the_workspace_knows(tenant: Tenant) -> None:
    document = {
        "name": "Close out", "audience": "leads", "trigger": {"type": "manual"},
        "steps": [{"id": "close", "type": "disqualify", "reason": "wrong_planet"}],
    }  # fmt: skip
    created = await tenant.post("/v1/journeys", json=document)
    assert created.status_code == 201, created.text  # a draft may name it before it is added
    refused = await tenant.post(f"/v1/journeys/{created.json()['id']}/publish")
    assert refused.status_code == 422 and "steps.0.reason" in refused.text, refused.text
    reasons = (await tenant.get("/v1/settings/disqualification-reasons")).json()["reasons"]
    added = await tenant.patch("/v1/settings/disqualification-reasons", json={"reasons": [*reasons, "wrong_planet"]})
    assert added.status_code == 200, added.text
    assert (await tenant.post(f"/v1/journeys/{created.json()['id']}/publish")).status_code == 200
