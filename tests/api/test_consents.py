"""Consent per channel of leads and contacts through HTTP on both databases: every channel shown
(unknown where never set), changes kept with their proof and announced once, tenancy and scopes,
opting everyone at an address out, and what qualification and merges do with consents."""

from __future__ import annotations

import uuid
from typing import Any

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.outreach.vocabulary import ChannelType, ConsentSource, ConsentStatus, PersonRef
from app.ids import utcnow
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.outreach import consents
from tests.conftest import Tenant, assert_problem

PROOF = {"submission_id": "sub_1", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0", "text": "Send me offers"}


async def _lead(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/leads", json={"first_name": "Sara", "email": "sara@acme.example", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _contact(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/contacts", json={"first_name": "Ali", "email": "ali@acme.example", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _events(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = await tenant.get("/v1/events", params={"type": "consent.updated", "limit": 200, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_every_channel_is_listed_and_unknown_until_set(tenant: Tenant) -> None:
    lead = await _lead(tenant)
    listed = (await tenant.get(f"/v1/leads/{lead['id']}/consents")).json()["data"]
    assert listed == [
        {"channel": c, "status": "unknown", "source": None, "captured_at": None, "proof": None}
        for c in ("email", "sms", "whatsapp")
    ]


async def test_a_consent_is_set_kept_with_its_proof_and_announced_once(tenant: Tenant) -> None:
    lead = await _lead(tenant)
    url = f"/v1/leads/{lead['id']}/consents"
    response = await tenant.request(
        "PUT", f"{url}/email", json={"status": "opted_in", "source": "form", "proof": PROOF}
    )
    assert response.status_code == 200, response.text
    entry = response.json()
    assert (entry["channel"], entry["status"], entry["source"], entry["proof"]) == ("email", "opted_in", "form", PROOF)
    assert entry["captured_at"].endswith("Z")
    listed = (await tenant.get(url)).json()["data"]
    assert listed[0] == entry and listed[1]["status"] == "unknown"

    # The same again changes nothing: no history entry, no event.
    again = await tenant.request("PUT", f"{url}/email", json={"status": "opted_in", "source": "form", "proof": PROOF})
    assert again.json() == entry
    [event] = await _events(tenant)
    assert event["data"] == {
        "lead_id": lead["id"], "contact_id": None, "channel": "email", "status": "opted_in",
        "previous_status": "unknown", "source": "form", "captured_at": entry["captured_at"], "proof": PROOF,
    }  # fmt: skip
    assert [e["id"] for e in await _events(tenant, resource_id=lead["id"])] == [event["id"]]

    # Opting out: a second change, newest first in the history.
    out = await tenant.request("PUT", f"{url}/email", json={"status": "opted_out", "source": "unsubscribe"})
    assert (out.json()["status"], out.json()["proof"]) == ("opted_out", None)
    history = (await tenant.get(f"{url}/history")).json()
    assert [(h["status"], h["previous_status"], h["source"]) for h in history["data"]] == [
        ("opted_out", "opted_in", "unsubscribe"),
        ("opted_in", "unknown", "form"),
    ]
    assert history["data"][1]["proof"] == PROOF and history["data"][0]["created_by"]["type"] == "api_key"
    page = (await tenant.get(f"{url}/history", params={"limit": 1})).json()
    assert page["next_cursor"] and page["data"][0]["status"] == "opted_out"
    rest = (await tenant.get(f"{url}/history", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [h["status"] for h in rest["data"]] == ["opted_in"] and rest["next_cursor"] is None
    assert len(await _events(tenant)) == 2

    # Only the proof changing is a change too.
    proof = {**PROOF, "text": "Other wording", "campaign": "spring"}
    changed = await tenant.request("PUT", f"{url}/sms", json={"status": "opted_in", "source": "form", "proof": PROOF})
    assert changed.status_code == 200
    changed = await tenant.request("PUT", f"{url}/sms", json={"status": "opted_in", "source": "form", "proof": proof})
    assert changed.json()["proof"] == proof
    history = (await tenant.get(f"{url}/history")).json()["data"]
    assert (history[0]["channel"], history[0]["previous_status"], history[0]["proof"]) == ("sms", "opted_in", proof)
    assert len(await _events(tenant)) == 4


async def test_contacts_have_consents_of_their_own(tenant: Tenant) -> None:
    contact = await _contact(tenant)
    url = f"/v1/contacts/{contact['id']}/consents"
    response = await tenant.request("PUT", f"{url}/whatsapp", json={"status": "pending_confirmation", "source": "api"})
    assert response.status_code == 200, response.text
    assert [e["status"] for e in (await tenant.get(url)).json()["data"]] == [
        "unknown",
        "unknown",
        "pending_confirmation",
    ]
    [change] = (await tenant.get(f"{url}/history")).json()["data"]
    assert change["channel"] == "whatsapp" and change["previous_status"] == "unknown"
    [event] = await _events(tenant)
    assert (event["data"]["contact_id"], event["data"]["lead_id"]) == (contact["id"], None)


async def test_bad_input_names_the_field(tenant: Tenant) -> None:
    lead = await _lead(tenant)
    url = f"/v1/leads/{lead['id']}/consents"
    body = {"status": "opted_in", "source": "form"}
    assert_problem(await tenant.request("PUT", f"{url}/fax", json=body), 422, "channel")
    assert_problem(await tenant.request("PUT", f"{url}/email", json={**body, "status": "maybe"}), 422, "status")
    assert_problem(await tenant.request("PUT", f"{url}/email", json={**body, "source": "rumour"}), 422, "source")
    assert_problem(await tenant.request("PUT", f"{url}/email", json={"source": "form"}), 422, "status")
    bad_ip = {**body, "proof": {"ip": "not an ip"}}
    assert_problem(await tenant.request("PUT", f"{url}/email", json=bad_ip), 422, "proof.ip")
    huge = {**body, "proof": {"text": "x" * 5001}}
    assert_problem(await tenant.request("PUT", f"{url}/email", json=huge), 422, "proof.text")
    many = {**body, "proof": {f"k{i}": "v" for i in range(21)}}
    assert_problem(await tenant.request("PUT", f"{url}/email", json=many), 422, "proof")
    for bad in ({"note": "a\u0000b"}, {"a\u0000": "b"}):
        assert_problem(await tenant.request("PUT", f"{url}/email", json={**body, "proof": bad}), 422, "proof")
    surrogate = '{"status": "opted_in", "source": "form", "proof": {"note": "\\ud800"}}'
    headers = {"Content-Type": "application/json"}
    assert_problem(await tenant.request("PUT", f"{url}/email", content=surrogate, headers=headers), 422, "proof")
    assert_problem(await tenant.request("PUT", f"{url}/email", json={**body, "proof": {"text": "a\u0000"}}), 422,
                   "proof.text")  # fmt: skip
    nested = {**body, "proof": {"extra": {"deep": 1}}}
    assert_problem(await tenant.request("PUT", f"{url}/email", json=nested), 422, "proof")
    assert_problem(await tenant.request("PUT", f"{url}/email", json={**body, "colour": "red"}), 422, "colour")
    assert (await tenant.get(f"{url}/history")).json()["data"] == []


async def test_another_workspaces_people_are_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    lead, contact = await _lead(other_tenant), await _contact(other_tenant)
    body = {"status": "opted_in", "source": "form"}
    for url in (f"/v1/leads/{lead['id']}/consents", f"/v1/contacts/{contact['id']}/consents",
                f"/v1/leads/{contact['id']}/consents", f"/v1/leads/{uuid.uuid4()}/consents"):  # fmt: skip
        assert_problem(await tenant.get(url), 404)
        assert_problem(await tenant.get(f"{url}/history"), 404)
        assert_problem(await tenant.request("PUT", f"{url}/email", json=body), 404)
    assert (await other_tenant.get(f"/v1/leads/{lead['id']}/consents/history")).json()["data"] == []


async def test_scopes(tenant: Tenant) -> None:
    lead, contact = await _lead(tenant), await _contact(tenant)
    leads_read = await tenant.key_with("leads:read")
    leads_write = await tenant.key_with("leads:write")
    contacts_read = await tenant.key_with("contacts:read")
    body = {"status": "opted_in", "source": "form"}
    lead_url, contact_url = f"/v1/leads/{lead['id']}/consents", f"/v1/contacts/{contact['id']}/consents"
    assert (await tenant.get(lead_url, key=leads_read)).status_code == 200
    assert (await tenant.get(f"{lead_url}/history", key=leads_read)).status_code == 200
    assert_problem(await tenant.request("PUT", f"{lead_url}/email", key=leads_read, json=body), 403)
    assert (await tenant.request("PUT", f"{lead_url}/email", key=leads_write, json=body)).status_code == 200
    assert_problem(await tenant.get(contact_url, key=leads_read), 403)
    assert_problem(await tenant.get(f"{contact_url}/history", key=leads_read), 403)
    assert_problem(await tenant.request("PUT", f"{contact_url}/email", key=leads_write, json=body), 403)
    assert (await tenant.get(contact_url, key=contacts_read)).status_code == 200
    assert_problem(await tenant.get(lead_url, key=contacts_read), 403)
    assert_problem(await tenant.request("PUT", f"{contact_url}/sms", key=contacts_read, json=body), 403)
    # consent.updated needs both people's read scopes.
    both = await tenant.key_with("events:read", "leads:read", "contacts:read")
    only_leads = await tenant.key_with("events:read", "leads:read")
    assert len((await tenant.get("/v1/events", key=both, params={"type": "consent.updated"})).json()["data"]) == 1
    assert_problem(await tenant.get("/v1/events", key=only_leads, params={"type": "consent.updated"}), 403)
    assert all(e["type"] != "consent.updated" for e in (await tenant.get("/v1/events", key=only_leads)).json()["data"])


async def _ctx(database: Database, tenant: Tenant, uow: UnitOfWork) -> Context:
    return Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)


async def test_opting_out_an_address_reaches_every_lead_and_contact_with_it(
    database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    second = await _lead(tenant, email="sara.other@acme.example", phone="+49301234567")
    assert (await tenant.delete(f"/v1/leads/{second['id']}")).status_code == 200  # archived leads count too
    first = await _lead(tenant, email="Sara@Acme.example", phone="+49 30 1234567")
    contact = await _contact(tenant, email="SARA@acme.example")
    stranger = await _lead(other_tenant, email="sara@acme.example")
    await tenant.request(
        "PUT", f"/v1/leads/{first['id']}/consents/email", json={"status": "opted_in", "source": "form"}
    )
    async with UnitOfWork(database) as uow:
        ctx = await _ctx(database, tenant, uow)
        assert (
            await consents.opt_out_address(ctx, ChannelType.EMAIL, "sara@acme.example", ConsentSource.UNSUBSCRIBE) == 2
        )
        assert await consents.opt_out_address(ctx, ChannelType.SMS, "+49301234567", ConsentSource.REPLY_KEYWORD) == 2
        assert await consents.status_of(ctx, PersonRef("lead", uuid.UUID(first["id"])), ChannelType.EMAIL) == (
            ConsentStatus.OPTED_OUT
        )
        assert await consents.status_of(ctx, PersonRef("lead", uuid.UUID(second["id"])), ChannelType.WHATSAPP) == (
            ConsentStatus.UNKNOWN
        )
        # Recording what is already so is a no-op.
        entry = await consents.record(
            ctx, PersonRef("contact", uuid.UUID(contact["id"])), ChannelType.EMAIL, ConsentStatus.OPTED_OUT,
            ConsentSource.UNSUBSCRIBE,
        )  # fmt: skip
        assert entry["status"] == "opted_out"
        await uow.commit()
    statuses = {
        (who, e["channel"]): e["status"]
        for who, url in (
            ("first", f"/v1/leads/{first['id']}"),
            ("second", f"/v1/leads/{second['id']}"),
            ("contact", f"/v1/contacts/{contact['id']}"),
        )
        for e in (await tenant.get(f"{url}/consents")).json()["data"]
    }
    assert statuses[("first", "email")] == statuses[("contact", "email")] == "opted_out"
    assert statuses[("second", "email")] == "unknown"
    assert statuses[("first", "sms")] == statuses[("second", "sms")] == "opted_out"
    assert statuses[("contact", "sms")] == statuses[("first", "whatsapp")] == "unknown"
    stranger_consents = (await other_tenant.get(f"/v1/leads/{stranger['id']}/consents")).json()["data"]
    assert {e["status"] for e in stranger_consents} == {"unknown"}
    sources = {e["data"]["source"] for e in await _events(tenant)}
    assert sources == {"form", "unsubscribe", "reply_keyword"} and len(await _events(tenant)) == 5


async def _put(tenant: Tenant, url: str, status: str, source: str = "form", **proof: Any) -> None:
    body: dict[str, Any] = {"status": status, "source": source, **({"proof": proof} if proof else {})}
    response = await tenant.request("PUT", url, json=body)
    assert response.status_code == 200, response.text


async def test_qualification_carries_the_leads_consents_to_its_contact(tenant: Tenant) -> None:
    lead = await _lead(tenant, company="Acme")
    url = f"/v1/leads/{lead['id']}/consents"
    await _put(tenant, f"{url}/email", "opted_in", "form", submission_id="sub_9", text="Yes, email me")
    await _put(tenant, f"{url}/sms", "opted_out", "reply_keyword")
    lead_entries = (await tenant.get(url)).json()["data"]
    response = await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={"opportunity": None})
    assert response.status_code == 200, response.text
    contact_id = response.json()["contact_id"]
    contact_url = f"/v1/contacts/{contact_id}/consents"
    assert (await tenant.get(contact_url)).json()["data"] == lead_entries  # proof and capture time kept
    history = (await tenant.get(f"{contact_url}/history")).json()["data"]
    assert sorted((h["channel"], h["status"], h["source"], h["previous_status"]) for h in history) == [
        ("email", "opted_in", "form", "unknown"),
        ("sms", "opted_out", "reply_keyword", "unknown"),
    ]
    carried = [e for e in await _events(tenant) if e["data"]["contact_id"] == contact_id]
    assert len(carried) == 2
    # The lead keeps its own.
    assert (await tenant.get(url)).json()["data"] == lead_entries


async def test_an_existing_contacts_opt_out_is_not_undone_by_the_leads_opt_in(tenant: Tenant) -> None:
    contact = await _contact(tenant, email="sara@acme.example")
    await _put(tenant, f"/v1/contacts/{contact['id']}/consents/email", "opted_out", "unsubscribe")
    lead = await _lead(tenant, email="sara@acme.example")
    await _put(tenant, f"/v1/leads/{lead['id']}/consents/email", "opted_in", "form")
    await _put(tenant, f"/v1/leads/{lead['id']}/consents/whatsapp", "opted_in", "form")
    response = await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={"opportunity": None})
    assert response.status_code == 200, response.text
    assert response.json()["contact_id"] == contact["id"]
    entries = {e["channel"]: e for e in (await tenant.get(f"/v1/contacts/{contact['id']}/consents")).json()["data"]}
    assert (entries["email"]["status"], entries["email"]["source"]) == ("opted_out", "unsubscribe")
    assert entries["whatsapp"]["status"] == "opted_in" and entries["sms"]["status"] == "unknown"


async def test_merged_leads_keep_the_merged_consent_and_an_opt_out_wins(tenant: Tenant) -> None:
    survivor = await _lead(tenant, email="sara@acme.example")
    loser = await _lead(tenant, email="sara.ahmadi@acme.example", phone="+49301234567")
    s_url, l_url = f"/v1/leads/{survivor['id']}/consents", f"/v1/leads/{loser['id']}/consents"
    await _put(tenant, f"{s_url}/email", "opted_in", "form", text="Email me")
    await _put(tenant, f"{l_url}/email", "opted_out", "unsubscribe")
    await _put(tenant, f"{s_url}/sms", "pending_confirmation", "form")
    await _put(tenant, f"{l_url}/sms", "opted_in", "confirmation", ip="198.51.100.4")
    await _put(tenant, f"{s_url}/whatsapp", "opted_in", "api", text="kept")
    await _put(tenant, f"{l_url}/whatsapp", "pending_confirmation", "form")
    response = await tenant.post(f"/v1/leads/{survivor['id']}/merge", json={"lead_ids": [loser["id"]]})
    assert response.status_code == 200, response.text
    entries = {e["channel"]: e for e in (await tenant.get(s_url)).json()["data"]}
    assert (entries["email"]["status"], entries["email"]["source"], entries["email"]["proof"]) == (
        "opted_out", "unsubscribe", None,
    )  # fmt: skip
    assert (entries["sms"]["status"], entries["sms"]["proof"]) == ("opted_in", {"ip": "198.51.100.4"})
    assert (entries["whatsapp"]["status"], entries["whatsapp"]["proof"]) == ("opted_in", {"text": "kept"})
    latest = (await tenant.get(f"{s_url}/history", params={"limit": 2})).json()["data"]
    assert sorted((h["channel"], h["previous_status"], h["status"]) for h in latest) == [
        ("email", "opted_in", "opted_out"),
        ("sms", "pending_confirmation", "opted_in"),
    ]
    # Merging again changes nothing.
    before = len(await _events(tenant))
    await tenant.post(f"/v1/leads/{survivor['id']}/merge", json={"lead_ids": [loser["id"]]})
    assert len(await _events(tenant)) == before


async def test_an_automatic_merge_keeps_an_opt_out_too(database: Database, tenant: Tenant) -> None:
    from app.services.leads import duplicates

    survivor = await _lead(tenant, first_name="Sara", last_name="Ahmadi", company="Acme", email="sara@acme.example")
    newer = await _lead(tenant, first_name="Sara", last_name="Ahmadi", company="Acme", email=None, phone="+49301234567")
    await _put(tenant, f"/v1/leads/{survivor['id']}/consents/email", "opted_in", "form")
    await _put(tenant, f"/v1/leads/{newer['id']}/consents/email", "opted_out", "unsubscribe")
    await _put(tenant, f"/v1/leads/{newer['id']}/consents/sms", "opted_in", "form", text="Text me")
    async with UnitOfWork(database) as uow:
        ctx = await _ctx(database, tenant, uow)
        merged = await duplicates.merge_automatically(ctx, uuid.UUID(newer["id"]), uuid.UUID(survivor["id"]), 95.0)
        assert merged is not None
        await uow.commit()
    entries = {e["channel"]: e for e in (await tenant.get(f"/v1/leads/{survivor['id']}/consents")).json()["data"]}
    assert (entries["email"]["status"], entries["sms"]["status"], entries["sms"]["proof"]) == (
        "opted_out", "opted_in", {"text": "Text me"},
    )  # fmt: skip
