# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""SMS end to end through Kavenegar's REST API, served by a local stand-in (answers and callbacks
from tests/data/kavenegar/, see NOTES.md there): the API queues, a real worker sends with our
localid, Kavenegar's delivery report and the person's Persian opt-out reply come back to the
channel's callback URL, and a send whose answer was lost is looked up by its localid: found, it
is `sent`; not found after the grace period, it is sent again, once. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.services.outreach import delivery
from app.services.outreach.providers.kavenegar import local_id
from tests.conftest import Tenant
from tests.integration.receiver import Receiver

# the app on loopback with PUBLIC_BASE_URL, its client and tenant, and a worker: as for email
from tests.integration.test_email_messages import app, client, running_worker, settled, tenant, until  # noqa: F401

DATA = Path(__file__).parent.parent / "data" / "kavenegar"
PHONE = "+989121234567"  # Kavenegar's receptor 09121234567
SENDER = "10004346"
GRACE = 1.0  # seconds: LOOKUP_GRACE in these tests


class Kavenegar:
    """Kavenegar on loopback. `sms/send.json` answers as send_ok.json, each localid holding one
    message (the same localid again: the message it holds, as Kavenegar's duplicate prevention
    is said to do); `sms/statuslocalmessageid.json` answers as statuslocal_found.json for a localid
    it holds (with the status `found_status` gives the message's text: else 4, sent to the
    operator), else as statuslocal_not_found.json. A text in `lose_answer` is held but the
    connection drops before the answer; one in `never_held` drops the connection without holding
    it (the first time only); the first `failing_lookups[text]` lookups of a text are answered by a
    proxy's 502."""

    def __init__(self) -> None:
        self.receiver = Receiver(reply=self._reply)
        self.held: dict[str, int] = {}  # localid: messageid
        self.texts: dict[str, str] = {}  # localid: the message's text
        self.found_status: dict[str, int] = {}
        self.lose_answer: set[str] = set()
        self.never_held: set[str] = set()
        self.failing_lookups: dict[str, int] = {}
        self.times: list[float] = []  # when each request came (monotonic)

    async def __aenter__(self) -> Kavenegar:
        await self.receiver.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.receiver.__aexit__(*exc)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.receiver.port}"

    def requests(self, method: str) -> list[tuple[float, dict[str, str]]]:
        """(when, form) of each request to `method` ("sms/send.json"), in order."""
        return [
            (at, {k: v[0] for k, v in parse_qs(r.body.decode()).items()})
            for at, r in zip(self.times, self.receiver.received, strict=True)
            if r.path == f"/v1/KEY-123/{method}"
        ]

    async def _reply(self, writer: asyncio.StreamWriter) -> None:
        self.times.append(time.monotonic())
        request = self.receiver.received[-1]
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if request.path.endswith("/sms/send.json"):
            text, localid = form["message"], form["localid"]
            if text in self.never_held:
                self.never_held.discard(text)
                writer.close()
                return
            message_id = self.held.setdefault(localid, 8792343 + len(self.held))
            self.texts[localid] = text
            if text in self.lose_answer:
                self.lose_answer.discard(text)
                writer.close()  # the request was read (and the message held): the answer is lost
                return
            body = json.loads((DATA / "send_ok.json").read_text())
            body["entries"][0].update(messageid=message_id, message=text, receptor=form["receptor"],
                                      sender=form["sender"])  # fmt: skip
            _answer(writer, 200, body)
        elif request.path.endswith("/sms/statuslocalmessageid.json"):
            localid = form["localid"]
            text = self.texts.get(localid, "")
            if self.failing_lookups.get(text):
                self.failing_lookups[text] -= 1
                payload = b"<html>502 Bad Gateway</html>"
                writer.write(f"HTTP/1.1 502 X\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
                return
            if localid in self.held:
                body = json.loads((DATA / "statuslocal_found.json").read_text())
                status = self.found_status.get(text, 4)
                body["entries"][0].update(messageid=self.held[localid], localid=localid, status=status)
            else:
                body = json.loads((DATA / "statuslocal_not_found.json").read_text())
                body["entries"][0].update(localid=localid)
            _answer(writer, 200, body)
        else:
            _answer(writer, 404, {"return": {"status": 404, "message": "not found"}, "entries": None})


def _answer(writer: asyncio.StreamWriter, status: int, body: Any) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    writer.write(head.encode() + payload)


def _form(name: str, **changes: str) -> bytes:
    fields = {k: v[0] for k, v in parse_qs((DATA / name).read_text().strip(), keep_blank_values=True).items()}
    return urlencode({**fields, **changes}).encode()


async def _callback(client: httpx.AsyncClient, callback_url: str, body: bytes) -> httpx.Response:
    return await client.post(urlsplit(callback_url).path, content=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip


@pytest.fixture
def grace(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(delivery, "LOOKUP_GRACE", timedelta(seconds=GRACE))
    return GRACE


async def _setup(tenant: Tenant, provider: Kavenegar) -> tuple[str, str]:
    """A Kavenegar channel at the stand-in (its callback URL) and a lead at PHONE opted in to SMS."""
    channel = {"type": "sms", "provider": "kavenegar", "name": "Kavenegar",
               "settings": {"api_key": "KEY-123", "sender": SENDER, "api_base_url": provider.base_url}}  # fmt: skip
    created = await tenant.post("/v1/channels", json=channel)
    assert created.status_code == 201, created.text
    policy = {"quiet_hours": None, "frequency_cap": None}
    assert (await tenant.patch("/v1/settings/messaging", json=policy)).status_code == 200
    lead = (await tenant.post("/v1/leads", json={"first_name": "سارا", "phone": PHONE})).json()
    consent = await tenant.request("PUT", f"/v1/leads/{lead['id']}/consents/sms",
                                   json={"status": "opted_in", "source": "api"})  # fmt: skip
    assert consent.status_code == 200, consent.text
    return created.json()["callback_url"], lead["id"]


async def _queue(tenant: Tenant, lead_id: str, text: str, purpose: str = "transactional") -> dict[str, Any]:
    queued = await tenant.post("/v1/messages", json={"lead_id": lead_id, "channel": "sms", "body_text": text,
                                                     "purpose": purpose})  # fmt: skip
    assert queued.status_code == 202, queued.text
    return dict(queued.json())


def _statuses(message: dict[str, Any]) -> list[str]:
    return [h["status"] for h in message["history"]]


async def test_an_sms_goes_with_its_localid_is_reported_delivered_and_a_persian_opt_out_reply_opts_out(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with Kavenegar() as provider:
        callback_url, lead_id = await _setup(tenant, provider)
        async with running_worker(database):
            message = await _queue(tenant, lead_id, "سلام {{ person.first_name }}، تخفیف ویژه", "marketing")
            sent = await settled(tenant, message["id"], "sent")
    [(_, form)] = provider.requests("sms/send.json")
    assert form == {"receptor": "09121234567", "sender": SENDER, "message": "سلام سارا، تخفیف ویژه",
                    "localid": local_id(UUID(message["id"]))}  # fmt: skip
    assert sent["provider_message_id"] == "8792343" and _statuses(sent) == ["queued", "sent"]
    assert provider.requests("sms/statuslocalmessageid.json") == []  # an answered send is never looked up

    # Kavenegar's delivery report, form-encoded to the channel's callback URL; another token is refused
    report = _form("delivery_delivered.form", messageid="8792343")
    forged = callback_url.rsplit("/", 1)[0] + "/not-the-token"
    assert (await _callback(client, forged, report)).status_code == 401
    assert (await _callback(client, callback_url, report)).status_code in (200, 204)
    delivered = await settled(tenant, message["id"], "delivered")
    assert delivered["delivered_at"] and _statuses(delivered) == ["queued", "sent", "delivered"]
    events = (await tenant.get("/v1/events", params={"resource_id": message["id"]})).json()["data"]
    assert {"message.sent", "message.delivered"} <= {e["type"] for e in events}

    # the person answers «لغو» (cancel), forwarded by Kavenegar from their national number
    reply = _form("receive.form", messageid="306145399", **{"from": "09121234567", "to": SENDER, "message": "لغو"})
    assert (await _callback(client, callback_url, reply)).status_code in (200, 204)
    consents = {c["channel"]: c for c in (await tenant.get(f"/v1/leads/{lead_id}/consents")).json()["data"]}
    assert (consents["sms"]["status"], consents["sms"]["source"]) == ("opted_out", "reply_keyword")
    activities = (await tenant.get("/v1/activities", params={"lead_id": lead_id})).json()["data"]
    assert [(a["type"], a["direction"], a["notes"]) for a in activities] == [("sms", "inbound", "لغو")]
    replied = (await tenant.get(f"/v1/messages/{message['id']}")).json()
    assert replied["replied_at"] and replied["unsubscribed_at"]
    events = (await tenant.get("/v1/events", params={"resource_id": message["id"]})).json()["data"]
    assert "message.replied" in {e["type"] for e in events}
    blocked = await tenant.post("/v1/messages", json={"lead_id": lead_id, "channel": "sms", "body_text": "حراج",
                                                      "purpose": "marketing"})  # fmt: skip
    assert (blocked.json()["status"], blocked.json()["block_reason"]) == ("blocked", "opted_out")


async def test_a_send_whose_answer_was_lost_is_found_by_its_localid_and_never_sent_again(
    database: Database, tenant: Tenant, grace: float
) -> None:
    async with Kavenegar() as provider:
        _, lead_id = await _setup(tenant, provider)
        provider.lose_answer |= {"Your code is 4821", "Your order shipped"}
        provider.found_status["Your order shipped"] = 10  # delivered already when looked up
        provider.failing_lookups["Your code is 4821"] = 1  # a proxy's error: looked up again later
        async with running_worker(database):
            code = await _queue(tenant, lead_id, "Your code is 4821")
            await settled(tenant, code["id"], "unknown")
            shipped = await _queue(tenant, lead_id, "Your order shipped")
            found = await settled(tenant, code["id"], "sent")
            delivered = await settled(tenant, shipped["id"], "delivered")
    sends = provider.requests("sms/send.json")
    assert [f["message"] for _, f in sends] == ["Your code is 4821", "Your order shipped"]  # each sent once
    lookups = provider.requests("sms/statuslocalmessageid.json")
    ours = local_id(UUID(code["id"]))
    assert [f["localid"] for _, f in lookups].count(ours) == 2  # the failed lookup, then the one that found it
    assert lookups[0][0] - sends[0][0] >= grace  # not before the grace period
    assert found["provider_message_id"] == str(provider.held[ours]) and found["sent_at"]
    assert _statuses(found) == ["queued", "unknown", "sent"] and found["attempts"] == 1
    assert found["last_error"] is None
    assert delivered["provider_message_id"] == str(provider.held[local_id(UUID(shipped["id"]))])
    assert _statuses(delivered) == ["queued", "unknown", "sent", "delivered"] and delivered["delivered_at"]
    events = (await tenant.get("/v1/events", params={"resource_id": shipped["id"]})).json()["data"]
    assert {"message.sent", "message.delivered"} <= {e["type"] for e in events}


async def test_a_send_kavenegar_never_got_is_sent_again_once_after_the_grace_period(
    database: Database, tenant: Tenant, grace: float
) -> None:
    async with Kavenegar() as provider:
        _, lead_id = await _setup(tenant, provider)
        provider.never_held.add("Your code is 7312")
        async with running_worker(database):
            message = await _queue(tenant, lead_id, "Your code is 7312")
            sent = await settled(tenant, message["id"], "sent")
            await asyncio.sleep(grace + 0.5)  # nothing more happens to it
    ours = local_id(UUID(message["id"]))
    sends = provider.requests("sms/send.json")
    assert [f["localid"] for _, f in sends] == [ours, ours]  # sent again exactly once, with the same localid
    [(looked_at, looked)] = provider.requests("sms/statuslocalmessageid.json")
    assert looked == {"localid": ours} and sends[0][0] + grace <= looked_at <= sends[1][0]
    assert _statuses(sent) == ["queued", "unknown", "queued", "sent"] and sent["attempts"] == 2
    assert sent["provider_message_id"] == str(provider.held[ours])
    history = sent["history"]
    assert "not found" in history[2]["detail"] and "-1" in history[2]["detail"]
    assert (await tenant.get(f"/v1/messages/{message['id']}")).json()["status"] == "sent"


async def test_lookups_that_settle_nothing_stop_and_leave_the_message_unknown(
    database: Database, tenant: Tenant, grace: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "LOOKUP_FOR", timedelta(seconds=6 * grace))
    async with Kavenegar() as provider:
        _, lead_id = await _setup(tenant, provider)
        provider.lose_answer.add("Your code is 5550")
        provider.failing_lookups["Your code is 5550"] = 10**6  # every lookup fails
        async with running_worker(database):
            message = await _queue(tenant, lead_id, "Your code is 5550")
            await settled(tenant, message["id"], "unknown")

            async def given_up() -> bool:
                async with UnitOfWork(database, write=False) as uow:
                    ms = tables.messages
                    statement = select(ms.c.lookup_at).where(ms.c.id == UUID(message["id"]))
                    return (await uow.execute(statement)).scalar() is None

            await until(given_up)
            looked = [at for at, _ in provider.requests("sms/statuslocalmessageid.json")]
            await asyncio.sleep(2 * grace)
        assert len(provider.requests("sms/statuslocalmessageid.json")) == len(looked)  # no more lookups
    # looked up about 1, 2 and 4 graces after the attempt (each after as long again as had passed,
    # so fewer on a slow machine), none due later than LOOKUP_FOR (6) after it: a fourth would be
    # due at 8 at the earliest. (A worker pass on a loaded machine may start seconds late.)
    [(sent_at, _)] = provider.requests("sms/send.json")
    assert len(looked) in (2, 3) and looked[0] - sent_at >= grace and looked[-1] - sent_at < 6 * grace + 10
    gaps = [b - a for a, b in itertools.pairwise(looked)]
    assert all(gap >= grace for gap in gaps) and gaps == sorted(gaps)
    unknown = (await tenant.get(f"/v1/messages/{message['id']}")).json()
    assert unknown["status"] == "unknown" and len(provider.requests("sms/send.json")) == 1
