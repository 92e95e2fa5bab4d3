"""Sensitive custom fields (a person's religion): their values are read one lead at a time with
`sensitive:read`, and never in lists, exports, the timeline, events, webhooks, form submissions or
messages. Through the HTTP API on SQLite and PostgreSQL, with a real worker delivering webhooks to
a real receiver on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.config import Settings
from app.db import tables
from app.db.migrate import downgrade, head_revision, upgrade
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.main import create_app
from app.services.workspace import workspaces
from tests.api.test_imports import csv_bytes, imported, upload
from tests.conftest import ScratchDatabases, Tenant, assert_problem, database_url, drain_dispatch
from tests.integration.receiver import Receiver
from tests.integration.test_webhooks import app as loopback_app
from tests.integration.test_webhooks import running_worker

app = loopback_app  # receivers on 127.0.0.1 may be subscribed (WEBHOOK_ALLOW_LOOPBACK)

FAITH = "Zoroastrian-7731"  # a value no other test writes: found nowhere it must not be
OTHER_FAITH = "Mandaean-4402"
SITE = "https://www.shop.example"


async def define(tenant: Tenant, key: str, **fields: Any) -> dict[str, Any]:
    body = {"key": key, "label": key.title(), "type": "text", **fields}
    response = await tenant.post("/v1/custom-fields", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def religion_and_budget(tenant: Tenant) -> dict[str, Any]:
    religion = await define(tenant, "religion", sensitive=True)
    budget = await define(tenant, "budget", type="number")
    assert (religion["sensitive"], budget["sensitive"]) == (True, False)
    listed = (await tenant.get("/v1/custom-fields")).json()["data"]
    assert [(d["key"], d["sensitive"]) for d in listed] == [("religion", True), ("budget", False)]
    return religion


async def test_a_sensitive_value_is_read_one_lead_at_a_time_with_sensitive_read(tenant: Tenant) -> None:
    await religion_and_budget(tenant)
    writer = await tenant.key_with("leads:write")
    reader = await tenant.key_with("leads:read")
    trusted = await tenant.key_with("leads:read", "sensitive:read")
    # The write scope writes it; the answer to the write does not show it back without the scope.
    created = await tenant.post(
        "/v1/leads", key=writer, json={"email": "sara@x.io", "custom_fields": {"religion": FAITH, "budget": 5}}
    )
    assert created.status_code == 201, created.text
    lead = created.json()
    assert lead["custom_fields"] == {"budget": 5} and FAITH not in created.text
    url = f"/v1/leads/{lead['id']}"
    assert (await tenant.get(url, key=reader)).json()["custom_fields"] == {"budget": 5}
    assert (await tenant.get(url, key=trusted)).json()["custom_fields"] == {"religion": FAITH, "budget": 5}
    assert (await tenant.get(url)).json()["custom_fields"] == {"religion": FAITH, "budget": 5}  # admin: every scope
    # `sensitive:read` is no lead scope: alone it reads no lead.
    assert_problem(await tenant.get(url, key=await tenant.key_with("sensitive:read")), 403)
    changed = await tenant.patch(url, key=writer, json={"custom_fields": {"religion": OTHER_FAITH}})
    assert changed.status_code == 200 and OTHER_FAITH not in changed.text
    assert changed.json()["custom_fields"] == {"budget": 5} and changed.json()["version"] == 2
    merged = await tenant.post(
        "/v1/leads", key=writer, params={"on_duplicate": "merge"}, json={"email": "sara@x.io", "first_name": "Sara"}
    )
    assert merged.status_code == 200 and OTHER_FAITH not in merged.text
    shown = (await tenant.get(url, key=trusted)).json()
    assert shown["custom_fields"] == {"religion": OTHER_FAITH, "budget": 5} and shown["first_name"] == "Sara"
    # Another lead's PATCH without custom fields, and one of another field, keep the value.
    assert (await tenant.patch(url, key=writer, json={"custom_fields": {"budget": 7}})).status_code == 200
    assert (await tenant.get(url, key=trusted)).json()["custom_fields"] == {"religion": OTHER_FAITH, "budget": 7}

    # No answer to a write carries it, whatever the key: a POST's answer is kept for Idempotency-Key
    # replays, which any key of the workspace may ask for.
    replayed = {"Idempotency-Key": "sensitive-create-1"}
    body = {"email": "omid@x.io", "custom_fields": {"religion": FAITH}}
    first = await tenant.post("/v1/leads", json=body, headers=replayed)
    assert first.status_code == 201 and first.json()["custom_fields"] == {} and FAITH not in first.text
    again = await tenant.post("/v1/leads", key=writer, json=body, headers=replayed)  # the same answer
    assert again.headers.get("idempotent-replayed") == "true" and FAITH not in again.text
    omid = f"/v1/leads/{first.json()['id']}"
    assert (await tenant.get(omid, key=trusted)).json()["custom_fields"] == {"religion": FAITH}
    archived = await tenant.delete(omid)
    assert archived.status_code == 200 and FAITH not in archived.text

    # A list never carries it, whatever the key.
    for key in (reader, trusted, tenant.secret_key):
        listed = await tenant.get("/v1/leads", key=key)
        assert listed.status_code == 200 and OTHER_FAITH not in listed.text
        assert [r["custom_fields"] for r in listed.json()["data"]] == [{"budget": 7}]
    duplicates = await tenant.get(f"{url}/duplicates")
    assert duplicates.status_code == 200 and OTHER_FAITH not in duplicates.text

    # Finding leads by a sensitive value needs the scope; the list found still leaves it out.
    refused = assert_problem(await tenant.get("/v1/leads", key=reader, params={"cf.religion": OTHER_FAITH}), 403)
    assert "cf.religion" in refused["detail"] and "sensitive:read" in refused["detail"]
    assert refused["errors"][0]["location"] == "query" and refused["errors"][0]["field"] == "cf.religion"
    found = await tenant.get("/v1/leads", key=trusted, params={"cf.religion": OTHER_FAITH})
    assert [r["id"] for r in found.json()["data"]] == [lead["id"]] and OTHER_FAITH not in found.text
    assert (await tenant.get("/v1/leads", params={"cf.religion": FAITH})).json()["data"] == []
    assert [r["id"] for r in (await tenant.get("/v1/leads", key=reader, params={"cf.budget": 7})).json()["data"]] == [
        lead["id"]
    ]

    # The CSV export leaves it out (the list's rows, the same rule), the other fields stay.
    export = await tenant.get("/v1/exports/leads.csv")
    assert export.status_code == 200 and "sara@x.io" in export.text
    assert OTHER_FAITH not in export.text and FAITH not in export.text and "religion" not in export.text
    assert '""budget"":7' in export.text
    refused_export = await tenant.get("/v1/exports/leads.csv", key=reader, params={"cf.religion": FAITH})
    assert_problem(refused_export, 403)

    # Neither do the lead's events, in data or previous_attributes: with the scope or without.
    events = await tenant.get("/v1/events", params={"resource_id": lead["id"], "limit": 200})
    assert events.status_code == 200
    types = [e["type"] for e in events.json()["data"]]
    assert {"lead.created", "lead.updated", "lead.merged"} <= set(types), types
    assert FAITH not in events.text and OTHER_FAITH not in events.text
    updates = [e for e in events.json()["data"] if e["type"] == "lead.updated"]
    # The change of the sensitive value alone shows that the lead changed, not what changed.
    assert any(e["previous_attributes"] == {} for e in updates), updates
    assert any(e["previous_attributes"] == {"custom_fields": {"budget": 5}} for e in updates), updates
    for event in events.json()["data"]:
        single = await tenant.get(f"/v1/events/{event['id']}")
        assert single.status_code == 200 and FAITH not in single.text and OTHER_FAITH not in single.text


async def test_a_webhook_delivery_carries_no_sensitive_value(tenant: Tenant, database: Database) -> None:
    await religion_and_budget(tenant)
    await drain_dispatch(database)
    async with Receiver() as receiver:
        endpoint = await tenant.post(
            "/v1/webhook-endpoints", json={"url": receiver.url, "event_types": ["lead.created", "lead.updated"]}
        )
        assert endpoint.status_code == 201, endpoint.text
        values = {"religion": FAITH, "budget": 1}
        lead = (await tenant.post("/v1/leads", json={"email": "hook@x.io", "custom_fields": values})).json()
        updated = await tenant.patch(f"/v1/leads/{lead['id']}", json={"custom_fields": {"religion": OTHER_FAITH}})
        assert updated.status_code == 200 and OTHER_FAITH not in updated.text  # an answer to a write: never
        async with running_worker(database):
            hooks = await receiver.wait_for(2)
    assert [h.json["type"] for h in hooks] == ["lead.created", "lead.updated"]
    assert [h.json["data"]["custom_fields"] for h in hooks] == [{"budget": 1}, {"budget": 1}]
    assert all(FAITH.encode() not in h.body and OTHER_FAITH.encode() not in h.body for h in hooks)
    deliveries = await tenant.get(f"/v1/webhook-endpoints/{endpoint.json()['id']}/deliveries")
    assert deliveries.status_code == 200 and FAITH not in deliveries.text


async def test_a_webhook_leaves_out_a_value_recorded_before_its_field_was_marked_sensitive(
    tenant: Tenant, database: Database
) -> None:
    plain = await define(tenant, "ethnicity")
    await define(tenant, "budget", type="number")
    await drain_dispatch(database)
    async with Receiver() as receiver:
        endpoint = await tenant.post(
            "/v1/webhook-endpoints", json={"url": receiver.url, "event_types": ["lead.created", "lead.updated"]}
        )
        assert endpoint.status_code == 201, endpoint.text
        values = {"ethnicity": FAITH, "budget": 3}
        lead = (await tenant.post("/v1/leads", json={"email": "late@x.io", "custom_fields": values})).json()
        changed = await tenant.patch(f"/v1/leads/{lead['id']}", json={"custom_fields": {"ethnicity": OTHER_FAITH}})
        assert changed.status_code == 200 and OTHER_FAITH in changed.text  # not sensitive yet
        await drain_dispatch(database)  # both events recorded, with the value, and queued for delivery
        marked = await tenant.patch(f"/v1/custom-fields/{plain['id']}", json={"sensitive": True})
        assert marked.status_code == 200 and marked.json()["sensitive"] is True
        async with running_worker(database):
            hooks = await receiver.wait_for(2)
            # A replay of the same events, asked for after the marking, sends them without it too.
            replay = await tenant.post(
                f"/v1/webhook-endpoints/{endpoint.json()['id']}/replay", json={"since_sequence": 0}
            )
            assert replay.status_code == 200 and replay.json() == {"deliveries_created": 2}, replay.text
            hooks = await receiver.wait_for(4)
    assert [h.json["type"] for h in hooks] == ["lead.created", "lead.updated"] * 2
    assert [h.json["data"]["custom_fields"] for h in hooks] == [{"budget": 3}] * 4
    assert [h.json["previous_attributes"] for h in hooks[1::2]] == [{"custom_fields": {"budget": 3}}] * 2
    assert all(FAITH.encode() not in h.body and OTHER_FAITH.encode() not in h.body for h in hooks)


async def test_a_failed_import_row_is_kept_and_listed_without_sensitive_columns(
    tenant: Tenant, database: Database
) -> None:
    await religion_and_budget(tenant)
    plain = await define(tenant, "ethnicity")
    data = csv_bytes([["E-mail", "Faith", "Origin", "Spend"], ["not-an-email", FAITH, OTHER_FAITH, "4"]])
    mapping = {"email": "E-mail", "custom_fields.religion": "Faith", "custom_fields.ethnicity": "Origin",
               "custom_fields.budget": "Spend"}  # fmt: skip
    checked = await upload(tenant, "leads", data, mapping=mapping, dry_run=True)
    assert checked.status_code == 200, checked.text
    assert [e["values"] for e in checked.json()["errors"]] == [
        {"E-mail": "not-an-email", "Origin": OTHER_FAITH, "Spend": "4"}
    ]
    assert FAITH not in checked.text
    done = await imported(tenant, database, await upload(tenant, "leads", data, mapping=mapping))
    assert done["rows_failed"] == 1
    errors = await tenant.get(f"/v1/imports/{done['id']}/errors")
    assert errors.status_code == 200 and FAITH not in errors.text and OTHER_FAITH in errors.text
    assert errors.json()["data"][0]["values"] == {"E-mail": "not-an-email", "Origin": OTHER_FAITH, "Spend": "4"}
    # Not kept at all: the failed row as stored has no such column.
    async with database.engine.connect() as conn:
        stored = (await conn.execute(sa.select(tables.import_errors.c["values"]))).scalars().all()
    assert stored and all("Faith" not in values for values in stored)
    csv_text = (await tenant.get(f"/v1/imports/{done['id']}/errors.csv")).text
    assert FAITH not in csv_text and OTHER_FAITH in csv_text
    # A field marked sensitive after the import: its column is no longer listed either.
    marked = await tenant.patch(f"/v1/custom-fields/{plain['id']}", json={"sensitive": True})
    assert marked.status_code == 200
    errors = await tenant.get(f"/v1/imports/{done['id']}/errors")
    assert errors.json()["data"][0]["values"] == {"E-mail": "not-an-email", "Spend": "4"}
    csv_text = (await tenant.get(f"/v1/imports/{done['id']}/errors.csv")).text
    assert FAITH not in csv_text and OTHER_FAITH not in csv_text and "not-an-email" in csv_text


async def test_picking_people_by_a_sensitive_field_needs_sensitive_read(tenant: Tenant) -> None:
    await religion_and_budget(tenant)

    def branch(field: str) -> dict[str, Any]:
        condition = {"any": [{"field": "tags", "op": "contains", "value": "vip"}, {"field": field, "op": "eq",
                                                                                     "value": FAITH}]}  # fmt: skip
        return {"name": "Pick", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "b", "type": "branch", "conditions": condition, "then": "x", "else": "x"},
                          {"id": "x", "type": "exit"}]}  # fmt: skip

    writer = await tenant.key_with("journeys:write", "journeys:read")
    refused = assert_problem(
        await tenant.post("/v1/journeys", json=branch("custom_fields.religion"), key=writer),
        403,
        "steps.0.conditions.any.1.field",
    )
    assert "sensitive:read" in refused["detail"]
    allowed = await tenant.post("/v1/journeys", json=branch("custom_fields.budget"), key=writer)
    assert allowed.status_code == 201, allowed.text
    path = f"/v1/journeys/{allowed.json()['id']}"
    edit = {"steps": branch("custom_fields.religion")["steps"]}
    assert_problem(await tenant.patch(path, json=edit, key=writer), 403, "steps.0.conditions.any.1.field")
    trusted = await tenant.key_with("journeys:write", "journeys:read", "sensitive:read")
    assert (await tenant.patch(path, json=edit, key=trusted)).status_code == 200
    # A campaign's audience alike.
    campaigner = await tenant.key_with("campaigns:write")
    audience = {
        "type": "leads",
        "conditions": {"all": [{"field": "custom_fields.religion", "op": "eq", "value": FAITH}]},
    }
    body = {"name": "Pick", "channel": "sms", "audience": audience}
    assert_problem(
        await tenant.post("/v1/campaigns", json=body, key=campaigner), 403, "audience.conditions.all.0.field"
    )
    assert (await tenant.post("/v1/campaigns", json=body)).status_code == 201  # admin has sensitive:read


async def test_a_form_posts_a_sensitive_value_that_only_the_lead_keeps(tenant: Tenant) -> None:
    await religion_and_budget(tenant)
    form = await tenant.post(
        "/v1/forms",
        json={
            "name": "Contact us",
            "allowed_origins": [SITE],
            "field_mapping": {"faith": "custom_fields.religion", "spend": "custom_fields.budget"},
        },
    )
    assert form.status_code == 201, form.text
    url = f"/v1/forms/{form.json()['id']}/submissions"
    headers = {"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE}
    first = await tenant.client.post(url, json={"email": "form@x.io", "faith": FAITH, "spend": "9"}, headers=headers)
    assert first.status_code == 201, first.text
    lead_id = await tenant.lead_of(first)
    assert (await tenant.get(f"/v1/leads/{lead_id}")).json()["custom_fields"] == {"religion": FAITH, "budget": 9}
    # The same person again: the submission counts on the open lead (which keeps what it has).
    posted = {"email": "form@x.io", "faith": OTHER_FAITH, "note": "hi"}
    again = await tenant.client.post(url, json=posted, headers=headers)
    assert again.status_code == 201, again.text
    assert await tenant.lead_of(again) == lead_id
    submissions = await tenant.get(url)
    assert submissions.status_code == 200 and FAITH not in submissions.text and OTHER_FAITH not in submissions.text
    assert [s["fields"] for s in submissions.json()["data"]] == [
        {"email": "form@x.io", "spend": "9"},
        {"email": "form@x.io", "note": "hi"},
    ]
    for path in (f"/v1/leads/{lead_id}/engagements", f"/v1/leads/{lead_id}/timeline", "/v1/events?limit=200"):
        answer = await tenant.get(path)
        assert answer.status_code == 200 and FAITH not in answer.text and OTHER_FAITH not in answer.text, path
    types = {e["type"] for e in (await tenant.get("/v1/events", params={"limit": 200})).json()["data"]}
    assert {"lead.created", "form.submission_received"} <= types


async def test_a_template_renders_a_sensitive_field_as_one_the_person_lacks(tenant: Tenant) -> None:
    await religion_and_budget(tenant)
    lead = (await tenant.post("/v1/leads", json={"email": "t@x.io", "custom_fields": {"religion": FAITH}})).json()
    template = await tenant.post(
        "/v1/templates",
        json={
            "name": "Greeting",
            "channel": "email",
            "subject": "Hello",
            "body_text": "Faith: {{ person.custom_fields.religion | default('withheld') }}",
        },
    )
    assert template.status_code == 201, template.text
    preview = await tenant.post(f"/v1/templates/{template.json()['id']}/preview", json={"lead_id": lead["id"]})
    assert preview.status_code == 200, preview.text
    assert preview.json()["body_text"] == "Faith: withheld"


async def test_marking_a_field_sensitive_later_and_unmarking_it(tenant: Tenant) -> None:
    plain = await define(tenant, "ethnicity")
    lead = (await tenant.post("/v1/leads", json={"email": "e@x.io", "custom_fields": {"ethnicity": FAITH}})).json()
    reader = await tenant.key_with("leads:read")
    assert FAITH in (await tenant.get("/v1/leads", key=reader)).text  # not sensitive yet
    marked = await tenant.patch(f"/v1/custom-fields/{plain['id']}", json={"sensitive": True})
    assert marked.status_code == 200 and marked.json()["sensitive"] is True and marked.json()["version"] == 2
    assert FAITH not in (await tenant.get("/v1/leads", key=reader)).text
    assert FAITH not in (await tenant.get(f"/v1/leads/{lead['id']}", key=reader)).text
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["custom_fields"] == {"ethnicity": FAITH}
    # The lead.created event recorded before the marking has the value; the log no longer shows it.
    events = await tenant.get("/v1/events", params={"resource_id": lead["id"]})
    assert events.status_code == 200 and events.json()["data"] and FAITH not in events.text
    [created] = [e for e in events.json()["data"] if e["type"] == "lead.created"]
    assert created["data"]["custom_fields"] == {}
    assert FAITH not in (await tenant.get(f"/v1/events/{created['id']}")).text
    # Its definition cannot go while it is sensitive: the values left on leads would show everywhere.
    refused = assert_problem(await tenant.delete(f"/v1/custom-fields/{plain['id']}"), 409)
    assert "sensitive" in refused["detail"]
    assert_problem(await tenant.patch(f"/v1/custom-fields/{plain['id']}", json={"sensitive": None}), 422, "sensitive")
    unmarked = await tenant.patch(f"/v1/custom-fields/{plain['id']}", json={"sensitive": False})
    assert unmarked.status_code == 200 and unmarked.json()["sensitive"] is False
    assert FAITH in (await tenant.get("/v1/leads", key=reader)).text
    assert (await tenant.delete(f"/v1/custom-fields/{plain['id']}")).status_code == 204


async def test_another_workspaces_definitions_change_nothing_here(tenant: Tenant, other_tenant: Tenant) -> None:
    await religion_and_budget(other_tenant)  # sensitive there
    await define(tenant, "religion")  # not here
    here = (await tenant.post("/v1/leads", json={"email": "h@x.io", "custom_fields": {"religion": FAITH}})).json()
    there = (
        await other_tenant.post("/v1/leads", json={"email": "h@x.io", "custom_fields": {"religion": OTHER_FAITH}})
    ).json()
    assert here["custom_fields"] == {"religion": FAITH}
    assert FAITH in (await tenant.get("/v1/leads")).text
    assert FAITH in (await tenant.get("/v1/events", params={"resource_id": here["id"]})).text
    assert OTHER_FAITH not in (await other_tenant.get("/v1/leads")).text
    assert OTHER_FAITH not in (await other_tenant.get("/v1/events", params={"resource_id": there["id"]})).text
    # Nor does one workspace's key read the other's lead, with or without the scope.
    trusted = await tenant.key_with("leads:read", "sensitive:read")
    assert_problem(await tenant.get(f"/v1/leads/{there['id']}", key=trusted), 404)


async def test_sensitive_read_is_a_scope_of_its_own(tenant: Tenant) -> None:
    created = await tenant.post("/v1/api-keys", json={"name": "k", "scopes": ["leads:read", "sensitive:read"]})
    assert created.status_code == 201 and created.json()["scopes"] == ["leads:read", "sensitive:read"]
    unknown = await tenant.post("/v1/api-keys", json={"name": "k", "scopes": ["sensitive:write"]})
    assert_problem(unknown, 422, "scopes.0")
    # A write scope does not imply it, nor does any other.
    await religion_and_budget(tenant)
    lead = (await tenant.post("/v1/leads", json={"email": "s@x.io", "custom_fields": {"religion": FAITH}})).json()
    broad = await tenant.key_with("leads:write", "contacts:write", "events:write", "webhooks:write", "settings:write")
    assert FAITH not in (await tenant.get(f"/v1/leads/{lead['id']}", key=broad)).text


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_going_below_0045_is_refused_while_a_field_is_sensitive(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """The older code knows no sensitive field: it would show their values everywhere, so the
    downgrade waits until none is sensitive (a downgrade never widens what a key may read)."""
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with UnitOfWork(db) as uow:
            made = await workspaces.create(uow, name="Acme", now=utcnow())
            await uow.commit()
        api = create_app(Settings(database_url=db.settings.database_url), database=db)
        transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
        auth = {"Authorization": f"Bearer {made.secret_key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=auth) as client:
            body = {"key": "religion", "label": "Religion", "type": "text", "sensitive": True}
            field = (await client.post("/v1/custom-fields", json=body)).json()
            with pytest.raises(RuntimeError, match="sensitive"):
                await downgrade(db, "0044")
            async with db.engine.connect() as conn:
                # refused at 0045 (the revisions above it may have gone down first, SQLite running
                # each in its own transaction): the field and its flag are still there
                assert (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one() in (
                    head_revision(),
                    "0045",
                )
            await upgrade(db)  # back to the code's schema before this code writes again
            unmarked = await client.patch(f"/v1/custom-fields/{field['id']}", json={"sensitive": False})
            assert unmarked.status_code == 200, unmarked.text
        await downgrade(db, "0044")
        await upgrade(db)
        async with db.engine.connect() as conn:
            row = (await conn.execute(sa.text("SELECT key, sensitive FROM custom_fields"))).one()
        assert (row[0], bool(row[1])) == ("religion", False)
    finally:
        await db.dispose()
