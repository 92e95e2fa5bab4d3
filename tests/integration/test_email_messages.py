"""Email end to end against a real SMTP server (aiosmtpd) on loopback: the API queues, a real
worker sends, and what arrives is checked as a mail client reads it. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.config import Settings
from app.db.session import Database
from app.main import create_app
from app.worker.runner import Worker
from tests.conftest import Tenant, make_tenant
from tests.smtp_server import SmtpServer


@pytest.fixture(scope="module")
def app(database: Database):  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=database.settings.database_url,
        rate_limit_api_per_minute=10**6,
        rate_limit_form_per_minute=10**6,
        outbound_allow_loopback=True,
        public_base_url="https://crm.example",
    )
    return create_app(settings, database=database)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def tenant(database: Database, client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(database, client)


@asynccontextmanager
async def running_worker(database: Database) -> AsyncIterator[Worker]:
    settings = Settings(
        database_url=database.settings.database_url,
        outbound_allow_loopback=True,
        public_base_url="https://crm.example",
        worker_poll_seconds=0.05,
        worker_lease_seconds=4.0,
        message_retry_schedule=[0.2, 0.2, 0.2],
        webhook_timeout_seconds=3.0,
    )
    worker = Worker(database, settings)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(worker.ready.wait(), 10)
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 20)


async def until(predicate, timeout: float = 60.0) -> Any:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def setup(tenant: Tenant, smtp: SmtpServer, *, region: str | None = None) -> None:
    if region:
        assert (await tenant.patch("/v1/workspace", json={"default_region": region})).status_code == 200
    channel = {
        "type": "email",
        "provider": "smtp",
        "name": "Newsletter",
        "settings": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from_email": "news@shop.example",
                     "from_name": "فروشگاه نمونه", "unsubscribe_mailbox": "unsubscribe@shop.example"},
    }  # fmt: skip
    created = await tenant.post("/v1/channels", json=channel)
    assert created.status_code == 201, created.text
    policy = await tenant.patch("/v1/settings/messaging", json={"quiet_hours": None, "frequency_cap": None})
    assert policy.status_code == 200, policy.text


async def person(tenant: Tenant, email: str, *, consent: str | None = "opted_in", **fields: Any) -> str:
    created = await tenant.post("/v1/leads", json={"first_name": "سارا", "email": email, **fields})
    assert created.status_code == 201, created.text
    lead_id = str(created.json()["id"])
    if consent:
        answer = await tenant.request("PUT", f"/v1/leads/{lead_id}/consents/email",
                                      json={"status": consent, "source": "api"})  # fmt: skip
        assert answer.status_code == 200, answer.text
    return lead_id


async def template(tenant: Tenant) -> str:
    body = {
        "name": "خوش‌آمد",
        "channel": "email",
        "locale": "fa",
        "subject": "سلام {{ person.first_name }}",
        "body_text": "سلام {{ person.first_name }}، پیشنهاد ویژه: https://shop.example/offer",
        "body_html": '<p>سلام {{ person.first_name }}</p><p><a href="https://shop.example/offer?c=1&amp;d=2">پیشنهاد</a></p>',
    }
    created = await tenant.post("/v1/templates", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def send(tenant: Tenant, lead_id: str, **fields: Any) -> dict[str, Any]:
    answer = await tenant.post("/v1/messages", json={"lead_id": lead_id, "channel": "email", **fields})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def status_of(tenant: Tenant, message_id: str) -> dict[str, Any]:
    answer = await tenant.get(f"/v1/messages/{message_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def settled(tenant: Tenant, message_id: str, *statuses: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        message = await status_of(tenant, message_id)
        return message if message["status"] in statuses else None

    result: dict[str, Any] = await until(check)
    return result


def _path(url: str) -> str:
    return urlsplit(url).path


async def test_a_marketing_email_arrives_rendered_with_one_click_unsubscribe(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with SmtpServer() as smtp:
        async with running_worker(database):
            await setup(tenant, smtp)
            lead_id = await person(tenant, "sara@example.com")
            message = await send(tenant, lead_id, template_id=await template(tenant), purpose="marketing")
            assert message["status"] == "queued" and message["block_reason"] is None
            sent = await settled(tenant, message["id"], "sent")
            [received] = await until(lambda: _async(smtp.to("sara@example.com")))
        email = received.message
        assert email["Subject"] == "سلام سارا"
        assert email["Message-ID"] == sent["email_message_id"]
        assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe_url, mailto = re.findall(r"<([^>]+)>", email["List-Unsubscribe"])
        assert unsubscribe_url.startswith("https://crm.example/u/")
        assert mailto.startswith("mailto:unsubscribe@shop.example")
        text = email.get_body(("plain",)).get_content()
        html = email.get_body(("html",)).get_content()
        assert "سلام سارا، پیشنهاد ویژه" in text and unsubscribe_url in text  # visible unsubscribe link
        assert 'dir="rtl"' in html and "سلام سارا" in html and f'href="{unsubscribe_url}"' in html
        [click] = re.findall(r'href="(https://crm\.example/t/c/[^"]+)"', html)
        [pixel] = re.findall(r'src="(https://crm\.example/t/o/[^"]+)"', html)

        followed = await client.get(_path(click))
        assert followed.status_code == 303 and followed.headers["location"] == "https://shop.example/offer?c=1&d=2"
        assert (await client.get(_path(pixel))).headers["content-type"] == "image/gif"
        after = await status_of(tenant, message["id"])
        assert after["clicked_at"] and after["opened_at"]
        engagements = (await tenant.get(f"/v1/leads/{lead_id}/engagements")).json()["data"]
        # the pixel after the click: no second open
        assert sorted(e["type"] for e in engagements) == ["email_click", "email_open"]
        events = (await tenant.get("/v1/events", params={"type": "message.clicked"})).json()["data"]
        assert [e["data"]["id"] for e in events] == [message["id"]]
        assert (await client.get("/t/c/forged.token")).status_code == 404

        # a GET of the unsubscribe page changes nothing (link scanners follow GETs)
        page = await client.get(_path(unsubscribe_url))
        assert page.status_code == 200 and "<form" in page.text
        consents = (await tenant.get(f"/v1/leads/{lead_id}/consents")).json()["data"]
        assert {c["channel"]: c["status"] for c in consents}["email"] == "opted_in"
        one_click = await client.post(_path(unsubscribe_url), data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200
        consents = (await tenant.get(f"/v1/leads/{lead_id}/consents")).json()["data"]
        assert {c["channel"]: c for c in consents}["email"]["status"] == "opted_out"
        assert {c["channel"]: c for c in consents}["email"]["source"] == "unsubscribe"
        history = (await tenant.get(f"/v1/leads/{lead_id}/consents/history")).json()["data"]
        newest = next(h for h in history if h["channel"] == "email")
        assert (newest["status"], newest["source"]) == ("opted_out", "unsubscribe")
        assert sum(1 for h in history if h["source"] == "unsubscribe") == 1  # one change, one event

        blocked = await send(tenant, lead_id, subject="Sale", body_text="Buy now", purpose="marketing")
        assert (blocked["status"], blocked["block_reason"]) == ("blocked", "opted_out")
        async with running_worker(database):
            receipt = await send(tenant, lead_id, subject="Your receipt", body_text="Thanks", purpose="transactional")
            await settled(tenant, receipt["id"], "sent")
        assert "List-Unsubscribe" not in smtp.to("sara@example.com")[-1].message
        assert len(smtp.to("sara@example.com")) == 2


async def _async(value: Any) -> Any:
    return value


async def test_marketing_without_consent_is_blocked_and_transactional_goes(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp, running_worker(database):
        await setup(tenant, smtp)
        lead_id = await person(tenant, "nobody@example.com", consent=None)
        blocked = await send(tenant, lead_id, subject="Sale", body_text="Buy", purpose="marketing")
        assert (blocked["status"], blocked["block_reason"]) == ("blocked", "no_consent")
        pending = await person(tenant, "pending@example.com", consent="pending_confirmation")
        assert (await send(tenant, pending, subject="S", body_text="B", purpose="marketing"))["block_reason"] == (
            "no_consent"
        )
        receipt = await send(tenant, lead_id, subject="Receipt", body_text="Thanks", purpose="transactional")
        await settled(tenant, receipt["id"], "sent")
    assert len(smtp.to("nobody@example.com")) == 1 and not smtp.to("pending@example.com")
    detail = await status_of(tenant, blocked["id"])
    assert [h["status"] for h in detail["history"]] == ["blocked"]


async def test_a_refused_recipient_bounces_and_is_suppressed(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp, running_worker(database):
        smtp.handler.refuse.add("gone@example.com")
        await setup(tenant, smtp)
        lead_id = await person(tenant, "gone@example.com")
        message = await send(tenant, lead_id, subject="Hi", body_text="Hello", purpose="marketing")
        bounced = await settled(tenant, message["id"], "bounced")
        assert "550" in bounced["last_error"]
        suppressed = (await tenant.get("/v1/suppressions", params={"channel": "email"})).json()["data"]
        assert [(s["address"], s["reason"]) for s in suppressed] == [("gone@example.com", "bounced")]
        receipt = await send(tenant, lead_id, subject="Receipt", body_text="Thanks", purpose="transactional")
        assert (receipt["status"], receipt["block_reason"]) == ("blocked", "suppressed")
    assert not smtp.received


async def test_a_deferred_email_is_retried_then_sent_once(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp, running_worker(database):
        smtp.handler.defer["later@example.com"] = 2
        await setup(tenant, smtp)
        lead_id = await person(tenant, "later@example.com")
        message = await send(tenant, lead_id, subject="Hi", body_text="Hello", purpose="transactional")
        sent = await settled(tenant, message["id"], "sent")
    assert sent["attempts"] == 3
    assert [h["status"] for h in sent["history"]] == ["queued", "queued", "queued", "sent"]
    assert len(smtp.to("later@example.com")) == 1


async def test_an_answer_lost_after_data_leaves_the_message_unknown_not_resent(
    database: Database, tenant: Tenant
) -> None:
    async with SmtpServer() as smtp, running_worker(database):
        smtp.handler.hang_up_after_data.add("lost@example.com")
        await setup(tenant, smtp)
        lead_id = await person(tenant, "lost@example.com")
        message = await send(tenant, lead_id, subject="Hi", body_text="Hello", purpose="transactional")
        unknown = await settled(tenant, message["id"], "unknown")
        await asyncio.sleep(0.5)  # retries would have come by now
    assert unknown["sent_at"] is None
    assert len(smtp.to("lost@example.com")) == 1


async def test_quiet_hours_delay_a_marketing_email_to_the_minute_in_the_recipients_zone(
    database: Database, tenant: Tenant
) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        policy = {"quiet_hours": {"start": "21:00", "end": "09:00"}}
        assert (await tenant.patch("/v1/settings/messaging", json=policy)).status_code == 200
        lead_id = await person(tenant, "night@example.com", timezone="Asia/Tehran")
        tehran = ZoneInfo("Asia/Tehran")
        tomorrow = (datetime.now(tehran) + timedelta(days=1)).date()
        late = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 23, 17, tzinfo=tehran)
        message = await send(tenant, lead_id, subject="Hi", body_text="Hello", purpose="marketing",
                             send_at=late.astimezone(UTC).isoformat())  # fmt: skip
        due = datetime.fromisoformat(message["send_at"]).astimezone(tehran)
        assert (due.date(), due.hour, due.minute) == (tomorrow + timedelta(days=1), 9, 0)
        receipt = await send(tenant, lead_id, subject="Receipt", body_text="Thanks", purpose="transactional",
                             send_at=late.astimezone(UTC).isoformat())  # fmt: skip
        assert datetime.fromisoformat(receipt["send_at"]) == late  # transactional ignores quiet hours


async def test_a_retried_marketing_email_waits_out_quiet_hours_that_began_meanwhile(
    database: Database, tenant: Tenant
) -> None:
    async with SmtpServer() as smtp:
        smtp.handler.defer["evening@example.com"] = 1
        await setup(tenant, smtp)
        now = datetime.now(UTC)
        start = (now + timedelta(seconds=20)).replace(microsecond=0)
        end = start + timedelta(hours=2)
        # quiet hours that begin 20 s from now (the requests below finish before them on a loaded
        # machine): the first attempt is before them, the retry (a minute later) inside them
        policy = {"quiet_hours": {"start": start.time().isoformat(), "end": end.time().isoformat()}}
        assert (await tenant.patch("/v1/settings/messaging", json=policy)).status_code == 200
        lead_id = await person(tenant, "evening@example.com", timezone="UTC")
        message = await send(tenant, lead_id, subject="Hi", body_text="Hello", purpose="marketing")
        settings = Settings(database_url=database.settings.database_url, outbound_allow_loopback=True,
                            public_base_url="https://crm.example", worker_poll_seconds=0.05,
                            message_retry_schedule=[60.0])  # fmt: skip
        worker = Worker(database, settings)
        task = asyncio.create_task(worker.run())
        try:
            retried = await until(lambda: _retried(tenant, message["id"]))
        finally:
            worker.stop()
            await asyncio.wait_for(task, 20)
    assert datetime.fromisoformat(retried["send_at"]) == end  # moved to the quiet hours' end, not dropped
    assert smtp.to("evening@example.com") == []


async def _retried(tenant: Tenant, message_id: str) -> dict[str, Any] | None:
    message = await status_of(tenant, message_id)
    return message if message["attempts"] == 1 and message["status"] == "queued" else None


async def test_the_frequency_cap_holds_under_concurrent_sends(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        cap = {"frequency_cap": {"marketing_per_7_days": 3}, "frequency_cap_action": "skip"}
        assert (await tenant.patch("/v1/settings/messaging", json=cap)).status_code == 200
        lead_id = await person(tenant, "busy@example.com")
        answers = await asyncio.gather(*(
            tenant.post("/v1/messages", json={"lead_id": lead_id, "channel": "email", "subject": f"Offer {n}",
                                              "body_text": "Buy", "purpose": "marketing"})
            for n in range(8)
        ))  # fmt: skip
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    outcomes = sorted((a.json()["status"], a.json()["block_reason"]) for a in answers)
    assert outcomes == [("blocked", "frequency_cap")] * 5 + [("queued", None)] * 3


async def test_messages_are_scoped_to_their_workspace_and_their_scopes(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        lead_id = await person(tenant, "scoped@example.com")
        message = await send(tenant, lead_id, subject="Hi", body_text="Hello", purpose="transactional")
    other = await make_tenant(database, client, name="Other")
    assert (await other.get(f"/v1/messages/{message['id']}")).status_code == 404
    assert (
        await other.post(
            "/v1/messages",
            json={"lead_id": lead_id, "channel": "email", "subject": "x", "body_text": "y", "purpose": "transactional"},
        )
    ).status_code == 404
    assert (await other.get("/v1/messages")).json()["data"] == []
    only_messages = await tenant.key_with("messages:write")
    denied = await tenant.post("/v1/messages", key=only_messages, json={"lead_id": lead_id, "channel": "email",
                                                                       "subject": "x", "body_text": "y",
                                                                       "purpose": "transactional"})  # fmt: skip
    assert denied.status_code == 403
    reader = await tenant.key_with("messages:read", "contacts:read")
    assert (await tenant.get(f"/v1/messages/{message['id']}", key=reader)).status_code == 404  # a lead's message
    assert (await tenant.get("/v1/messages", key=reader)).json()["data"] == []
    no_scope = await tenant.key_with("leads:read")
    assert (await tenant.get("/v1/messages", key=no_scope)).status_code == 403


async def test_bad_sends_name_the_field(tenant: Tenant) -> None:
    lead_id = await person(tenant, "fields@example.com", consent=None)
    for body, field in (
        ({"channel": "email", "subject": "x", "body_text": "y", "purpose": "marketing"}, None),
        ({"lead_id": lead_id, "channel": "fax", "body_text": "y", "purpose": "marketing"}, "channel"),
        ({"lead_id": lead_id, "channel": "email", "body_text": "y", "purpose": "spam"}, "purpose"),
        ({"lead_id": lead_id, "channel": "email", "body_text": "y", "purpose": "marketing"}, "subject"),
        ({"lead_id": lead_id, "channel": "email", "subject": "{{ person.nickname }}", "body_text": "y",
          "purpose": "marketing"}, "subject"),
    ):  # fmt: skip
        answer = await tenant.post("/v1/messages", json=body)
        assert answer.status_code == 422, answer.text
        if field:
            assert field in {e["field"] for e in answer.json()["errors"]}, answer.text
    no_channel = await send(tenant, lead_id, subject="x", body_text="y", purpose="transactional")
    assert (no_channel["status"], no_channel["block_reason"]) == ("blocked", "channel_missing")


async def test_a_batch_checks_each_item_alone_and_counts_its_own_messages_against_the_cap(
    database: Database, tenant: Tenant
) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        cap = {"frequency_cap": {"marketing_per_7_days": 2}, "frequency_cap_action": "skip"}
        assert (await tenant.patch("/v1/settings/messaging", json=cap)).status_code == 200
        offer = await template(tenant)
        sara = await person(tenant, "sara@example.com")
        reza = await person(tenant, "reza@example.com", first_name="رضا")
        silent = await person(tenant, "silent@example.com", consent=None)
        gone = await person(tenant, "gone@example.com")
        suppressed = await tenant.post("/v1/suppressions", json={"channel": "email", "address": "GONE@example.com"})
        assert suppressed.status_code == 201, suppressed.text
        contact = await tenant.post("/v1/contacts", json={"first_name": "Mina", "email": "mina@example.com"})
        assert contact.status_code == 201, contact.text
        contact_id = contact.json()["id"]
        opted = await tenant.request("PUT", f"/v1/contacts/{contact_id}/consents/email",
                                     json={"status": "opted_in", "source": "api"})  # fmt: skip
        assert opted.status_code == 200, opted.text
        marketing = {"channel": "email", "template_id": offer, "purpose": "marketing"}
        items = [
            {"lead_id": sara, **marketing},
            {"lead_id": reza, **marketing},
            {"lead_id": sara, **marketing},
            {"lead_id": sara, **marketing},  # her third this week: over the cap of two
            {"lead_id": silent, **marketing},
            {"lead_id": gone, **marketing},
            {"contact_id": contact_id, **marketing},
            {"lead_id": "00000000-0000-0000-0000-000000000001", **marketing},
            {"lead_id": reza, "channel": "email", "template_id": "00000000-0000-0000-0000-000000000002",
             "purpose": "marketing"},
            {"lead_id": reza, "channel": "email", "body_text": "Hello", "purpose": "marketing"},  # no subject
        ]  # fmt: skip
        answer = await tenant.post("/v1/messages/batch", json={"messages": items})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["index"] for r in results] == list(range(len(items)))
        outcomes = [(r["status"], r.get("block_reason")) for r in results[:7]]
        assert outcomes == [
            ("queued", None), ("queued", None), ("queued", None), ("blocked", "frequency_cap"),
            ("blocked", "no_consent"), ("blocked", "suppressed"), ("queued", None),
        ]  # fmt: skip
        assert results[7]["status"] == "error" and results[7]["problem"]["status"] == 404
        assert results[8]["status"] == "error" and results[8]["problem"]["errors"][0]["field"] == "template_id"
        assert results[9]["status"] == "error" and results[9]["problem"]["errors"][0]["field"] == "subject"

        # nothing was written for the failed items; each stored message has its first status and event
        stored = (await tenant.get("/v1/messages", params={"limit": 100})).json()["data"]
        assert sorted(m["id"] for m in stored) == sorted(r["id"] for r in results[:7])
        for result in results[:7]:
            history = (await status_of(tenant, result["id"]))["history"]
            assert [h["status"] for h in history] == [result["status"]]
        queued = (await tenant.get("/v1/events", params={"type": "message.queued", "limit": 100})).json()["data"]
        went = sorted(r["id"] for r in results[:7] if r["status"] == "queued")
        assert sorted(e["data"]["id"] for e in queued) == went

        # a later send counts the batch's messages: Sara has had her two
        later = await send(tenant, sara, template_id=offer, purpose="marketing")
        assert (later["status"], later["block_reason"]) == ("blocked", "frequency_cap")

        async with running_worker(database):
            await until(lambda: _async(len(smtp.received) == 4))
            await asyncio.sleep(0.3)  # nothing more comes
        subjects = sorted(str(r.message["Subject"]) for r in smtp.received)
        assert subjects == sorted(["سلام سارا", "سلام سارا", "سلام رضا", "سلام Mina"])
        assert len(smtp.received) == 4


async def test_an_email_a_member_sends_is_their_touch_once_it_went(database: Database, tenant: Tenant) -> None:
    member = await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@team.io"})
    assert member.status_code == 201, member.text
    key = await tenant.key_with("messages:write", "messages:read", "leads:read", member_id=member.json()["id"])
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        lead_id = await person(tenant, "touched@example.com")
        batch = [{"lead_id": lead_id, "channel": "email", "subject": "Following up", "body_text": "Hi",
                  "purpose": "transactional"}]  # fmt: skip
        answer = await tenant.post("/v1/messages/batch", key=key, json={"messages": batch})
        assert answer.status_code == 200, answer.text
        [result] = answer.json()["results"]
        activities = (await tenant.get("/v1/activities", params={"lead_id": lead_id})).json()["data"]
        assert activities == []  # queued is no touch yet
        async with running_worker(database):
            sent = await settled(tenant, result["id"], "sent")
    assert sent["status"] == "sent"
    [touch] = (await tenant.get("/v1/activities", params={"lead_id": lead_id})).json()["data"]
    assert (touch["type"], touch["direction"], touch["member_id"]) == ("email", "outbound", member.json()["id"])
    assert touch["subject"] == "Following up"
    lead = (await tenant.get(f"/v1/leads/{lead_id}")).json()
    assert lead["first_responded_at"] is not None
    [event] = (await tenant.get("/v1/events", params={"type": "message.sent"})).json()["data"]
    assert event["data"]["id"] == result["id"] and event["data"]["status"] == "sent"


async def test_one_pass_records_the_sends_of_every_workspace_together_and_leaves_a_lost_claim_alone(
    database: Database, tenant: Tenant, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    from app.db.unit_of_work import UnitOfWork
    from app.ids import utcnow
    from app.services.context import SERVICE_SCOPES, SYSTEM, Context

    other = await make_tenant(database, client, name="Other")
    async with SmtpServer() as smtp:
        sent: list[tuple[Tenant, str]] = []
        for who in (tenant, other):
            await setup(who, smtp)
            for n in range(3):
                lead_id = await person(who, f"p{n}@example.com")
                sent.append((who, (await send(who, lead_id, subject="Hi", body_text="Hello",
                                              purpose="transactional"))["id"]))  # fmt: skip
        caplog.set_level("INFO", logger="app.worker.messages")
        async with running_worker(database):
            for who, message_id in sent:
                await settled(who, message_id, "sent")
    assert "together failed" not in caplog.text  # recorded together, not one by one after a failure
    assert len(smtp.received) == 6
    for who, message_id in sent:
        message = await status_of(who, message_id)
        assert [h["status"] for h in message["history"]] == ["queued", "sent"]
        assert message["provider_message_id"] == message["email_message_id"] and message["sent_at"]
        events = (await who.get("/v1/events", params={"type": "message.sent"})).json()["data"]
        assert sum(1 for e in events if e["data"]["id"] == message_id) == 1

    # a claim whose lease ran out (another worker settled it since) is not recorded over
    lead_id = await person(tenant, "late@example.com")
    late = await send(tenant, lead_id, subject="Hi", body_text="Hello", purpose="transactional")
    async with UnitOfWork(database) as uow:  # claimed by a worker (its first attempt), as the queue claims
        ctx = Context(uow, UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        claimed = await ctx.messages.set_fields(UUID(late["id"]), {"status": "sending", "attempts": 1,
                                                                   "lease_until": utcnow()})  # fmt: skip
        assert claimed is not None
        await uow.commit()
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        assert await ctx.messages.settle_sent([(claimed["id"], 2, "<x@y>")], utcnow(), "system") == []  # not its claim
        [row] = await ctx.messages.settle_sent([(claimed["id"], 1, None)], utcnow(), "system")
        await uow.commit()
    assert (row["status"], row["provider_message_id"]) == ("sent", None)
    assert (await status_of(tenant, late["id"]))["version"] == late["version"] + 2  # claimed, then sent


async def test_concurrent_batches_to_the_same_addresses_keep_the_cap(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        cap = {"frequency_cap": {"marketing_per_7_days": 1}, "frequency_cap_action": "skip"}
        assert (await tenant.patch("/v1/settings/messaging", json=cap)).status_code == 200
        people = [await person(tenant, f"both{n}@example.com") for n in range(4)]

        def batch(order: list[str]) -> dict[str, Any]:
            return {"messages": [{"lead_id": p, "channel": "email", "subject": "Offer", "body_text": "Buy",
                                  "purpose": "marketing"} for p in order]}  # fmt: skip

        answers = await asyncio.gather(*(
            tenant.post("/v1/messages/batch", json=batch(people if n % 2 == 0 else people[::-1])) for n in range(4)
        ))  # fmt: skip
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    queued = [r for a in answers for r in a.json()["results"] if r["status"] == "queued"]
    capped = [r for a in answers for r in a.json()["results"] if r.get("block_reason") == "frequency_cap"]
    assert (len(queued), len(capped)) == (4, 12)  # one each, whichever batch came first


async def test_a_text_only_email_goes_as_text_and_html_with_its_links_tracked_in_both(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with SmtpServer() as smtp:
        async with running_worker(database):
            await setup(tenant, smtp)
            lead_id = await person(tenant, "text@example.com")
            body = "Hello <Sara> & co,\n\nOur offer: https://shop.example/offer?a=1&b=2.\nSee you."
            message = await send(tenant, lead_id, subject="Offer", body_text=body, purpose="marketing")
            await settled(tenant, message["id"], "sent")
            receipt = await send(tenant, lead_id, subject="Receipt", body_text="Paid: https://shop.example/r/1",
                                 purpose="transactional")  # fmt: skip
            await settled(tenant, receipt["id"], "sent")
            inbox = "text@example.com"
            both = await until(lambda: _async(smtp.to(inbox) if len(smtp.to(inbox)) == 2 else None))
            email, receipt_email = [r.message for r in both]
        text = email.get_body(("plain",)).get_content()
        html = email.get_body(("html",)).get_content()
        assert "https://shop.example/offer" not in text and 'href="https://shop.example/offer' not in html
        [text_click] = re.findall(r"https://crm\.example/t/c/\S+?(?=\.\r?\n)", text)
        [html_click] = re.findall(r'href="(https://crm\.example/t/c/[^"]+)"', html)
        assert text_click == html_click  # one link, counted once whichever part was read
        assert "Hello &lt;Sara&gt; &amp; co," in html and "<br>" in html  # escaped, lines kept
        assert re.search(r'src="https://crm\.example/t/o/', html)
        followed = await client.get(_path(text_click))
        assert followed.status_code == 303 and followed.headers["location"] == "https://shop.example/offer?a=1&b=2"
        # A transactional email gets its HTML part too, untracked.
        receipt_html = receipt_email.get_body(("html",)).get_content()
        assert 'href="https://shop.example/r/1"' in receipt_html and "/t/o/" not in receipt_html


async def test_rendered_bodies_are_cleared_after_the_workspaces_retention(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    from app.db.unit_of_work import UnitOfWork
    from app.ids import utcnow
    from app.services.context import SYSTEM, Context
    from app.worker import jobs, recurring

    async def nightly(days_later: int) -> int:
        """The nightly retention job `days_later` days from now (the recurring task queues it with its
        time): how many messages' bodies it cleared, as its job record reports."""
        task = recurring.TASKS["enforce-retention"]
        later = utcnow() + timedelta(days=days_later)
        async with UnitOfWork(database) as uow:
            job = await task.run(Context(uow, UUID(tenant.id), SYSTEM, later))
            await uow.commit()
        while await jobs.run_due(database, Settings(database_url=database.settings.database_url)):
            pass
        done = (await tenant.get(f"/v1/jobs/{job['id']}")).json()
        assert done["status"] == "succeeded", done
        return int(done["result"]["message_bodies"]["removed"])

    async with SmtpServer() as smtp:
        async with running_worker(database):
            await setup(tenant, smtp)
            lead_id = await person(tenant, "kept@example.com")
            sent = await send(tenant, lead_id, template_id=await template(tenant), purpose="marketing")
            await settled(tenant, sent["id"], "sent")
        later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        waiting = await send(tenant, lead_id, subject="Later", body_text="Soon", purpose="transactional", send_at=later)
        [received] = smtp.to("kept@example.com")
    assert await nightly(3) == 0  # a new workspace keeps them 365 days
    assert (await status_of(tenant, sent["id"]))["body_text"]
    answer = await tenant.patch("/v1/settings/retention", json={"message_body_days": 2})
    assert answer.status_code == 200, answer.text
    assert await nightly(1) == 0  # not yet two days old
    assert (await status_of(tenant, sent["id"]))["body_text"]
    assert await nightly(3) == 1
    cleared = await status_of(tenant, sent["id"])
    assert (cleared["subject"], cleared["body_text"], cleared["body_html"]) == (None, None, None)
    assert cleared["status"] == "sent" and [h["status"] for h in cleared["history"]][-1] == "sent"
    still = await status_of(tenant, waiting["id"])  # not sent yet: its content stays
    assert (still["subject"], still["body_text"]) == ("Later", "Soon")
    # Its tracked link still leads where it led.
    [click] = re.findall(r'href="(https://crm\.example/t/c/[^"]+)"', received.message.get_body(("html",)).get_content())
    followed = await client.get(_path(click))
    assert followed.status_code == 303 and followed.headers["location"] == "https://shop.example/offer?c=1&d=2"
    bad = await tenant.patch("/v1/settings/retention", json={"message_body_days": 0})
    assert bad.status_code == 422 and "message_body_days" in bad.text


async def test_complaints_and_late_bounces_forwarded_to_the_channel_suppress_the_address(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    from pathlib import Path

    reports = Path(__file__).parent.parent / "data" / "mail_reports"

    def report(name: str, message_id: str, **values: str) -> bytes:
        text = (reports / name).read_text().format(message_id=message_id, recipient="x@example.com", **values)
        return text.replace("\n", "\r\n").encode()

    async with SmtpServer() as smtp, running_worker(database):
        await setup(tenant, smtp)
        complainer = await person(tenant, "spam-button@example.com")
        gone = await person(tenant, "gone@example.com")
        first = await send(tenant, complainer, subject="Offer", body_text="Buy", purpose="marketing")
        second = await send(tenant, gone, subject="Offer", body_text="Buy", purpose="marketing")
        first, second = await settled(tenant, first["id"], "sent"), await settled(tenant, second["id"], "sent")
    [channel] = (await tenant.get("/v1/channels")).json()["data"]
    path = _path(channel["callback_url"])
    headers = {"content-type": "message/rfc822"}

    arf = report("arf_abuse.eml", first["provider_message_id"])
    assert (await client.post(path + "x", content=arf, headers=headers)).status_code == 401  # another token
    assert (await client.post(path, content=arf, headers={"content-type": "text/plain"})).status_code == 415
    assert (await client.post(path, content=arf, headers=headers)).status_code == 200
    complained = await status_of(tenant, first["id"])
    assert complained["complained_at"] is not None
    [entry] = (await tenant.get("/v1/suppressions", params={"reason": "complained"})).json()["data"]
    assert (entry["address"], entry["message_id"]) == ("spam-button@example.com", first["id"])
    blocked = await send(tenant, complainer, subject="Receipt", body_text="Paid", purpose="transactional")
    assert (blocked["status"], blocked["block_reason"]) == ("blocked", "suppressed")

    # A warning changes nothing; the bounce mailed back days later bounces the message.
    delayed = report("dsn_delayed.eml", second["provider_message_id"], status="4.4.7", diagnostic="421 later")
    assert (await client.post(path, content=delayed, headers=headers)).status_code == 200
    assert (await status_of(tenant, second["id"]))["status"] == "sent"
    dsn = report("dsn_failed.eml", second["provider_message_id"], status="5.1.1", diagnostic="550 5.1.1 User unknown")
    assert (await client.post(path, content=dsn, headers=headers)).status_code == 200
    bounced = await status_of(tenant, second["id"])
    assert bounced["status"] == "bounced" and "5.1.1" in bounced["history"][-1]["detail"]
    [entry] = (await tenant.get("/v1/suppressions", params={"reason": "bounced"})).json()["data"]
    assert entry["address"] == "gone@example.com"
    bounces = (await tenant.get("/v1/events", params={"type": "message.bounced"})).json()["data"]
    assert [e["data"]["id"] for e in bounces] == [second["id"]]
    # A report about a message the channel never sent changes nothing.
    stranger = report("arf_abuse.eml", "<unknown@elsewhere.example>")
    assert (await client.post(path, content=stranger, headers=headers)).status_code == 200
    assert len((await tenant.get("/v1/suppressions")).json()["data"]) == 2


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # several workers: PostgreSQL's
async def test_two_workers_keep_to_the_channels_rate_together(database: Database, tenant: Tenant) -> None:
    """99 emails at a channel allowing 25 a second take 3.9 s, whether one worker or two send them;
    two that each kept the rate only for themselves would take half that."""
    import time

    arrivals: list[float] = []
    settings = Settings(
        database_url=database.settings.database_url, outbound_allow_loopback=True,
        public_base_url="https://crm.example", worker_poll_seconds=0.05, worker_lease_seconds=30.0,
        webhook_timeout_seconds=5.0,
    )  # fmt: skip
    async with SmtpServer() as smtp:
        smtp.handler.on_data = lambda _item: arrivals.append(time.monotonic())
        await setup(tenant, smtp)
        [channel] = (await tenant.get("/v1/channels")).json()["data"]
        known = {k: v for k, v in channel["settings"].items() if not k.endswith("_set")}
        paced = {"settings": {**known, "max_per_second": 25}}
        assert (await tenant.patch(f"/v1/channels/{channel['id']}", json=paced)).status_code == 200
        people = [await person(tenant, f"p{n}@example.com", consent=None) for n in range(100)]
        workers = [Worker(database, settings), Worker(database, settings)]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            for w in workers:
                await asyncio.wait_for(w.ready.wait(), 10)
            items = [{"lead_id": p, "channel": "email", "subject": "Receipt", "body_text": "Thanks",
                      "purpose": "transactional"} for p in people]  # fmt: skip
            # One first, so both workers' SMTP sessions are open and arrivals follow hand-offs.
            assert (await tenant.post("/v1/messages/batch", json={"messages": items[:1]})).status_code == 200
            await until(lambda: _async(len(smtp.handler.received) >= 1), 30)
            await asyncio.sleep(1)
            arrivals.clear()
            answer = await tenant.post("/v1/messages/batch", json={"messages": items[1:]})
            assert answer.status_code == 200, answer.text
            await until(lambda: _async(len(smtp.handler.received) >= 100), 60)
        finally:
            for w in workers:
                w.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert len(smtp.handler.received) == 100  # each once
    span = max(arrivals) - min(arrivals)
    # 99 at 25 a second: hand-offs start over 3.9 s; each worker keeping only its own rate: half
    # that (2 s). Arrivals follow hand-offs by the SMTP exchange's time, which a loaded machine
    # stretches for some more than others: the bound leaves 1 s for that and stays 1 s above 2.
    assert span >= 98 / 25 * 0.75, f"99 emails in {span:.2f} s: faster than 25 a second"
