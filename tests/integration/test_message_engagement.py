# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""What comes back from messages, end to end with a real worker: WhatsApp Cloud replies and reports
(Meta's webhook shape, signed), a contact's opens and clicks, a workspace that turned tracking off,
and a member's message as the lead's first response. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.db.session import Database
from tests.conftest import Tenant
from tests.integration.receiver import Receiver

# the app on loopback with PUBLIC_BASE_URL, its client and tenant, and a worker: as for email
from tests.integration.test_email_messages import (  # noqa: F401
    _async,
    app,
    client,
    person,
    running_worker,
    settled,
    setup,
    status_of,
    template,
    tenant,
    until,
)
from tests.integration.test_providers import answer
from tests.smtp_server import SmtpServer

WHATSAPP = Path(__file__).parent.parent / "data" / "whatsapp_cloud"
APP_SECRET = "meta-app-secret-9"
PHONE = "+15558675310"
JSON = {"Content-Type": "application/json"}


async def events_of(tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    answer = await tenant.get("/v1/events", params={"type": kind, "limit": 100})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


async def timeline(tenant: Tenant, kind: str, person_id: str) -> list[dict[str, Any]]:
    answer = await tenant.get(f"/v1/{kind}s/{person_id}/timeline", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


# -- WhatsApp Cloud: a delivery report, a reply, a STOP ---------------------------------------------


def _webhook(value: dict[str, Any]) -> bytes:
    """Meta's webhook envelope (tests/data/whatsapp_cloud/) around one change's `value`."""
    document = json.loads((WHATSAPP / "inbound_text.json").read_text())
    document["entry"][0]["changes"][0]["value"] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        **value,
    }
    return json.dumps(document).encode()


def _status(wamid: str, status: str) -> bytes:
    [item] = json.loads((WHATSAPP / "status_delivered.json").read_text())["entry"][0]["changes"][0]["value"]["statuses"]
    return _webhook({"statuses": [{**item, "id": wamid, "status": status, "timestamp": str(int(time.time())),
                                   "recipient_id": PHONE.lstrip("+")}]})  # fmt: skip


def _reply(text: str, n: int) -> bytes:
    [message] = json.loads((WHATSAPP / "inbound_text.json").read_text())["entry"][0]["changes"][0]["value"]["messages"]
    message = {**message, "from": PHONE.lstrip("+"), "id": f"wamid.reply{n}-{time.time_ns()}",
               "timestamp": str(int(time.time())), "text": {"body": text}}  # fmt: skip
    return _webhook({"contacts": [{"profile": {"name": "Sara"}, "wa_id": PHONE.lstrip("+")}], "messages": [message]})


async def _signed(client: httpx.AsyncClient, callback_url: str, body: bytes) -> None:
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    answered = await client.post(urlsplit(callback_url).path, content=body,
                                 headers={**JSON, "X-Hub-Signature-256": signature})  # fmt: skip
    assert answered.status_code == 200, answered.text


async def test_a_whatsapp_reply_lands_on_the_leads_timeline_and_stop_opts_them_out(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    created = json.loads((WHATSAPP / "message_created.json").read_text())
    wamid = f"wamid.{tenant.id}"
    created["messages"][0]["id"] = wamid
    async with Receiver(reply=answer(200, json.dumps(created).encode())) as meta:
        channel = {"type": "whatsapp", "provider": "whatsapp_cloud", "name": "WhatsApp",
                   "settings": {"phone_number_id": "106540352242922", "access_token": "EAAG-token",
                                "app_secret": APP_SECRET, "verify_token": "verify-me",
                                "api_base_url": f"http://127.0.0.1:{meta.port}"}}  # fmt: skip
        made = await tenant.post("/v1/channels", json=channel)
        assert made.status_code == 201, made.text
        callback_url = made.json()["callback_url"]
        policy = {"quiet_hours": None, "frequency_cap": None}
        assert (await tenant.patch("/v1/settings/messaging", json=policy)).status_code == 200
        offer = {"name": "Offer", "channel": "whatsapp", "body_text": "Sale: {{ person.first_name }}",
                 "whatsapp_template": {"name": "weekly_offer", "language": "en",
                                       "parameters": ["person.first_name"]}}  # fmt: skip
        saved = await tenant.post("/v1/templates", json=offer)
        assert saved.status_code == 201, saved.text
        lead = (await tenant.post("/v1/leads", json={"first_name": "Sara", "phone": PHONE})).json()
        opted_in = await tenant.request("PUT", f"/v1/leads/{lead['id']}/consents/whatsapp",
                                        json={"status": "opted_in", "source": "api"})  # fmt: skip
        assert opted_in.status_code == 200, opted_in.text
        marketing = {"lead_id": lead["id"], "channel": "whatsapp", "template_id": saved.json()["id"],
                     "purpose": "marketing"}  # fmt: skip
        async with running_worker(database):
            queued = await tenant.post("/v1/messages", json=marketing)
            assert queued.status_code == 202, queued.text
            message_id = queued.json()["id"]
            sent = await settled(tenant, message_id, "sent")
    assert sent["provider_message_id"] == wamid and len(meta.received) == 1

    # Meta's delivery report moves it forward; a late `sent` never moves it back
    await _signed(client, callback_url, _status(wamid, "delivered"))
    delivered = await status_of(tenant, message_id)
    assert delivered["status"] == "delivered" and delivered["delivered_at"]
    assert [h["status"] for h in delivered["history"]] == ["queued", "sent", "delivered"]
    await _signed(client, callback_url, _status(wamid, "sent"))
    assert (await status_of(tenant, message_id))["status"] == "delivered"
    assert [e["data"]["id"] for e in await events_of(tenant, "message.delivered")] == [message_id]

    # a reply: an inbound WhatsApp activity on the lead's timeline, and message.replied for the message
    await _signed(client, callback_url, _reply("Does it come in another color?", 1))
    entries = [e for e in await timeline(tenant, "lead", lead["id"]) if e["kind"] == "activity"]
    assert [(e["data"]["type"], e["data"]["direction"], e["data"]["notes"]) for e in entries] == [
        ("whatsapp", "inbound", "Does it come in another color?")
    ]
    replied = await events_of(tenant, "message.replied")
    assert [e["data"]["id"] for e in replied] == [message_id] and replied[0]["data"]["replied_at"]
    consents = {c["channel"]: c for c in (await tenant.get(f"/v1/leads/{lead['id']}/consents")).json()["data"]}
    assert consents["whatsapp"]["status"] == "opted_in"  # a question is no opt-out

    # the opt-out keyword: opted out of WhatsApp (and only WhatsApp), and marketing stops there
    await _signed(client, callback_url, _reply(" Stop ", 2))
    consents = {c["channel"]: c for c in (await tenant.get(f"/v1/leads/{lead['id']}/consents")).json()["data"]}
    assert (consents["whatsapp"]["status"], consents["whatsapp"]["source"]) == ("opted_out", "reply_keyword")
    assert consents["sms"]["status"] == "unknown"
    assert (await status_of(tenant, message_id))["unsubscribed_at"]
    activities = (await tenant.get("/v1/activities", params={"lead_id": lead["id"]})).json()["data"]
    assert [a["notes"] for a in activities] == ["Stop", "Does it come in another color?"]  # newest first
    blocked = await tenant.post("/v1/messages", json=marketing)
    assert (blocked.json()["status"], blocked.json()["block_reason"]) == ("blocked", "opted_out")


# -- a contact's opens and clicks -------------------------------------------------------------------


async def test_a_contacts_opens_and_clicks_are_the_contacts_engagements(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        made = await tenant.post("/v1/contacts", json={"first_name": "Mina", "email": "mina@example.com"})
        assert made.status_code == 201, made.text
        contact_id = made.json()["id"]
        opted = await tenant.request("PUT", f"/v1/contacts/{contact_id}/consents/email",
                                     json={"status": "opted_in", "source": "api"})  # fmt: skip
        assert opted.status_code == 200, opted.text
        body = {"contact_id": contact_id, "channel": "email", "template_id": await template(tenant),
                "purpose": "marketing"}  # fmt: skip
        async with running_worker(database):
            queued = await tenant.post("/v1/messages", json=body)
            assert queued.status_code == 202, queued.text
            message_id = queued.json()["id"]
            await settled(tenant, message_id, "sent")
            [received] = await until(lambda: _async(smtp.to("mina@example.com")))
    html = received.message.get_body(("html",)).get_content()
    [click] = re.findall(r'href="(https://crm\.example/t/c/[^"]+)"', html)
    [pixel] = re.findall(r'src="(https://crm\.example/t/o/[^"]+)"', html)

    # the pixel first (images on): the open
    assert (await client.get(urlsplit(pixel).path)).headers["content-type"] == "image/gif"
    engaged = [e["data"] for e in await timeline(tenant, "contact", contact_id) if e["kind"] == "engagement"]
    assert [(e["type"], e["contact_id"], e["lead_id"], e["origin"]) for e in engaged] == [
        ("email_open", contact_id, None, "message")
    ]
    assert [e["data"]["id"] for e in await events_of(tenant, "message.opened")] == [message_id]

    # then the click: its engagement names the link, and the redirect goes to it
    followed = await client.get(urlsplit(click).path)
    assert followed.status_code == 303 and followed.headers["location"] == "https://shop.example/offer?c=1&d=2"
    engaged = [e["data"] for e in await timeline(tenant, "contact", contact_id) if e["kind"] == "engagement"]
    assert sorted(e["type"] for e in engaged) == ["email_click", "email_open"]
    [clicked] = [e for e in engaged if e["type"] == "email_click"]
    assert clicked["contact_id"] == contact_id and clicked["lead_id"] is None
    assert clicked["properties"] == {"message_id": message_id, "url": "https://shop.example/offer?c=1&d=2"}
    assert [e["data"]["id"] for e in await events_of(tenant, "message.clicked")] == [message_id]
    message = await status_of(tenant, message_id)
    assert message["opened_at"] and message["clicked_at"] and message["contact_id"] == contact_id

    # a second fetch of either records no second open, and a second click no second event
    await client.get(urlsplit(pixel).path)
    await client.get(urlsplit(click).path)
    assert len(await events_of(tenant, "message.opened")) == 1
    assert len(await events_of(tenant, "message.clicked")) == 1


# -- tracking turned off ----------------------------------------------------------------------------


async def test_with_tracking_off_a_marketing_email_keeps_its_links_and_has_no_pixel(
    database: Database, tenant: Tenant
) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        off = await tenant.patch("/v1/settings/messaging", json={"tracking": False})
        assert off.status_code == 200 and off.json()["tracking"] is False, off.text
        lead_id = await person(tenant, "private@example.com")
        body = {"lead_id": lead_id, "channel": "email", "template_id": await template(tenant), "purpose": "marketing"}
        async with running_worker(database):
            queued = await tenant.post("/v1/messages", json=body)
            assert queued.status_code == 202, queued.text
            await settled(tenant, queued.json()["id"], "sent")
            [received] = await until(lambda: _async(smtp.to("private@example.com")))
    email = received.message
    html = email.get_body(("html",)).get_content()
    assert 'href="https://shop.example/offer?c=1&amp;d=2"' in html  # the link as written
    assert "/t/c/" not in html and "/t/o/" not in html and "<img" not in html
    assert "/t/" not in email.get_body(("plain",)).get_content()
    # still a marketing email: its unsubscribe link and headers stay
    [unsubscribe] = re.findall(r"<(https://crm\.example/u/[^>]+)>", email["List-Unsubscribe"])
    assert f'href="{unsubscribe}"' in html and email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


# -- a member's message is their touch -----------------------------------------------------------------


async def test_a_message_from_a_member_bound_key_is_the_leads_first_response_and_an_unbound_ones_is_not(
    database: Database, tenant: Tenant
) -> None:
    sla = await tenant.patch("/v1/settings/sla", json={"business_hours": None, "sources": None})
    assert sla.status_code == 200, sla.text
    member = await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@team.io"})
    assert member.status_code == 201, member.text
    rep = member.json()["id"]
    scopes = ("messages:write", "messages:read", "leads:read")
    bound = await tenant.key_with(*scopes, member_id=rep)
    unbound = await tenant.key_with(*scopes)
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        answered = await person(tenant, "answered@example.com")
        waiting = await person(tenant, "waiting@example.com")
        for lead_id in (answered, waiting):
            lead = (await tenant.get(f"/v1/leads/{lead_id}")).json()
            assert (lead["sla_status"], lead["first_responded_at"]) == ("pending", None)
        sent = {}
        async with running_worker(database):
            for lead_id, key in ((answered, bound), (waiting, unbound)):
                queued = await tenant.post("/v1/messages", key=key, json={
                    "lead_id": lead_id, "channel": "email", "subject": "Following up", "body_text": "Hi",
                    "purpose": "transactional"})  # fmt: skip
                assert queued.status_code == 202, queued.text
                sent[lead_id] = await settled(tenant, queued.json()["id"], "sent")
    assert (sent[answered]["automated"], sent[waiting]["automated"]) == (False, True)

    [touch] = (await tenant.get("/v1/activities", params={"lead_id": answered})).json()["data"]
    assert (touch["type"], touch["direction"], touch["member_id"]) == ("email", "outbound", rep)
    assert touch["first_response"] is True and touch["subject"] == "Following up"
    lead = (await tenant.get(f"/v1/leads/{answered}")).json()
    assert lead["first_responded_at"] == touch["occurred_at"] and lead["sla_status"] == "met"
    [responded] = await events_of(tenant, "lead.first_responded")
    assert responded["data"]["id"] == answered

    # the unbound key's message went too, but it is no one's touch: the lead still waits
    assert (await tenant.get("/v1/activities", params={"lead_id": waiting})).json()["data"] == []
    lead = (await tenant.get(f"/v1/leads/{waiting}")).json()
    assert (lead["sla_status"], lead["first_responded_at"]) == ("pending", None)
