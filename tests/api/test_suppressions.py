"""Suppressions through HTTP on both databases: addresses normalised and hashed, adding twice is
the same entry, filters and pages, lifting needs admin, events, tenancy and scopes."""

from __future__ import annotations

import uuid
from typing import Any

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.outreach.vocabulary import ChannelType, SuppressionReason
from app.ids import utcnow
from app.sealing import sealer
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.outreach import suppressions
from tests.conftest import Tenant, assert_problem


async def _suppress(tenant: Tenant, status: int = 201, **body: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/suppressions", json=body)
    assert response.status_code == status, response.text
    return dict(response.json())


async def test_addresses_are_normalised_and_adding_twice_is_the_same_entry(tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    email = await _suppress(tenant, channel="email", address="  Sara@ACME.Example ", note="asked by phone")
    assert (email["channel"], email["address"], email["reason"], email["note"]) == (
        "email", "sara@acme.example", "manual", "asked by phone",
    )  # fmt: skip
    assert email["created_by"]["type"] == "api_key" and email["message_id"] is None
    assert email["address_hash"] == sealer().keyed_digest("suppression:email", "sara@acme.example")
    again = await _suppress(tenant, 200, channel="email", address="sara@acme.example", reason="bounced")
    assert again == email
    sms = await _suppress(tenant, channel="sms", address="0912 123 4567", reason="complained")
    assert sms["address"] == "+989121234567" and sms["reason"] == "complained"
    await _suppress(tenant, 200, channel="sms", address="+98 912 123 4567")
    # WhatsApp is a channel of its own.
    whatsapp = await _suppress(tenant, channel="whatsapp", address="+989121234567")
    assert whatsapp["id"] != sms["id"]
    assert (await tenant.get(f"/v1/suppressions/{sms['id']}")).json() == sms
    created = (await tenant.get("/v1/events", params={"type": "suppression.created"})).json()["data"]
    assert sorted(e["data"]["id"] for e in created) == sorted([email["id"], sms["id"], whatsapp["id"]])


async def test_bad_input_names_the_field(tenant: Tenant) -> None:
    assert_problem(await tenant.post("/v1/suppressions", json={"channel": "email", "address": "nope"}), 422, "address")
    assert_problem(await tenant.post("/v1/suppressions", json={"channel": "sms", "address": "call me"}), 422, "address")
    assert_problem(await tenant.post("/v1/suppressions", json={"channel": "sms", "address": ""}), 422, "address")
    assert_problem(await tenant.post("/v1/suppressions", json={"channel": "fax", "address": "a@b.io"}), 422, "channel")
    body = {"channel": "email", "address": "a@b.io", "reason": "erased"}
    assert_problem(await tenant.post("/v1/suppressions", json=body), 422, "reason")
    body = {"channel": "email", "address": "a@b.io", "note": "x" * 501}
    assert_problem(await tenant.post("/v1/suppressions", json=body), 422, "note")
    assert_problem(await tenant.get("/v1/suppressions", params={"channel": "fax"}), 422, "channel")
    assert (await tenant.get("/v1/suppressions")).json()["data"] == []


async def test_lists_filter_and_page(tenant: Tenant) -> None:
    made = [
        await _suppress(tenant, channel="email", address=f"p{i}@acme.example", reason=reason)
        for i, reason in enumerate(["manual", "bounced", "complained", "bounced"])
    ]
    await _suppress(tenant, channel="sms", address="+49301234567")
    page = (await tenant.get("/v1/suppressions", params={"limit": 2})).json()
    assert len(page["data"]) == 2 and page["next_cursor"]
    rest = (await tenant.get("/v1/suppressions", params={"limit": 10, "cursor": page["next_cursor"]})).json()
    assert len(rest["data"]) == 3 and rest["next_cursor"] is None
    newest_first = [s["id"] for s in page["data"] + rest["data"]]
    assert newest_first[1:] == [s["id"] for s in reversed(made)]
    bounced = (await tenant.get("/v1/suppressions", params={"reason": "bounced"})).json()["data"]
    assert [s["id"] for s in bounced] == [made[3]["id"], made[1]["id"]]
    sms = (await tenant.get("/v1/suppressions", params={"channel": "sms"})).json()["data"]
    assert [s["address"] for s in sms] == ["+49301234567"]
    oldest = (await tenant.get("/v1/suppressions", params={"sort": "created_at", "channel": "email"})).json()["data"]
    assert [s["id"] for s in oldest] == [s["id"] for s in made]


async def test_lifting_needs_admin_and_is_announced(tenant: Tenant) -> None:
    entry = await _suppress(tenant, channel="email", address="sara@acme.example")
    writer = await tenant.key_with("suppressions:write", "suppressions:read")
    assert_problem(await tenant.delete(f"/v1/suppressions/{entry['id']}", key=writer), 403)
    response = await tenant.delete(f"/v1/suppressions/{entry['id']}")
    assert response.status_code == 204, response.text
    assert_problem(await tenant.get(f"/v1/suppressions/{entry['id']}"), 404)
    assert_problem(await tenant.delete(f"/v1/suppressions/{entry['id']}"), 404)
    [event] = (await tenant.get("/v1/events", params={"type": "suppression.deleted"})).json()["data"]
    assert event["data"] == entry
    # Suppressing it again makes a new entry.
    anew = await _suppress(tenant, channel="email", address="sara@acme.example")
    assert anew["id"] != entry["id"]


async def test_lifting_voids_the_consent_given_before_it(tenant: Tenant) -> None:
    """A person at a lifted address opts in again, with new proof, before marketing reaches them."""

    async def person(kind: str, email: str) -> str:
        response = await tenant.post(f"/v1/{kind}", json={"first_name": "Sara", "email": email})
        assert response.status_code == 201, response.text
        return f"{kind}/{response.json()['id']}"

    async def consent(path: str) -> dict[str, Any]:
        entries = (await tenant.get(f"/v1/{path}/consents")).json()["data"]
        return next(e for e in entries if e["channel"] == "email")

    before = await person("leads", "Sara@acme.example")
    other = await person("leads", "o@acme.example")
    after = await person("contacts", "sara@acme.example")  # the same address
    opt_in = {"status": "opted_in", "source": "form", "proof": {"text": "Send me news"}}
    for path in (before, other):
        assert (await tenant.request("PUT", f"/v1/{path}/consents/email", json=opt_in)).status_code == 200
    entry = await _suppress(tenant, channel="email", address="sara@acme.example", reason="bounced")
    assert (await tenant.request("PUT", f"/v1/{after}/consents/email", json=opt_in)).status_code == 200
    assert (await tenant.delete(f"/v1/suppressions/{entry['id']}")).status_code == 204
    assert (await consent(before))["status"] == "unknown"
    assert (await consent(before))["source"] == "api"
    assert (await consent(after))["status"] == "opted_in"  # given since the suppression: new proof
    assert (await consent(other))["status"] == "opted_in"  # another address
    updated = (await tenant.get("/v1/events", params={"type": "consent.updated"})).json()["data"]
    lifted = [e["data"] for e in updated if e["data"]["status"] == "unknown"]
    assert [(e["lead_id"], e["previous_status"]) for e in lifted] == [(before.split("/")[1], "opted_in")]


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await _suppress(other_tenant, channel="email", address="sara@acme.example")
    assert_problem(await tenant.get(f"/v1/suppressions/{theirs['id']}"), 404)
    assert_problem(await tenant.delete(f"/v1/suppressions/{theirs['id']}"), 404)
    assert (await tenant.get("/v1/suppressions")).json()["data"] == []
    # The same address in this workspace is an entry of its own.
    ours = await _suppress(tenant, channel="email", address="sara@acme.example")
    assert ours["id"] != theirs["id"]
    reader = await tenant.key_with("suppressions:read")
    writer = await tenant.key_with("suppressions:write")
    leads = await tenant.key_with("leads:read", "leads:write")
    body = {"channel": "email", "address": "ali@acme.example"}
    assert (await tenant.get("/v1/suppressions", key=reader)).status_code == 200
    assert (await tenant.get(f"/v1/suppressions/{ours['id']}", key=reader)).status_code == 200
    assert_problem(await tenant.post("/v1/suppressions", key=reader, json=body), 403)
    assert (await tenant.post("/v1/suppressions", key=writer, json=body)).status_code == 201
    assert_problem(await tenant.get("/v1/suppressions", key=leads), 403)
    assert_problem(await tenant.get(f"/v1/suppressions/{ours['id']}", key=leads), 403)
    events_reader = await tenant.key_with("events:read", "suppressions:read")
    assert (
        await tenant.get("/v1/events", key=events_reader, params={"type": "suppression.created"})
    ).status_code == 200
    no_scope = await tenant.key_with("events:read", "leads:read")
    assert_problem(await tenant.get("/v1/events", key=no_scope, params={"type": "suppression.created"}), 403)


async def test_the_service_checks_by_hash_per_channel(database: Database, tenant: Tenant) -> None:
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        message_id = uuid.uuid4()
        row = await suppressions.add(
            ctx, ChannelType.SMS, "+49 30 1234567", SuppressionReason.BOUNCED, message_id=message_id
        )
        assert row["address_hash"] == sealer().keyed_digest("suppression:sms", "+49301234567")
        assert row["message_id"] == message_id and row["created_by"] == "system"
        assert await suppressions.add(ctx, ChannelType.SMS, "+49301234567", SuppressionReason.MANUAL) == row
        assert await suppressions.is_suppressed(ctx, ChannelType.SMS, "+49301234567")
        assert not await suppressions.is_suppressed(ctx, ChannelType.WHATSAPP, "+49301234567")
        assert not await suppressions.is_suppressed(ctx, ChannelType.EMAIL, "+49301234567")
        await suppressions.add(ctx, ChannelType.EMAIL, "Jörg.Straße@Example.DE", SuppressionReason.COMPLAINED)
        assert await suppressions.is_suppressed(ctx, ChannelType.EMAIL, "jörg.straße@example.de")
        assert await suppressions.is_suppressed(ctx, ChannelType.EMAIL, " JÖRG.STRASSE@example.de")
        await uow.commit()
    [listed] = (await tenant.get("/v1/suppressions", params={"channel": "sms"})).json()["data"]
    assert (listed["reason"], listed["message_id"], listed["created_by"]) == (
        "bounced", str(message_id), {"type": "system", "id": None},
    )  # fmt: skip


async def plant_erased(database: Database, tenant: Tenant, channel: str, address_key: str) -> uuid.UUID:
    """An entry as an erasure leaves it: no address, the keyed hash of the normalised address."""
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        channel_type = ChannelType(channel)
        row = await ctx.suppressions.add(
            {
                "id": uuid.uuid4(),
                "channel": channel,
                "address": None,
                "address_hash": suppressions.address_hash(
                    channel_type, suppressions.lookup_key(channel_type, address_key)
                ),
                "reason": "erased",
                "note": None,
                "message_id": None,
                "created_at": utcnow(),
                "created_by": "system",
            }
        )
        await uow.commit()
    assert row is not None
    return uuid.UUID(str(row["id"]))


async def test_an_address_finds_its_entries_erased_ones_too(
    database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    erased = await plant_erased(database, tenant, "email", "sara@acme.example")
    theirs = await plant_erased(database, other_tenant, "email", "sara@acme.example")
    await _suppress(tenant, channel="email", address="ali@acme.example")
    sms = await _suppress(tenant, channel="sms", address="+989121234567", reason="bounced")
    whatsapp_erased = await plant_erased(database, tenant, "whatsapp", "+989121234567")

    def ids(response: Any) -> list[str]:
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["data"]]

    found = await tenant.get("/v1/suppressions", params={"address": "  SARA@Acme.EXAMPLE "})
    assert ids(found) == [str(erased)]
    [entry] = found.json()["data"]
    assert (entry["address"], entry["reason"], entry["channel"]) == (None, "erased", "email")
    assert ids(await tenant.get("/v1/suppressions", params={"address": "sara@acme.example", "channel": "email"})) == [
        str(erased)
    ]
    # The address on another channel, another reason: nothing.
    assert ids(await tenant.get("/v1/suppressions", params={"address": "sara@acme.example", "reason": "manual"})) == []
    # A phone number, national here, is looked for on SMS and WhatsApp (newest first).
    assert ids(await tenant.get("/v1/suppressions", params={"address": "0912 123 4567"})) == [
        str(whatsapp_erased), sms["id"],
    ]  # fmt: skip
    page = (await tenant.get("/v1/suppressions", params={"address": "+98 912 123 4567", "limit": 1})).json()
    assert [s["id"] for s in page["data"]] == [str(whatsapp_erased)] and page["next_cursor"]
    rest = await tenant.get(
        "/v1/suppressions", params={"address": "+98 912 123 4567", "limit": 1, "cursor": page["next_cursor"]}
    )
    assert ids(rest) == [sms["id"]] and rest.json()["next_cursor"] is None
    params = {"address": "09121234567", "channel": "sms"}
    assert ids(await tenant.get("/v1/suppressions", params=params)) == [sms["id"]]
    params = {"address": "09121234567", "reason": "erased"}
    assert ids(await tenant.get("/v1/suppressions", params=params)) == [str(whatsapp_erased)]
    # Another workspace sees only its own entry of the address.
    assert ids(await other_tenant.get("/v1/suppressions", params={"address": "sara@acme.example"})) == [str(theirs)]
    assert ids(await other_tenant.get("/v1/suppressions", params={"address": "+989121234567"})) == []
    # An address that is no email nor phone (or none on the channel asked) is a 422 naming it.
    for params in ({"address": "nope"}, {"address": ""}, {"address": "sara@acme.example", "channel": "sms"}):
        assert_problem(await tenant.get("/v1/suppressions", params=params), 422, "address")
    # Only an erasure writes erased entries: the API refuses the reason.
    body = {"channel": "email", "address": "sara@acme.example", "reason": "erased"}
    assert_problem(await tenant.post("/v1/suppressions", json=body), 422, "reason")
