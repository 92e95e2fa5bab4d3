"""Scopes bound what the event log shows and what a webhook endpoint is delivered: a key reads, and
an endpoint it creates receives, only the event types its scopes may read. On SQLite and PostgreSQL,
with a real worker delivering to a real receiver on loopback."""

from __future__ import annotations

from app.db.session import Database
from tests.conftest import Tenant, assert_problem, drain_dispatch
from tests.integration.receiver import Receiver
from tests.integration.test_webhooks import app as loopback_app
from tests.integration.test_webhooks import running_worker

app = loopback_app  # receivers on 127.0.0.1 may be subscribed (WEBHOOK_ALLOW_LOOPBACK), as in a development setup

LEAD_EMAIL = "hidden.person@example.com"


async def lead_and_member(tenant: Tenant) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """A lead (whose email the narrow key must not read) and then a member (which it may)."""
    lead = await tenant.post("/v1/leads", json={"email": LEAD_EMAIL, "first_name": "Hidden"})
    assert lead.status_code == 201, lead.text
    member = await tenant.post("/v1/members", json={"name": "Sara", "email": "sara@x.io"})
    assert member.status_code == 201, member.text
    return lead.json(), member.json()


async def test_a_members_key_reads_no_lead_through_the_event_log(tenant: Tenant) -> None:
    key = await tenant.key_with("events:read", "members:read", "webhooks:write")
    lead, member = await lead_and_member(tenant)
    listed = await tenant.get("/v1/events", key=key, params={"limit": 200})
    assert listed.status_code == 200, listed.text
    assert LEAD_EMAIL not in listed.text
    types = {e["type"] for e in listed.json()["data"]}
    assert "member.created" in types and not {t for t in types if not t.startswith(("member.", "team.", "webhook."))}
    # Asked for by type, by resource or by id, a lead's events stay out of reach.
    assert_problem(await tenant.get("/v1/events", key=key, params={"type": "lead.created"}), 403)
    assert (await tenant.get("/v1/events", key=key, params={"resource_id": lead["id"]})).json()["data"] == []
    [lead_event] = (await tenant.get("/v1/events", params={"type": "lead.created"})).json()["data"]
    assert_problem(await tenant.get(f"/v1/events/{lead_event['id']}", key=key), 403)
    [member_event] = (await tenant.get("/v1/events", key=key, params={"type": "member.created"})).json()["data"]
    assert (await tenant.get(f"/v1/events/{member_event['id']}", key=key)).json()["data"] == member
    # Workspace-level types need admin: a key holding events:read alone reads none of them.
    only_events = await tenant.key_with("events:read")
    assert (await tenant.get("/v1/events", key=only_events)).json()["data"] == []


async def test_an_endpoint_gets_only_what_the_key_that_created_it_may_read(tenant: Tenant, database: Database) -> None:
    key = await tenant.key_with("events:read", "members:read", "webhooks:write")
    await drain_dispatch(database)
    async with Receiver() as receiver:
        created = await tenant.post("/v1/webhook-endpoints", key=key, json={"url": receiver.url})
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert endpoint["scopes"] == ["events:read", "members:read", "webhooks:write"]
        assert endpoint["event_types"] == []  # every type its scopes may read
        await lead_and_member(tenant)
        await drain_dispatch(database)
        deliveries = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
        assert [d["event_type"] for d in (await tenant.get(deliveries)).json()["data"]] == ["member.created"]
        # A replay from the start applies the same rule.
        replay = await tenant.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/replay", key=key, json={"since_sequence": 0}
        )
        assert replay.json() == {"deliveries_created": 1}
        async with running_worker(database):
            hooks = await receiver.wait_for(2)
    assert [h.json["type"] for h in hooks] == ["member.created", "member.created"]
    assert all(LEAD_EMAIL.encode() not in h.body for h in hooks)


async def test_an_endpoint_may_not_ask_for_types_its_key_may_not_read(tenant: Tenant) -> None:
    key = await tenant.key_with("members:read", "webhooks:write")
    url = "https://hooks.example.com/crm"
    refused = await tenant.post(
        "/v1/webhook-endpoints", key=key, json={"url": url, "event_types": ["member.created", "lead.created"]}
    )
    assert_problem(refused, 422, "event_types.1")
    own = (
        await tenant.post("/v1/webhook-endpoints", key=key, json={"url": url, "event_types": ["team.created"]})
    ).json()
    widened = await tenant.patch(f"/v1/webhook-endpoints/{own['id']}", key=key, json={"event_types": ["lead.created"]})
    assert_problem(widened, 422, "event_types.0")
    # Nor may it point an endpoint of a broader key at itself.
    admins = (await tenant.post("/v1/webhook-endpoints", json={"url": url})).json()
    assert admins["scopes"] == ["admin"]
    moved = await tenant.patch(f"/v1/webhook-endpoints/{admins['id']}", key=key, json={"url": "https://evil.example"})
    assert_problem(moved, 403)
    paused = await tenant.patch(f"/v1/webhook-endpoints/{admins['id']}", key=key, json={"enabled": False})
    assert paused.status_code == 200 and paused.json()["url"] == url


async def test_an_endpoint_created_by_admin_still_gets_everything(tenant: Tenant, database: Database) -> None:
    await drain_dispatch(database)
    endpoint = (await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/all"})).json()
    assert endpoint["scopes"] == ["admin"]
    await lead_and_member(tenant)
    await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 48})
    await drain_dispatch(database)
    delivered = (await tenant.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")).json()["data"]
    assert {"lead.created", "member.created", "settings.updated"} <= {d["event_type"] for d in delivered}
