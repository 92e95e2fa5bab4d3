"""A new person at an address an erasure suppressed, through HTTP on both databases: created as
anyone else, but their marketing consent on that channel starts `opted_out` (source `erasure`)
whether they come by the API, a batch, a form, a contact or an order sync; a form's own ticked box
is their new opt-in; and every message to the address is blocked as suppressed."""

from __future__ import annotations

from typing import Any

from app.db.session import Database
from tests.api.test_imports import csv_bytes, imported, upload
from tests.api.test_messages_api import EMAIL_CHANNEL, channels
from tests.api.test_suppressions import plant_erased
from tests.conftest import Tenant

SITE = "https://www.shop.example"
TEXT = "Send me the newsletter by email."


async def _consents(tenant: Tenant, kind: str, person_id: str) -> dict[str, dict[str, Any]]:
    answer = await tenant.get(f"/v1/{kind}s/{person_id}/consents")
    assert answer.status_code == 200, answer.text
    return {c["channel"]: c for c in answer.json()["data"]}


async def _statuses(tenant: Tenant, kind: str, person_id: str) -> dict[str, tuple[str, str | None]]:
    return {c: (v["status"], v["source"]) for c, v in (await _consents(tenant, kind, person_id)).items()}


async def _form(tenant: Tenant) -> dict[str, Any]:
    body = {
        "name": "Newsletter",
        "allowed_origins": [SITE],
        "consents": [{"field": "newsletter", "channel": "email", "text": TEXT}],
    }
    created = await tenant.post("/v1/forms", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _submit(tenant: Tenant, form: dict[str, Any], data: dict[str, str]) -> None:
    url = f"/v1/forms/{form['id']}/submissions?key={tenant.publishable_key}"
    headers = {"Origin": SITE, "User-Agent": "Mozilla/5.0 (test)", "Accept": "application/json"}
    answer = await tenant.client.post(url, data=data, headers=headers)
    assert answer.status_code == 201, answer.text


async def _lead_by_email(tenant: Tenant, email: str) -> str:
    found = [x for x in (await tenant.get("/v1/leads", params={"q": email})).json()["data"] if x["email"] == email]
    assert len(found) == 1, found
    return str(found[0]["id"])


OUT = ("opted_out", "erasure")
UNKNOWN = ("unknown", None)


async def test_a_new_lead_at_an_erased_address_starts_opted_out(database: Database, tenant: Tenant) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "IR"})
    await plant_erased(database, tenant, "email", "sara@acme.example")
    await plant_erased(database, tenant, "sms", "+989121234567")
    created = await tenant.post("/v1/leads", json={"first_name": "Sara", "email": "SARA@acme.example"})
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    assert await _statuses(tenant, "lead", lead_id) == {"email": OUT, "sms": UNKNOWN, "whatsapp": UNKNOWN}
    email = (await _consents(tenant, "lead", lead_id))["email"]
    assert email["proof"] is None
    # A phone erased on SMS: that channel only.
    created = await tenant.post("/v1/leads", json={"first_name": "Ali", "phone": "0912 123 4567"})
    assert created.status_code == 201, created.text
    assert await _statuses(tenant, "lead", created.json()["id"]) == {
        "email": UNKNOWN, "sms": OUT, "whatsapp": UNKNOWN,
    }  # fmt: skip
    # Anyone else starts as before.
    other = await tenant.post("/v1/leads", json={"first_name": "Reza", "email": "reza@acme.example"})
    assert {s for s, _ in (await _statuses(tenant, "lead", other.json()["id"])).values()} == {"unknown"}
    # A batch looks its new items up at once.
    items = [
        {"external_id": "x1", "first_name": "Mina", "email": "mina@acme.example"},
        {"external_id": "x2", "first_name": "Sara", "email": "sara@acme.example"},
    ]
    await plant_erased(database, tenant, "email", "mina@acme.example")
    answer = await tenant.post("/v1/leads/batch", json={"leads": items})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results[0]["status"] == "created", results
    assert (await _statuses(tenant, "lead", results[0]["id"]))["email"] == OUT
    # The second is Sara again: merged into her open lead, no new person.
    assert (results[1]["status"], results[1]["id"]) == ("merged", lead_id)
    # Opting in again, with new proof, is theirs to do.
    again = await tenant.request(
        "PUT", f"/v1/leads/{lead_id}/consents/email",
        json={"status": "opted_in", "source": "form", "proof": {"text": "Yes, again"}},
    )  # fmt: skip
    assert again.status_code == 200, again.text
    # Only the service sets `erasure`.
    refused = await tenant.request(
        "PUT", f"/v1/leads/{lead_id}/consents/email", json={"status": "opted_out", "source": "erasure"}
    )
    assert refused.status_code == 422 and "source" in refused.text


async def test_a_form_capture_starts_opted_out_unless_its_box_is_ticked(database: Database, tenant: Tenant) -> None:
    await tenant.patch("/v1/settings/messaging", json={"double_opt_in": False})
    form = await _form(tenant)
    await plant_erased(database, tenant, "email", "sara@acme.example")
    await plant_erased(database, tenant, "email", "ali@acme.example")
    await _submit(tenant, form, {"email": "Sara@Acme.example", "first_name": "Sara"})
    sara = await _lead_by_email(tenant, "Sara@acme.example")
    assert (await _statuses(tenant, "lead", sara))["email"] == OUT
    # The box ticked on the form is the person's new opt-in, with its proof.
    await _submit(tenant, form, {"email": "ali@acme.example", "newsletter": "yes"})
    ali = await _lead_by_email(tenant, "ali@acme.example")
    email = (await _consents(tenant, "lead", ali))["email"]
    assert (email["status"], email["source"], email["proof"]["text"]) == ("opted_in", "form", TEXT)
    history = (await tenant.get(f"/v1/leads/{ali}/consents/history")).json()["data"]
    assert sorted((h["status"], h["source"]) for h in history) == [("opted_in", "form"), ("opted_out", "erasure")]


async def test_new_contacts_from_the_api_and_order_sync_start_opted_out(database: Database, tenant: Tenant) -> None:
    await plant_erased(database, tenant, "email", "mina@example.com")
    await plant_erased(database, tenant, "email", "omid@example.com")
    created = await tenant.post("/v1/contacts", json={"first_name": "Mina", "email": "MINA@example.com"})
    assert created.status_code == 201, created.text
    assert (await _statuses(tenant, "contact", created.json()["id"]))["email"] == OUT
    placed = "2026-11-01T12:00:00Z"
    orders = [
        {
            "source": "shopify", "external_id": f"#{n}", "status": "paid", "currency": "USD", "total": "10.00",
            "placed_at": placed, "source_updated_at": placed,
            "customer": {"external_id": f"c{n}", "email": email},
        }
        for n, email in ((1, "omid@example.com"), (2, "pari@example.com"))
    ]  # fmt: skip
    answer = await tenant.post("/v1/orders/batch", json={"orders": orders})
    assert answer.status_code == 200, answer.text
    assert all(r["status"] == "created" for r in answer.json()["results"]), answer.text
    for email, expected in (("omid@example.com", OUT), ("pari@example.com", UNKNOWN)):
        [contact] = (await tenant.get("/v1/contacts", params={"email": email})).json()["data"]
        assert (await _statuses(tenant, "contact", contact["id"]))["email"] == expected


async def test_a_message_to_an_erased_address_is_blocked_as_suppressed(database: Database, tenant: Tenant) -> None:
    await channels(tenant, EMAIL_CHANNEL)
    lead = await tenant.post("/v1/leads", json={"first_name": "Sara", "email": "sara@acme.example"})
    assert lead.status_code == 201, lead.text
    # Erased after the lead came (the erasure of someone else at this address, say).
    await plant_erased(database, tenant, "email", "sara@acme.example")
    for purpose in ("transactional", "marketing"):
        body = {"lead_id": lead.json()["id"], "channel": "email", "subject": "Hi", "body_text": "x", "purpose": purpose}
        answer = await tenant.post("/v1/messages", json=body)
        assert answer.status_code == 202, answer.text
        assert (answer.json()["status"], answer.json()["block_reason"]) == ("blocked", "suppressed")


async def test_imported_leads_and_contacts_start_opted_out(database: Database, tenant: Tenant) -> None:
    await plant_erased(database, tenant, "email", "sara@acme.io")
    rows = [["First name", "E-mail"], ["Sara", "Sara@Acme.io"], ["Reza", "reza@acme.io"]]
    mapping = {"first_name": "First name", "email": "E-mail"}
    for entity in ("leads", "contacts"):
        await imported(tenant, database, await upload(tenant, entity, csv_bytes(rows), mapping=mapping))
        for email, expected in (("sara@acme.io", OUT), ("reza@acme.io", UNKNOWN)):
            params = {"q": email} if entity == "leads" else {"email": email}
            [person] = (await tenant.get(f"/v1/{entity}", params=params)).json()["data"]
            assert (await _statuses(tenant, entity[:-1], person["id"]))["email"] == expected, (entity, email)
