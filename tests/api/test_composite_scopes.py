"""A key's scopes hold inside work it starts and views it opens onto other resources: a redaction
erases (and counts) only the events the key may read, an endpoint's deliveries are read only by a
key that may read all the endpoint is sent, replay sends what the dispatcher sent, and a context
derived from a request keeps the request's scopes. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.pagination import Sort
from app.ids import utcnow
from app.services.context import SYSTEM, Context
from app.services.customers import exports
from app.services.events import events
from app.worker import jobs
from tests.conftest import Tenant, assert_problem, drain_dispatch

HOOK_URL = "https://hooks.example.com/crm"


async def run_jobs(database: Database) -> None:
    while await jobs.run_due(database, Settings(database_url=database.settings.database_url)):
        pass


async def redact(tenant: Tenant, database: Database, resource_id: str, *, key: str | None = None) -> dict[str, Any]:
    accepted = await tenant.post("/v1/events/redactions", json={"resource_id": resource_id}, key=key)
    assert accepted.status_code == 202, accepted.text
    await run_jobs(database)
    job = (await tenant.get(accepted.headers["location"], key=key)).json()
    assert job["status"] == "succeeded", job
    return job  # type: ignore[no-any-return]


async def about(tenant: Tenant, resource_id: str) -> dict[str, dict[str, Any]]:
    """The events about a resource as an admin key reads them: type -> data."""
    listed = (await tenant.get("/v1/events", params={"resource_id": resource_id})).json()["data"]
    return {e["type"]: e["data"] for e in listed}


# -- redactions ---------------------------------------------------------------------------------


async def test_a_redaction_leaves_the_events_the_key_may_not_read_and_does_not_count_them(
    tenant: Tenant, database: Database
) -> None:
    narrow = await tenant.key_with("events:write", "jobs:read")
    # An API key's own audit trail (api_key.created) is admin-only.
    created = (await tenant.post("/v1/api-keys", json={"name": "audited", "scopes": ["members:read"]})).json()
    job = await redact(tenant, database, created["id"], key=narrow)
    assert job["result"] == {"redacted": 0}, "the count told the key that unreadable events exist"
    assert job["params"] == {"resource_id": created["id"], "scopes": ["events:write", "jobs:read"]}
    trail = await about(tenant, created["id"])
    assert trail["api_key.created"]["name"] == "audited"  # the admin-only audit trail is whole
    # Nor the workspace's configuration history (workspace.updated, settings.updated).
    await tenant.patch("/v1/workspace", json={"name": "Renamed Co"})
    job = await redact(tenant, database, tenant.id, key=narrow)
    assert job["result"] == {"redacted": 0}
    history = await about(tenant, tenant.id)
    assert "workspace.updated" in history and all(data != {"redacted": True} for data in history.values())


async def test_a_redaction_erases_and_counts_the_readable_types_and_an_admin_the_rest(
    tenant: Tenant, database: Database
) -> None:
    # An endpoint's id is the resource of webhook_endpoint.* (admin) and of webhook.test (webhooks:read).
    endpoint = (await tenant.post("/v1/webhook-endpoints", json={"url": HOOK_URL, "event_types": []})).json()
    assert (await tenant.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")).status_code == 202
    narrow = await tenant.key_with("events:write", "webhooks:read", "jobs:read")
    job = await redact(tenant, database, endpoint["id"], key=narrow)
    assert job["result"] == {"redacted": 1}
    trail = await about(tenant, endpoint["id"])
    assert trail["webhook.test"] == {"redacted": True}
    assert trail["webhook_endpoint.created"]["url"] == HOOK_URL
    job = await redact(tenant, database, endpoint["id"])  # admin: every type, what is left of it
    assert job["result"] == {"redacted": 1} and job["params"]["scopes"] == ["admin"]
    assert all(data == {"redacted": True} for data in (await about(tenant, endpoint["id"])).values())


# -- deliveries ---------------------------------------------------------------------------------


async def test_an_endpoints_deliveries_need_a_key_that_covers_its_scopes(tenant: Tenant, database: Database) -> None:
    admin_endpoint = (await tenant.post("/v1/webhook-endpoints", json={"url": HOOK_URL, "event_types": []})).json()
    await tenant.post("/v1/leads", json={"email": "covered@x.io", "first_name": "Cora"})
    await drain_dispatch(database)
    base = f"/v1/webhook-endpoints/{admin_endpoint['id']}"
    listed = (await tenant.get(f"{base}/deliveries")).json()["data"]
    assert {"lead.created", "webhook_endpoint.created"} <= {d["event_type"] for d in listed}
    delivery = listed[0]["id"]

    reader = await tenant.key_with("webhooks:read")
    writer = await tenant.key_with("webhooks:write")
    assert (await tenant.get(base, key=reader)).json()["scopes"] == ["admin"]  # the endpoint stays readable
    for response in (
        await tenant.get(f"{base}/deliveries", key=reader),
        await tenant.get(f"{base}/deliveries/{delivery}", key=reader),
        await tenant.post(f"{base}/deliveries/{delivery}/retry", key=writer),
        await tenant.post(f"{base}/replay", json={"since_sequence": 0}, key=writer),
    ):
        problem = assert_problem(response, 403)
        assert "admin" in problem["detail"], problem

    # An endpoint a narrower key made: a key that may read all of its scopes reads its deliveries.
    maker = await tenant.key_with("webhooks:write", "leads:read")
    narrow = (await tenant.post("/v1/webhook-endpoints", json={"url": HOOK_URL}, key=maker)).json()
    await tenant.post("/v1/leads", json={"email": "seen@x.io", "first_name": "Sean"})
    await drain_dispatch(database)
    own = f"/v1/webhook-endpoints/{narrow['id']}/deliveries"
    covering = await tenant.key_with("webhooks:read", "leads:read")
    shown = await tenant.get(own, key=covering)
    assert shown.status_code == 200 and {d["event_type"] for d in shown.json()["data"]} == {"lead.created"}
    problem = assert_problem(await tenant.get(own, key=reader), 403)
    assert "leads:read" in problem["detail"] and "webhooks:write" not in problem["detail"], problem
    assert (await tenant.get(f"{own}/{shown.json()['data'][0]['id']}", key=covering)).status_code == 200


# -- replay -------------------------------------------------------------------------------------


async def test_replay_sends_an_endpoint_exactly_what_the_dispatcher_sent_it(tenant: Tenant, database: Database) -> None:
    admin_endpoint = (await tenant.post("/v1/webhook-endpoints", json={"url": HOOK_URL, "event_types": []})).json()
    maker = await tenant.key_with("webhooks:write", "leads:read")
    lead_endpoint = (await tenant.post("/v1/webhook-endpoints", json={"url": HOOK_URL}, key=maker)).json()
    await tenant.post("/v1/leads", json={"email": "replayed@x.io", "first_name": "Rae"})
    # Events of types the catalogue no longer lists, kept in the log from an earlier version.
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow())
        events.record_data(ctx, "legacy.noted", {"id": "legacy-1"})
        events.record_data(ctx, "lead.legacy_noted", {"id": "legacy-2"})
        await uow.commit()
    await drain_dispatch(database)

    for endpoint, expected in (
        (admin_endpoint, {"legacy.noted", "lead.legacy_noted", "lead.created", "webhook_endpoint.created",
                          "api_key.created"}),
        (lead_endpoint, {"lead.legacy_noted", "lead.created"}),
    ):  # fmt: skip
        url = f"/v1/webhook-endpoints/{endpoint['id']}"
        dispatched = (await tenant.get(f"{url}/deliveries", params={"limit": 100})).json()["data"]
        assert {d["event_type"] for d in dispatched} == expected
        replay = await tenant.post(f"{url}/replay", json={"since_sequence": 0})
        assert replay.json() == {"deliveries_created": len(dispatched)}, (endpoint["scopes"], replay.text)
        after = (await tenant.get(f"{url}/deliveries", params={"limit": 100})).json()["data"]
        assert Counter(d["event_id"] for d in after) == Counter({d["event_id"]: 2 for d in dispatched})


# -- derived contexts ---------------------------------------------------------------------------


async def test_every_page_of_an_export_reads_with_the_requests_scopes(tenant: Tenant, database: Database) -> None:
    seen: list[frozenset[str]] = []

    async def fetch(c: Context, cursor: str | None) -> Any:
        from app.domain.leads.filters import LeadFilters
        from app.services.leads import leads

        seen.append(c.scopes)
        sort = Sort.parse("created_at")
        return await leads.list_leads(c, LeadFilters(), sort=sort, cursor=cursor, limit=1)

    for i in range(3):
        await tenant.post("/v1/leads", json={"email": f"page{i}@x.io", "first_name": "Page"})
    async with UnitOfWork(database, write=False) as uow:
        request = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=frozenset({"leads:read"}))
        first = await fetch(request, None)
    pages = [page async for page in exports.pages(database, request, fetch, cursor=first.next_cursor)]
    assert len(pages) >= 2 and seen == [frozenset({"leads:read"})] * (len(pages) + 1)


async def test_a_context_that_names_no_scopes_may_read_nothing_scoped(tenant: Tenant, database: Database) -> None:
    async with UnitOfWork(database, write=False) as uow:
        bare = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow())
        assert bare.scopes == frozenset() and not bare.allows("leads:read")
        assert events.readable_types(bare) == []
        derived = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=frozenset({"leads:read"})).derive(uow)
        assert derived.scopes == frozenset({"leads:read"})
