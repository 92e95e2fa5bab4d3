# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""SMS end to end through Twilio's documented API, served by a local receiver (answers and callbacks
from tests/data/twilio/, see NOTES.md there): the API queues, a real worker sends, Twilio's signed
delivery report and the person's reply come back to the callback URL. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from app.db.session import Database
from tests.conftest import Tenant
from tests.integration.receiver import Receiver

# the app on loopback with PUBLIC_BASE_URL, its client and tenant, and a worker: as for email
from tests.integration.test_email_messages import app, client, running_worker, settled, tenant  # noqa: F401
from tests.integration.test_providers import answer, twilio_signature

DATA = Path(__file__).parent.parent / "data" / "twilio"
ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token"
PHONE = "+15558675310"


@asynccontextmanager
async def twilio(sid: str) -> AsyncIterator[Receiver]:
    """A Twilio stand-in that accepts every message and names it `sid`."""
    created = json.loads((DATA / "message_created.json").read_text())
    created["sid"] = sid
    async with Receiver(reply=answer(201, json.dumps(created).encode())) as receiver:
        yield receiver


def _form(name: str, **changes: str) -> bytes:
    fields = {k: v[0] for k, v in parse_qs((DATA / name).read_text().strip(), keep_blank_values=True).items()}
    return urlencode({**fields, **changes}).encode()


async def _callback(client: httpx.AsyncClient, callback_url: str, body: bytes, token: str = TOKEN) -> httpx.Response:
    return await client.post(
        urlsplit(callback_url).path,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": twilio_signature(token, callback_url, body)},
    )  # fmt: skip


async def test_an_sms_is_sent_reported_delivered_and_a_persian_stop_reply_opts_out(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sid = "SM" + tenant.id.replace("-", "")
    async with twilio(sid) as provider:
        channel = {"type": "sms", "provider": "twilio", "name": "Twilio",
                   "settings": {"account_sid": ACCOUNT, "auth_token": TOKEN, "from": "+15017122661",
                                "api_base_url": f"http://127.0.0.1:{provider.port}"}}  # fmt: skip
        created = await tenant.post("/v1/channels", json=channel)
        assert created.status_code == 201, created.text
        callback_url = created.json()["callback_url"]
        policy = {"quiet_hours": None, "frequency_cap": None}
        assert (await tenant.patch("/v1/settings/messaging", json=policy)).status_code == 200
        lead = (await tenant.post("/v1/leads", json={"first_name": "سارا", "phone": PHONE})).json()
        consent = await tenant.request("PUT", f"/v1/leads/{lead['id']}/consents/sms",
                                       json={"status": "opted_in", "source": "api"})  # fmt: skip
        assert consent.status_code == 200, consent.text
        async with running_worker(database):
            queued = await tenant.post("/v1/messages", json={"lead_id": lead["id"], "channel": "sms",
                                                             "body_text": "سلام {{ person.first_name }}، تخفیف ویژه",
                                                             "purpose": "marketing"})  # fmt: skip
            assert queued.status_code == 202, queued.text
            message = queued.json()
            assert message["sms_parts"] == 1
            sent = await settled(tenant, message["id"], "sent")
    [request] = provider.received
    form = parse_qs(request.body.decode())
    assert form["To"] == [PHONE] and form["Body"] == ["سلام سارا، تخفیف ویژه"]
    assert sent["provider_message_id"] == sid

    # the delivery report, signed as Twilio signs it; a forged one is refused and changes nothing
    report = _form("status_delivered.form", MessageSid=sid, SmsSid=sid, AccountSid=ACCOUNT)
    assert (await _callback(client, callback_url, report, token="not-the-token")).status_code == 401
    assert (await _callback(client, callback_url, report)).status_code in (200, 204)
    delivered = await settled(tenant, message["id"], "delivered")
    assert delivered["delivered_at"] and [h["status"] for h in delivered["history"]][-2:] == ["sent", "delivered"]
    assert (await _callback(client, callback_url, _form("status_delivered.form", MessageSid=sid,
                                                        MessageStatus="sent"))).status_code in (200, 204)  # fmt: skip
    assert (await tenant.get(f"/v1/messages/{message['id']}")).json()["status"] == "delivered"  # never backwards

    # the person answers the Persian stop word: opted out of SMS, the reply on their timeline
    reply = _form("inbound.form", From=PHONE, Body="لغو", AccountSid=ACCOUNT)
    assert (await _callback(client, callback_url, reply)).status_code in (200, 204)
    consents = {c["channel"]: c for c in (await tenant.get(f"/v1/leads/{lead['id']}/consents")).json()["data"]}
    assert (consents["sms"]["status"], consents["sms"]["source"]) == ("opted_out", "reply_keyword")
    activities = (await tenant.get("/v1/activities", params={"lead_id": lead["id"]})).json()["data"]
    assert [(a["type"], a["direction"], a["notes"]) for a in activities] == [("sms", "inbound", "لغو")]
    replied = (await tenant.get(f"/v1/messages/{message['id']}")).json()
    assert replied["replied_at"] and replied["unsubscribed_at"]  # the STOP answered this message
    types = {e["type"] for e in (await tenant.get("/v1/events")).json()["data"]}
    assert {"message.sent", "message.delivered", "message.replied", "consent.updated"} <= types
    blocked = await tenant.post("/v1/messages", json={"lead_id": lead["id"], "channel": "sms", "body_text": "Sale",
                                                      "purpose": "marketing"})  # fmt: skip
    assert (blocked.json()["status"], blocked.json()["block_reason"]) == ("blocked", "opted_out")


async def test_a_reply_from_an_unknown_number_is_accepted_and_attached_to_no_one(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    channel = {"type": "sms", "provider": "twilio", "name": "Twilio",
               "settings": {"account_sid": ACCOUNT, "auth_token": TOKEN, "from": "+15017122661"}}  # fmt: skip
    callback_url = (await tenant.post("/v1/channels", json=channel)).json()["callback_url"]
    reply = _form("inbound.form", From="+15550000000", Body="hello?", AccountSid=ACCOUNT)
    assert (await _callback(client, callback_url, reply)).status_code in (200, 204)
    assert (await tenant.get("/v1/activities")).json()["data"] == []


WHATSAPP = Path(__file__).parent.parent / "data" / "whatsapp_cloud"
APP_SECRET = "meta-app-secret"


async def test_a_whatsapp_template_message_is_sent_with_its_parameters_and_reported_delivered(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    import hashlib
    import hmac

    created = json.loads((WHATSAPP / "message_created.json").read_text())
    wamid = f"wamid.{tenant.id}"
    created["messages"][0]["id"] = wamid
    async with Receiver(reply=answer(200, json.dumps(created).encode())) as meta:
        channel = {"type": "whatsapp", "provider": "whatsapp_cloud", "name": "WhatsApp",
                   "settings": {"phone_number_id": "106540352242922", "access_token": "EAAG-token",
                                "app_secret": APP_SECRET, "verify_token": "verify-me",
                                "api_base_url": f"http://127.0.0.1:{meta.port}"}}  # fmt: skip
        answered = await tenant.post("/v1/channels", json=channel)
        assert answered.status_code == 201, answered.text
        callback_url = answered.json()["callback_url"]
        template = {"name": "Order ready", "channel": "whatsapp", "body_text": "Ready: {{ person.first_name }}",
                    "whatsapp_template": {"name": "order_ready", "language": "fa",
                                          "parameters": ["person.first_name"]}}  # fmt: skip
        saved = await tenant.post("/v1/templates", json=template)
        assert saved.status_code == 201, saved.text
        template_id = saved.json()["id"]
        lead = (await tenant.post("/v1/leads", json={"first_name": "سارا", "phone": PHONE})).json()
        async with running_worker(database):
            queued = await tenant.post(
                "/v1/messages",
                json={
                    "lead_id": lead["id"],
                    "channel": "whatsapp",
                    "template_id": template_id,
                    "purpose": "transactional",
                },
            )
            assert queued.status_code == 202, queued.text
            sent = await settled(tenant, queued.json()["id"], "sent")
    [request] = meta.received
    body = request.json
    assert body["to"].lstrip("+") == PHONE.lstrip("+") and body["type"] == "template"
    assert body["template"]["name"] == "order_ready" and body["template"]["language"]["code"] == "fa"
    assert json.dumps(body["template"]["components"], ensure_ascii=False).count("سارا") == 1
    assert sent["provider_message_id"] == wamid

    report = json.loads((WHATSAPP / "status_delivered.json").read_text())
    report["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = wamid
    raw = json.dumps(report).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    path = urlsplit(callback_url).path
    forged = await client.post(path, content=raw, headers={"Content-Type": "application/json",
                                                          "X-Hub-Signature-256": "sha256=" + "0" * 64})  # fmt: skip
    assert forged.status_code == 401
    ok = await client.post(path, content=raw, headers={"Content-Type": "application/json",
                                                      "X-Hub-Signature-256": signature})  # fmt: skip
    assert ok.status_code in (200, 204)
    await settled(tenant, queued.json()["id"], "delivered")


async def test_a_delivery_report_that_outruns_the_hand_off_is_kept_until_it_is_recorded(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    """Twilio may call the status callback before its answer to the send reaches the worker: the
    report names our message (in the callback URL Twilio was given), is kept while the message is
    `sending`, and applied when the worker records the hand-off. When the answer is lost instead,
    the report settles what would stay `unknown`."""
    sid = "SM" + tenant.id.replace("-", "")
    created = json.loads((DATA / "message_created.json").read_text())
    created["sid"] = sid
    provider: Receiver

    async def report_first(writer: Any) -> None:
        form = {k: v[0] for k, v in parse_qs(provider.received[-1].body.decode()).items()}
        status_url = form["StatusCallback"]
        assert "?message=" in status_url
        named = sid if form["Body"] != "lost" else sid[:-4] + "0000"
        body = _form("status_delivered.form", MessageSid=named, SmsSid=named, AccountSid=ACCOUNT)
        parts = urlsplit(status_url)
        reported = await client.post(
            f"{parts.path}?{parts.query}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "X-Twilio-Signature": twilio_signature(TOKEN, status_url, body)},
        )  # fmt: skip
        assert reported.status_code in (200, 204), reported.text
        if form["Body"] == "lost":  # the answer never comes back: the connection drops
            return
        payload = json.dumps(created).encode()
        writer.write(f"HTTP/1.1 201 Created\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
        await writer.drain()

    async with Receiver(reply=report_first) as provider:
        channel = {"type": "sms", "provider": "twilio", "name": "Twilio",
                   "settings": {"account_sid": ACCOUNT, "auth_token": TOKEN, "from": "+15017122661",
                                "api_base_url": f"http://127.0.0.1:{provider.port}"}}  # fmt: skip
        assert (await tenant.post("/v1/channels", json=channel)).status_code == 201
        lead = (await tenant.post("/v1/leads", json={"first_name": "Sara", "phone": PHONE})).json()
        async with running_worker(database):
            ids = []
            for text in ("Your order shipped", "lost"):
                queued = await tenant.post(
                    "/v1/messages",
                    json={"lead_id": lead["id"], "channel": "sms", "body_text": text, "purpose": "transactional"},
                )
                assert queued.status_code == 202, queued.text
                ids.append(queued.json()["id"])
                await settled(tenant, ids[-1], "delivered")
    answered, lost = [(await tenant.get(f"/v1/messages/{i}")).json() for i in ids]
    assert answered["provider_message_id"] == sid and answered["sent_at"] and answered["delivered_at"]
    assert [h["status"] for h in answered["history"]] == ["queued", "sent", "delivered"]
    # the lost answer: unknown, then the report proved it went (its provider id learnt from it)
    assert [h["status"] for h in lost["history"]] == ["queued", "unknown", "delivered"]
    assert lost["provider_message_id"] == sid[:-4] + "0000" and len(provider.received) == 2  # never sent twice
    events = [e["type"] for e in (await tenant.get("/v1/events", params={"resource_id": ids[0]})).json()["data"]]
    assert "message.sent" in events and "message.delivered" in events
