"""Privacy export and erasure end to end, through HTTP on both databases: one person's data is
planted everywhere the product keeps personal data (the lead and its custom fields, a form capture
with its consent proof, engagements, notes, tasks, a message, events and what webhook receivers
answered, a stored idempotent answer, a failed import row, the contact with its addresses, orders,
a shop payload that failed and the audit log), each copy carrying one marker unique to the run.

The export before erasure names every planted record. After the erasure a scan of every text, JSON
and binary column of every table of the workspace finds the marker nowhere, no API answer returns
it, and the orders and the customer's revenue are what they were."""

from __future__ import annotations

import gzip
import json
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import LargeBinary, select

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import new_id
from tests.api.test_analytics import run_jobs
from tests.api.test_imports import csv_bytes, upload
from tests.api.test_integrations import connect, fixture, paid, shopify
from tests.api.test_messages_api import EMAIL_CHANNEL, channels
from tests.conftest import Tenant, assert_problem, drain_dispatch

SITE = "https://www.shop.example"


@dataclass
class Person:
    """One person's identifiers, each holding the run's marker (lower case: searched without case)."""

    marker: str
    phone: str

    @property
    def email(self) -> str:
        return f"{self.marker}@example.org"

    @property
    def old_email(self) -> str:  # the lead's email before the audited change
        return f"{self.marker}.old@example.org"

    @property
    def first_name(self) -> str:
        return f"Sara{self.marker}"

    @property
    def last_name(self) -> str:
        return f"Karimi{self.marker}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def digits(self) -> str:
        """The phone's national digits: found however a place writes the country code."""
        return self.phone.removeprefix("+98")


def a_person() -> Person:
    return Person(
        marker="mk" + secrets.token_hex(8), phone="+98912" + "".join(secrets.choice("0123456789") for _ in range(7))
    )


@dataclass
class Planted:
    """The ids of what was planted, by the resource an export names them under."""

    lead_id: str = ""
    contact_id: str = ""
    ids: dict[str, set[str]] = field(default_factory=dict)

    def add(self, resource: str, record_id: str) -> None:
        self.ids.setdefault(resource, set()).add(str(record_id))


# -- the scan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    table: str
    column: str
    row: tuple[str, ...]


def _texts(value: Any) -> str | None:
    """What a stored value says as text: JSON dumped, binary unpacked (gzip or zlib) and decoded."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        for unpack in (gzip.decompress, zlib.decompress):
            try:
                raw = unpack(raw)
                break
            except (OSError, zlib.error, EOFError):
                continue
        return raw.decode("utf-8", errors="ignore")
    return None  # numbers, times, ids and flags hold no text


async def scan(database: Database, workspace_id: str, *needles: str) -> set[Hit]:
    """Every place in the workspace's rows (every table of the schema) where one of `needles`
    appears, case-insensitively."""
    wanted = [n.lower() for n in needles]
    hits: set[Hit] = set()
    workspace = UUID(workspace_id)
    async with UnitOfWork(database) as uow:
        for table in tables.metadata.sorted_tables:
            column = table.c.workspace_id if "workspace_id" in table.c else table.c.id
            rows = (await uow.execute(select(table).where(column == workspace))).mappings().all()
            key = [c.name for c in table.primary_key.columns]
            for row in rows:
                for name, value in row.items():
                    text = _texts(value)
                    if text is not None and any(n in text.lower() for n in wanted):
                        hits.add(Hit(table.name, name, tuple(str(row[k]) for k in key)))
    return hits


def tables_of(hits: set[Hit]) -> set[str]:
    return {h.table for h in hits}


def test_the_scan_reads_every_kind_of_stored_value() -> None:
    """The scan's own check: text, JSON, gzip and plain bytes all say what they hold."""
    assert _texts("a mkX b") == "a mkX b"
    assert "mkx" in (_texts({"k": ["MKX"]}) or "").lower()
    assert _texts(gzip.compress(b'{"email": "mkx@example.org"}')) == '{"email": "mkx@example.org"}'
    assert _texts(b"plain mkx") == "plain mkx"
    assert _texts(12) is None and _texts(datetime.now(UTC)) is None
    assert any(isinstance(c.type, LargeBinary) for t in tables.metadata.sorted_tables for c in t.c)


# -- planting, one step per place ------------------------------------------------------------------


async def define_custom_fields(tenant: Tenant) -> None:
    for body in (
        {"key": "nickname", "label": "Nickname", "type": "text"},
        {"key": "faith", "label": "Faith", "type": "text", "sensitive": True},
    ):
        created = await tenant.post("/v1/custom-fields", json=body)
        assert created.status_code == 201, created.text


async def subscribe_webhooks(tenant: Tenant) -> str:
    created = await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/crm"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def plant_lead(tenant: Tenant, person: Person, planted: Planted) -> None:
    """An idempotent create (its stored answer holds the person), then an audited change of email."""
    body = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.old_email,
        "phone": person.phone,
        "company": f"{person.marker} Trading",
        "job_title": f"Buyer {person.marker}",
        "city": f"Shiraz {person.marker}",
        "country": "IR",
        "custom_fields": {"nickname": f"nick {person.marker}", "faith": f"faith {person.marker}"},
    }
    created = await tenant.post("/v1/leads", json=body, headers={"Idempotency-Key": f"lead-{secrets.token_hex(4)}"})
    assert created.status_code == 201, created.text
    planted.lead_id = str(created.json()["id"])
    planted.add("leads", planted.lead_id)
    changed = await tenant.patch(f"/v1/leads/{planted.lead_id}", json={"email": person.email})
    assert changed.status_code == 200, changed.text


async def plant_form_capture(tenant: Tenant, person: Person, planted: Planted) -> None:
    """A public form post from the person's browser: their fields, a message, their user agent and IP,
    and the consent the form's checkbox gave (its proof names the user agent)."""
    form = await tenant.post("/v1/forms", json={
        "name": "Contact", "allowed_origins": [SITE],
        "consents": [{"field": "newsletter", "channel": "email", "text": "Send me the newsletter."}],
    })  # fmt: skip
    assert form.status_code == 201, form.text
    form_id = form.json()["id"]
    answer = await tenant.client.post(
        f"/v1/forms/{form_id}/submissions",
        json={
            "email": person.email,
            "first_name": person.first_name,
            "phone": person.phone,
            "message": f"Please call me, {person.marker}",
            "newsletter": "on",
        },
        headers={
            "Authorization": f"Bearer {tenant.publishable_key}",
            "Origin": SITE,
            "User-Agent": f"Mozilla/5.0 ({person.marker})",
        },
    )
    assert answer.status_code == 201, answer.text
    listed = (await tenant.get(f"/v1/forms/{form_id}/submissions", params={"limit": 100})).json()["data"]
    [submission] = [s for s in listed if s["id"] == answer.json()["submission_id"]]
    assert submission["lead_id"] == planted.lead_id, submission  # captured onto the open lead
    planted.add("form_submissions", submission["id"])


async def plant_lead_history(tenant: Tenant, person: Person, planted: Planted) -> None:
    """What people and the site recorded about the lead: an engagement, a note, a task."""
    lead = planted.lead_id
    engagement = await tenant.post(
        f"/v1/leads/{lead}/engagements",
        json={"type": "page_view", "properties": {"url": f"{SITE}/p?ref={person.marker}", "note": person.marker}},
    )
    assert engagement.status_code in (200, 201), engagement.text
    engagements = (await tenant.get(f"/v1/leads/{lead}/engagements", params={"limit": 100})).json()["data"]
    for e in engagements:
        planted.add("engagements", e["id"])
    note = await tenant.post("/v1/activities", json={
        "lead_id": lead, "type": "note", "subject": f"Call with {person.full_name}",
        "notes": f"Spoke to {person.full_name} <{person.email}>, phone {person.phone}",
    })  # fmt: skip
    assert note.status_code == 201, note.text
    planted.add("activities", note.json()["id"])
    task = await tenant.post("/v1/tasks", json={"title": f"Call {person.full_name}", "lead_id": lead,
                                                "notes": f"at {person.phone}"})  # fmt: skip
    assert task.status_code == 201, task.text
    planted.add("tasks", task.json()["id"])


async def plant_message(tenant: Tenant, person: Person, planted: Planted) -> None:
    """The person's consent, given with its proof (where and how they said yes), and a message to
    them (queued: stored with its body; no worker sends it here)."""
    await channels(tenant, EMAIL_CHANNEL)
    proof = {"ip": "203.0.113.7", "user_agent": f"Mozilla/5.0 ({person.marker})",
             "text": f"{person.full_name} said yes on the phone"}  # fmt: skip
    consent = await tenant.request("PUT", f"/v1/leads/{planted.lead_id}/consents/email",
                                   json={"status": "opted_in", "source": "api", "proof": proof})  # fmt: skip
    assert consent.status_code == 200, consent.text
    sent = await tenant.post("/v1/messages", json={
        "lead_id": planted.lead_id, "channel": "email", "purpose": "transactional",
        "subject": f"Your quote, {person.first_name}", "body_text": f"Dear {person.full_name}, here it is.",
    })  # fmt: skip
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] in ("queued", "blocked"), sent.text
    planted.add("messages", sent.json()["id"])


async def plant_import(database: Database, tenant: Tenant, person: Person) -> str:
    """A CSV import: one good row (someone else) and one row of the person that fails."""
    data = csv_bytes([
        ["First name", "Last name", "E-mail", "Phone", "Country"],
        ["Other", "Person", f"other-{secrets.token_hex(4)}@example.net", "", "IR"],
        [person.first_name, person.last_name, person.email, person.phone, "Atlantis"],
    ])  # fmt: skip
    mapping = {"first_name": "First name", "last_name": "Last name", "email": "E-mail", "phone": "Phone",
               "country": "Country"}  # fmt: skip
    response = await upload(tenant, "leads", data, mapping=mapping)
    assert response.status_code == 202, response.text
    await run_jobs(database)
    done = (await tenant.get(response.headers["location"])).json()
    assert done["status"] == "completed" and done["rows_failed"] == 1, done
    errors = (await tenant.get(f"/v1/imports/{done['id']}/errors")).json()["data"]
    assert person.marker in json.dumps(errors), errors
    return str(done["id"])


async def plant_contact(tenant: Tenant, person: Person, planted: Planted) -> None:
    """The lead qualified into a contact, with a billing address. The contact joins an existing
    account that has its own city (qualification fills an account's blank city from the lead's)."""
    account = await tenant.post("/v1/accounts", json={"name": "Acme Holdings", "city": "Tehran"})
    assert account.status_code == 201, account.text
    qualified = await tenant.post(f"/v1/leads/{planted.lead_id}/qualify",
                                  json={"account_id": account.json()["id"], "opportunity": None})  # fmt: skip
    assert qualified.status_code == 200, qualified.text
    planted.contact_id = str(qualified.json()["contact_id"])
    planted.add("contacts", planted.contact_id)
    address = {"type": "billing", "city": f"Shiraz {person.marker}", "line1": f"{person.marker} street 7"}
    changed = await tenant.patch(f"/v1/contacts/{planted.contact_id}", json={"addresses": [address]})
    assert changed.status_code == 200, changed.text


async def plant_orders(tenant: Tenant, person: Person, planted: Planted) -> list[str]:
    customer = {
        "external_id": f"cust-{secrets.token_hex(4)}", "email": person.email, "phone": person.phone,
        "first_name": person.first_name, "last_name": person.last_name,
        "addresses": [{"type": "shipping", "city": f"Shiraz {person.marker}", "line1": f"{person.marker} street 7"}],
    }  # fmt: skip
    orders = [
        {"source": "shop", "external_id": f"P-{n}", "status": "paid", "currency": "USD", "total": total,
         "placed_at": f"2026-0{n}-01T10:00:00Z", "source_updated_at": f"2026-0{n}-01T10:00:00Z",
         "customer": customer, "line_items": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": total}]}
        for n, total in ((3, "30.00"), (4, "45.50"))
    ]  # fmt: skip
    synced = await tenant.post("/v1/orders/batch", json={"orders": orders})
    assert synced.status_code == 200, synced.text
    results = synced.json()["results"]
    assert [r["status"] for r in results] == ["created", "created"], results
    ids = [str(r["id"]) for r in results]
    for order_id in ids:
        got = (await tenant.get(f"/v1/orders/{order_id}")).json()
        assert got["contact_id"] == planted.contact_id, got  # the person's orders, by email
        planted.add("orders", order_id)
    return ids


async def plant_shop_failure(tenant: Tenant, person: Person) -> None:
    """A shop's order for the person that could not be applied: kept, payload and all."""
    integration = await connect(tenant)
    order = paid(fixture("shopify", "orders_create"))
    order.pop("total_price")
    order.pop("total_price_set")
    order.update(id=int(secrets.randbelow(10**9)), email=person.email, phone=person.phone,
                 contact_email=person.email)  # fmt: skip
    if isinstance(order.get("customer"), dict):
        order["customer"].update(email=person.email, first_name=person.first_name, last_name=person.last_name)
    response = await shopify(tenant.client, integration, "orders/create", order)
    assert response.status_code == 200 and response.json()["status"] == "failed", response.text


async def plant_webhook_replies(database: Database, tenant: Tenant, endpoint_id: str, person: Person) -> None:
    """What a receiver answered: each delivery of an event about the person got a reply echoing the
    payload (webhook_attempts.response_excerpt), as an echoing receiver would have it stored. The
    deliveries are the dispatcher's own; only the attempts are written here (no worker delivers in
    API tests, and webhook targets on loopback are refused)."""
    await drain_dispatch(database)
    base = f"/v1/webhook-endpoints/{endpoint_id}/deliveries"
    deliveries = (await tenant.get(base, params={"limit": 200})).json()["data"]
    replies = {}
    for delivery in deliveries:
        event = (await tenant.get(f"/v1/events/{delivery['event_id']}")).json()
        echoed = json.dumps({"received": event["data"]}, ensure_ascii=False)
        if person.marker in echoed.lower():
            replies[UUID(delivery["id"])] = echoed[:4096]
    assert replies, "the endpoint was delivered events about the person"
    now = datetime.now(UTC)
    async with UnitOfWork(database) as uow:
        for delivery_id, echoed in replies.items():
            await uow.execute(tables.webhook_attempts.insert().values(
                workspace_id=UUID(tenant.id), id=new_id(), delivery_id=delivery_id, attempted_at=now,
                status_code=200, duration_ms=9, response_excerpt=echoed,
            ))  # fmt: skip
        await uow.commit()


async def plant_everything(database: Database, tenant: Tenant, person: Person) -> Planted:
    planted = Planted()
    endpoint_id = await subscribe_webhooks(tenant)
    await define_custom_fields(tenant)
    await plant_lead(tenant, person, planted)
    await plant_form_capture(tenant, person, planted)
    await plant_lead_history(tenant, person, planted)
    await plant_message(tenant, person, planted)
    await plant_import(database, tenant, person)
    await plant_contact(tenant, person, planted)
    await plant_orders(tenant, person, planted)
    await plant_shop_failure(tenant, person)
    await drain_dispatch(database)
    await run_jobs(database)
    await plant_webhook_replies(database, tenant, endpoint_id, person)
    events = (await tenant.get("/v1/events", params={"resource_id": planted.lead_id, "limit": 200})).json()["data"]
    for e in events:
        planted.add("events", e["id"])
    return planted


# Where the planting put the person (the scan's self-check: every place is really reached).
PLANTED_TABLES = {
    "leads", "form_submissions", "consents", "consent_changes", "engagements", "activities", "tasks",
    "messages", "events", "webhook_attempts", "idempotency_keys", "import_errors", "contacts", "orders",
    "integration_failures", "audit_log",
}  # fmt: skip


# -- the API's answers -----------------------------------------------------------------------------


async def read(tenant: Tenant, url: str) -> tuple[str, list[dict[str, Any]]]:
    """An answer's text, every page of it (a list is followed to its end), and a list's items."""
    texts, items, cursor = [], [], None
    while True:
        answer = await tenant.get(url, params={"cursor": cursor} if cursor else None)
        assert answer.status_code == 200, (url, answer.text)
        texts.append(answer.text)
        body = answer.json()
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if isinstance(body, dict):
            items.extend(body.get("data") or [])
        if not cursor:
            return "\n".join(texts), items


async def answers(tenant: Tenant, planted: Planted, *extra: str) -> dict[str, str]:
    """The text of every answer that could show the person: their records, lists and what hangs
    off them (a shop's failures, an import's rows, a form's submissions, a delivery's attempts)."""
    lead, contact = planted.lead_id, planted.contact_id
    urls = [
        f"/v1/leads/{lead}", f"/v1/leads/{lead}/timeline", f"/v1/leads/{lead}/engagements",
        f"/v1/leads/{lead}/consents", f"/v1/leads/{lead}/consents/history",
        f"/v1/contacts/{contact}", f"/v1/contacts/{contact}/360", f"/v1/contacts/{contact}/timeline",
        f"/v1/contacts/{contact}/consents", f"/v1/contacts/{contact}/consents/history",
        "/v1/leads?limit=200", "/v1/leads?limit=200&archived=true", "/v1/contacts?limit=200",
        "/v1/events?limit=200", "/v1/messages?limit=200", "/v1/activities?limit=200", "/v1/tasks?limit=200",
        "/v1/orders?limit=200", "/v1/audit-log?limit=200", "/v1/suppressions?limit=200",
        *(f"/v1/orders/{o}" for o in sorted(planted.ids.get("orders", ()))),
        *(f"/v1/messages/{m}" for m in sorted(planted.ids.get("messages", ()))),
        *extra,
    ]  # fmt: skip
    texts = {url: (await read(tenant, url))[0] for url in urls}
    nested = {
        "/v1/integrations?limit=200": "/v1/integrations/{}/failures?limit=200",
        "/v1/imports?limit=200": "/v1/imports/{}/errors?limit=200",
        "/v1/forms?limit=200": "/v1/forms/{}/submissions?limit=200",
    }
    for parent, child in nested.items():
        texts[parent], items = await read(tenant, parent)
        for item in items:
            texts[child.format(item["id"])] = (await read(tenant, child.format(item["id"])))[0]
    for endpoint in (await read(tenant, "/v1/webhook-endpoints?limit=200"))[1]:
        base = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
        for delivery in (await read(tenant, f"{base}?limit=200"))[1]:
            texts[f"{base}/{delivery['id']}"] = (await read(tenant, f"{base}/{delivery['id']}"))[0]
    return texts


def showing(texts: dict[str, str], *needles: str) -> list[str]:
    return [url for url, text in texts.items() if any(n.lower() in text.lower() for n in needles)]


async def money(tenant: Tenant, planted: Planted) -> dict[str, Any]:
    """What erasure must leave alone: each order's amounts and dates, the customer's revenue."""
    orders = {}
    for order_id in sorted(planted.ids["orders"]):
        got = (await tenant.get(f"/v1/orders/{order_id}")).json()
        orders[order_id] = {k: got[k] for k in ("id", "status", "currency", "total", "placed_at", "contact_id")}
    contact = (await tenant.get(f"/v1/contacts/{planted.contact_id}")).json()
    facts = {k: contact.get(k) for k in ("orders_count", "revenue", "first_order_at", "last_order_at")}
    return {"orders": orders, "customer": facts}


# -- privacy requests ------------------------------------------------------------------------------


async def finished(database: Database, tenant: Tenant, url: str) -> dict[str, Any]:
    await run_jobs(database)
    await drain_dispatch(database)
    answer = await tenant.get(url)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_an_erasure_leaves_the_person_nowhere_and_their_orders_whole(database: Database, tenant: Tenant) -> None:
    person = a_person()
    planted = await plant_everything(database, tenant, person)

    # The planting reached every place: the scan finds the person in each.
    before = await scan(database, tenant.id, person.marker, person.digits)
    missing = PLANTED_TABLES - tables_of(before)
    assert not missing, f"not planted in {sorted(missing)}; found in {sorted(tables_of(before))}"
    kept = await money(tenant, planted)
    assert (kept["customer"]["orders_count"], kept["customer"]["revenue"]) == (2, "75.50"), kept
    # ...and the API shows them (the answers read after the erasure are the ones that can).
    shown = showing(await answers(tenant, planted), person.marker)
    lead, contact = f"/v1/leads/{planted.lead_id}", f"/v1/contacts/{planted.contact_id}"
    assert {lead, contact, f"{contact}/360", "/v1/events?limit=200", "/v1/messages?limit=200"} <= set(shown), shown

    # The export before erasure names every planted record.
    export = await tenant.post("/v1/privacy/exports", json={"email": person.email})
    assert export.status_code == 202, export.text
    request = export.json()
    assert request["kind"] == "export" and request["status"] in ("pending", "running", "ready"), request
    matched = {str(m["id"]): m for m in request["matched"]}
    assert planted.lead_id in matched and "email" in matched[planted.lead_id]["keys"], request["matched"]
    assert planted.contact_id in matched, request["matched"]
    done = await finished(database, tenant, f"/v1/privacy/exports/{request['id']}")
    assert done["status"] == "ready", done
    download = await tenant.get(f"/v1/privacy/exports/{request['id']}/download")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("application/json")
    document = download.json()
    assert document["request_id"] == request["id"] and document["generated_at"]
    exported = {name: {str(r.get("id")) for r in rows} for name, rows in document["resources"].items()}
    for resource, ids in planted.ids.items():
        assert ids <= exported.get(resource, set()), f"{resource}: {ids - exported.get(resource, set())} not exported"
    assert person.marker in download.text.lower()
    with_export = await scan(database, tenant.id, person.marker, person.digits)

    # A dry run counts and changes nothing.
    erasure = {"email": person.email, "reason": "the customer asked"}
    dry = await tenant.post("/v1/privacy/erasures", params={"dry_run": "true"}, json=erasure)
    assert dry.status_code == 200, dry.text
    counts = dry.json()["counts"]
    for table in ("leads", "contacts", "form_submissions", "messages", "events"):
        assert counts.get(table, 0) > 0, counts
    assert await scan(database, tenant.id, person.marker, person.digits) == with_export

    # The erasure itself.
    erased = await tenant.post("/v1/privacy/erasures", json=erasure)
    assert erased.status_code == 202, erased.text
    assert erased.json()["kind"] == "erasure", erased.text
    for answer in (dry, erased):  # what it was given is not said back
        assert person.marker not in answer.text.lower() and person.digits not in answer.text, answer.text
    url = f"/v1/privacy/erasures/{erased.json()['id']}"
    completed = await finished(database, tenant, url)
    assert completed["status"] == "completed", completed
    assert completed["counts"] and all(isinstance(n, int) for n in completed["counts"].values()), completed

    # Nowhere in the database...
    after = await scan(database, tenant.id, person.marker, person.digits)
    assert not after, "\n".join(sorted(f"{h.table}.{h.column} {h.row}" for h in after))

    # ...nowhere in what the API answers...
    texts = await answers(tenant, planted, url, f"/v1/privacy/exports/{request['id']}")
    assert not showing(texts, person.marker, person.digits), showing(texts, person.marker, person.digits)
    for path, params in (
        ("/v1/leads", {"q": person.email}), ("/v1/leads", {"q": person.first_name, "archived": "true"}),
        ("/v1/leads", {"q": person.phone}), ("/v1/contacts", {"email": person.email}),
    ):  # fmt: skip
        found = await tenant.get(path, params=params)
        assert found.status_code == 200 and found.json()["data"] == [], (path, params, found.text)

    # ...while the lead and contact stay as tombstones, and the money is what it was.
    lead = (await tenant.get(f"/v1/leads/{planted.lead_id}")).json()
    contact = (await tenant.get(f"/v1/contacts/{planted.contact_id}")).json()
    assert lead["id"] == planted.lead_id and lead["erased_at"], lead
    assert contact["id"] == planted.contact_id and contact["erased_at"], contact
    for record in (lead, contact):
        assert (record["first_name"], record["last_name"], record["email"], record["phone"]) == (None,) * 4, record
    assert await money(tenant, planted) == kept

    # The address stays suppressed, known only by its keyed digest.
    suppressed = (await tenant.get("/v1/suppressions", params={"address": person.email})).json()["data"]
    assert [(s["channel"], s["reason"], s["address"]) for s in suppressed] == [("email", "erased", None)], suppressed

    # One event says it happened: the request and its counts, nobody's data.
    [event] = (await tenant.get("/v1/events", params={"type": "erasure.completed"})).json()["data"]
    assert set(event["data"]) <= {"id", "counts", "completed_at"}, event
    assert erased.json()["id"] in json.dumps(event["data"])


async def test_privacy_requests_are_an_admins_and_stay_in_their_workspace(
    database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    person = a_person()
    created = await tenant.post("/v1/leads", json={"first_name": person.first_name, "email": person.email})
    assert created.status_code == 201, created.text

    reader = await tenant.key_with("leads:read", "leads:write", "contacts:read", "contacts:write")
    for path in ("/v1/privacy/exports", "/v1/privacy/erasures"):
        assert_problem(await tenant.post(path, key=reader, json={"email": person.email, "reason": "asked"}), 403)

    export = await tenant.post("/v1/privacy/exports", json={"email": person.email})
    assert export.status_code == 202, export.text
    erasure = await tenant.post("/v1/privacy/erasures", json={"lead_id": created.json()["id"], "reason": "asked"})
    assert erasure.status_code == 202, erasure.text
    for url in (
        f"/v1/privacy/exports/{export.json()['id']}",
        f"/v1/privacy/exports/{export.json()['id']}/download",
        f"/v1/privacy/erasures/{erasure.json()['id']}",
    ):
        assert_problem(await other_tenant.get(url), 404)
    # the other workspace's erasure of the same address finds nobody there and erases nothing here
    theirs = await other_tenant.post("/v1/privacy/erasures", params={"dry_run": "true"},
                                     json={"email": person.email, "reason": "asked"})  # fmt: skip
    assert theirs.status_code == 200, theirs.text
    # nobody of theirs: only the address would be suppressed there (their own list)
    assert theirs.json()["matched"] == [] and set(theirs.json()["counts"]) <= {"suppressions"}, theirs.text
    await run_jobs(database)
    assert (await tenant.get(f"/v1/privacy/erasures/{erasure.json()['id']}")).json()["status"] == "completed"
