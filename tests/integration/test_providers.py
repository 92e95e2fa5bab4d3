"""Each provider adapter against a local receiver speaking the provider's documented API (answers
from tests/data/<provider>/, see NOTES.md there), SMTP against a real aiosmtpd server on loopback:
what arrives, and how every kind of answer or failure is classified. The callback fixtures parse
into the events a message's history needs, and signatures verify only when right."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from uuid import uuid4

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from app.domain.outreach.delivery import (
    CallbackKind,
    CallbackRequest,
    ChannelConfig,
    Outcome,
    Outgoing,
    Trace,
)
from app.domain.outreach.vocabulary import ChannelType, MessageStatus, Provider
from app.services.outreach.providers.base import adapter_for, lookup_for
from app.services.outreach.providers.kavenegar import local_id
from app.services.outreach.providers.whatsapp_cloud import handshake
from tests.integration.receiver import Receiver, Reply, never

DATA = Path(__file__).parent.parent / "data"
CALLBACK = "https://crm.example/v1/channel-callbacks/abc/token"
ACCOUNT = "AC" + "0123456789abcdef" * 2


def data(provider: str, name: str) -> bytes:
    return (DATA / provider / name).read_bytes()


def answer(status: int, payload: bytes) -> Reply:
    async def reply(writer: asyncio.StreamWriter) -> None:
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(payload)}\r\nContent-Type: application/json\r\n\r\n"
        writer.write(head.encode() + payload)
        await writer.drain()

    return reply


def drop() -> Reply:
    """Take the request, then close the connection without a word."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.close()

    return reply


def channel(provider: Provider, settings: dict[str, Any], secrets: dict[str, str]) -> ChannelConfig:
    kind = {
        Provider.SMTP: ChannelType.EMAIL,
        Provider.KAVENEGAR: ChannelType.SMS,
        Provider.TWILIO: ChannelType.SMS,
        Provider.WHATSAPP_CLOUD: ChannelType.WHATSAPP,
    }[provider]
    return ChannelConfig(uuid4(), uuid4(), kind, provider, settings, secrets, CALLBACK)


def twilio(base: str) -> ChannelConfig:
    return channel(
        Provider.TWILIO, {"account_sid": ACCOUNT, "from": "+15017122661", "api_base_url": base}, {"auth_token": "tok"}
    )


def kavenegar(base: str) -> ChannelConfig:
    return channel(Provider.KAVENEGAR, {"sender": "10004346", "api_base_url": base}, {"api_key": "KEY-123"})


def whatsapp(base: str) -> ChannelConfig:
    return channel(
        Provider.WHATSAPP_CLOUD,
        {"phone_number_id": "106540352242922", "api_version": "v21.0", "api_base_url": base},
        {"access_token": "EAAG-token", "app_secret": "app-secret", "verify_token": "verify-me"},
    )


def sms(to: str = "+15558675310", text: str = "Hello there") -> Outgoing:
    return Outgoing(uuid4(), ChannelType.SMS, to, body_text=text)


async def sent_through(
    config: ChannelConfig, outgoing: Outgoing, receiver: Receiver, *, allow_loopback: bool = True
) -> Any:
    return await adapter_for(config.provider).send(config, outgoing, allow_loopback=allow_loopback, timeout=5)


def base_of(receiver: Receiver) -> str:
    return f"http://127.0.0.1:{receiver.port}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- Twilio ---------------------------------------------------------------------------------------


async def test_twilio_posts_the_documented_form_with_basic_auth_and_reads_the_sid() -> None:
    async with Receiver(reply=answer(201, data("twilio", "message_created.json"))) as receiver:
        outgoing = sms()
        result = await sent_through(twilio(base_of(receiver)), outgoing, receiver)
    assert result.outcome == Outcome.SENT and result.provider_message_id == "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    [request] = receiver.received
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{ACCOUNT}:tok".encode()).decode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    # the status callback names our message: a report that outruns the hand-off's record still finds it
    callback = f"{CALLBACK}?message={outgoing.message_id}"
    assert form == {"To": "+15558675310", "From": "+15017122661", "Body": "Hello there", "StatusCallback": callback}


@pytest.mark.parametrize(
    ("status", "payload", "outcome"),
    [
        (400, data("twilio", "error_21211.json"), Outcome.BOUNCED),  # invalid To: the recipient, for good
        (401, data("twilio", "error_20003.json"), Outcome.FAILED),  # bad credentials
        (429, b'{"code": 20429, "message": "Too Many Requests", "status": 429}', Outcome.RETRY),
        (503, b'{"code": 20503, "message": "Service unavailable", "status": 503}', Outcome.RETRY),
        (500, b'{"code": 20500, "message": "Internal Server Error", "status": 500}', Outcome.UNKNOWN),
    ],
)
async def test_twilio_answers_are_classified(status: int, payload: bytes, outcome: Outcome) -> None:
    async with Receiver(reply=answer(status, payload)) as receiver:
        result = await sent_through(twilio(base_of(receiver)), sms(), receiver)
    assert result.outcome == outcome, result
    assert str(status) in result.detail


async def test_a_connection_lost_after_the_request_was_sent_is_unknown_never_retried() -> None:
    async with Receiver(reply=drop()) as receiver:
        result = await sent_through(twilio(base_of(receiver)), sms(), receiver)
    assert len(receiver.received) == 1
    assert result.outcome == Outcome.UNKNOWN, result


async def test_no_answer_before_the_deadline_is_unknown_never_retried() -> None:
    async with Receiver(reply=never()) as receiver:
        result = await adapter_for(Provider.WHATSAPP_CLOUD).send(
            whatsapp(base_of(receiver)), sms("+16505551234"), allow_loopback=True, timeout=0.5
        )
    assert len(receiver.received) == 1
    assert result.outcome == Outcome.UNKNOWN and "timed out" in result.detail


async def test_a_refused_connection_is_retried() -> None:
    result = await adapter_for(Provider.TWILIO).send(
        twilio(f"http://127.0.0.1:{closed_port()}"), sms(), allow_loopback=True, timeout=5
    )
    assert result.outcome == Outcome.RETRY and result.detail == "could not connect"


async def test_a_loopback_api_is_refused_unless_allowed() -> None:
    async with Receiver(reply=answer(201, data("twilio", "message_created.json"))) as receiver:
        for config in (twilio(base_of(receiver)), kavenegar(base_of(receiver)), whatsapp(base_of(receiver))):
            result = await sent_through(config, sms(), receiver, allow_loopback=False)
            assert result.outcome == Outcome.FAILED and result.detail == "address not allowed"
    assert receiver.received == []


# -- Kavenegar ------------------------------------------------------------------------------------


async def test_kavenegar_sends_to_the_key_path_with_a_national_receptor_and_our_localid() -> None:
    async with Receiver(reply=answer(200, data("kavenegar", "send_ok.json"))) as receiver:
        outgoing = sms("+989123456789", "سلام")
        result = await sent_through(kavenegar(base_of(receiver)), outgoing, receiver)
    assert result.outcome == Outcome.SENT and result.provider_message_id == "8792343"
    [request] = receiver.received
    assert request.path == "/v1/KEY-123/sms/send.json"
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    localid = local_id(outgoing.message_id)
    assert form == {"receptor": "09123456789", "sender": "10004346", "message": "سلام", "localid": localid}
    # a long integer (Kavenegar's localid), the same for every attempt of the message, another for another
    assert localid.isdigit() and 0 < int(localid) < 2**63 and local_id(outgoing.message_id) == localid
    assert local_id(uuid4()) != localid


def lookup_answer(name: str, localid: str, **entry: Any) -> bytes:
    body = json.loads(data("kavenegar", name))
    body["entries"][0].update(localid=localid, **entry)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("answered", "trace", "provider_id", "status"),
    [
        (lambda ours: answer(200, lookup_answer("statuslocal_found.json", ours)), Trace.FOUND, "85463238",
         MessageStatus.DELIVERED),
        (lambda ours: answer(200, lookup_answer("statuslocal_found.json", ours, status=4, messageid=77)), Trace.FOUND,
         "77", None),
        (lambda ours: answer(200, lookup_answer("statuslocal_found.json", ours, status=11)), Trace.FOUND, "85463238",
         MessageStatus.FAILED),
        (lambda ours: answer(200, lookup_answer("statuslocal_not_found.json", ours)), Trace.NOT_FOUND, None, None),
        # someone else's localid, an unknown id, a refusal, no envelope, a lost answer: nothing certain
        (lambda ours: answer(200, lookup_answer("statuslocal_not_found.json", "1")), Trace.INCONCLUSIVE, None, None),
        (lambda ours: answer(200, lookup_answer("statuslocal_found.json", ours, status=100)), Trace.INCONCLUSIVE,
         None, None),
        (lambda ours: answer(403, data("kavenegar", "error_403.json")), Trace.INCONCLUSIVE, None, None),
        (lambda ours: answer(502, b"<html>bad gateway</html>"), Trace.INCONCLUSIVE, None, None),
        (lambda ours: drop(), Trace.INCONCLUSIVE, None, None),
    ],
)  # fmt: skip
async def test_kavenegar_looks_a_send_up_by_its_localid(
    answered: Any, trace: Trace, provider_id: str | None, status: MessageStatus | None
) -> None:
    message_id = uuid4()
    ours = local_id(message_id)
    async with Receiver(reply=answered(ours)) as receiver:
        adapter = lookup_for(Provider.KAVENEGAR)
        assert adapter is not None
        found = await adapter.look_up(kavenegar(base_of(receiver)), message_id, allow_loopback=True, timeout=5)
    assert (found.trace, found.provider_message_id, found.status) == (trace, provider_id, status), found
    [request] = receiver.received
    assert request.path == "/v1/KEY-123/sms/statuslocalmessageid.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"localid": [ours]}


def test_only_kavenegar_offers_a_lookup() -> None:
    assert [p for p in Provider if lookup_for(p) is not None] == [Provider.KAVENEGAR]


@pytest.mark.parametrize(
    ("status", "payload", "outcome"),
    [
        (411, data("kavenegar", "error_411.json"), Outcome.BOUNCED),
        (403, data("kavenegar", "error_403.json"), Outcome.FAILED),
        (409, b'{"return": {"status": 409, "message": "server busy"}, "entries": null}', Outcome.RETRY),
        (451, b'{"return": {"status": 451, "message": "too many calls"}, "entries": null}', Outcome.RETRY),
        (501, data("kavenegar", "error_501.json"), Outcome.FAILED),
        (500, b'{"return": {"status": 500, "message": "error"}, "entries": null}', Outcome.UNKNOWN),
        (502, b"<html>bad gateway</html>", Outcome.UNKNOWN),
        (501, b"<html>not implemented</html>", Outcome.UNKNOWN),
    ],
)
async def test_kavenegar_answers_are_classified(status: int, payload: bytes, outcome: Outcome) -> None:
    async with Receiver(reply=answer(status, payload)) as receiver:
        result = await sent_through(kavenegar(base_of(receiver)), sms("+989123456789"), receiver)
    assert result.outcome == outcome, result


# -- WhatsApp Cloud -------------------------------------------------------------------------------


async def test_whatsapp_sends_a_template_message_with_its_body_parameters() -> None:
    template = {"name": "order_ready", "language": "en_US", "parameters": ["Sara", "A-1001"]}
    outgoing = Outgoing(uuid4(), ChannelType.WHATSAPP, "+16505551234", whatsapp_template=template)
    async with Receiver(reply=answer(200, data("whatsapp_cloud", "message_created.json"))) as receiver:
        result = await sent_through(whatsapp(base_of(receiver)), outgoing, receiver)
    assert result.outcome == Outcome.SENT
    assert result.provider_message_id == "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
    [request] = receiver.received
    assert request.path == "/v21.0/106540352242922/messages"
    assert request.headers["authorization"] == "Bearer EAAG-token"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "template",
        "template": {
            "name": "order_ready",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Sara"}, {"type": "text", "text": "A-1001"}]}
            ],
        },
        "biz_opaque_callback_data": str(outgoing.message_id),  # echoed back in the status webhooks
    }


async def test_whatsapp_sends_a_text_message() -> None:
    outgoing = Outgoing(uuid4(), ChannelType.WHATSAPP, "+16505551234", body_text="See you at 5")
    async with Receiver(reply=answer(200, data("whatsapp_cloud", "message_created.json"))) as receiver:
        await sent_through(whatsapp(base_of(receiver)), outgoing, receiver)
    body = receiver.received[0].json
    assert body["type"] == "text" and body["text"] == {"preview_url": False, "body": "See you at 5"}


@pytest.mark.parametrize(
    ("status", "payload", "outcome"),
    [
        (401, data("whatsapp_cloud", "error_190.json"), Outcome.FAILED),
        (400, data("whatsapp_cloud", "error_130429.json"), Outcome.RETRY),
        (500, b'{"error": {"message": "Unknown error", "code": 1}}', Outcome.UNKNOWN),
    ],
)
async def test_whatsapp_answers_are_classified(status: int, payload: bytes, outcome: Outcome) -> None:
    async with Receiver(reply=answer(status, payload)) as receiver:
        result = await sent_through(whatsapp(base_of(receiver)), sms("+16505551234"), receiver)
    assert result.outcome == outcome, result


# -- SMTP -----------------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps what it is given, or answers RCPT/DATA as scripted."""

    def __init__(
        self,
        *,
        mail: str | None = None,
        rcpt: str | None = None,
        data: str | None = None,
        drop_after_data: bool = False,
    ) -> None:
        self.mail, self.rcpt, self.data, self.drop_after_data = mail, rcpt, data, drop_after_data
        self.messages: list[Envelope] = []

    async def handle_MAIL(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.mail is not None:
            return self.mail
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt is not None:
            return self.rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.drop_after_data:
            assert server.transport is not None
            server.transport.abort()
            return "250 never heard"
        if self.data is not None:
            return self.data
        self.messages.append(envelope)
        return "250 2.0.0 Ok: queued as 4F2A1"


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(inbox: Inbox) -> int:
        port = closed_port()  # a free port: aiosmtpd checks its server by connecting to the port given
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


def smtp_channel(port: int, security: str = "none") -> ChannelConfig:
    settings = {"host": "127.0.0.1", "port": port, "security": security, "from_email": "news@shop.example"}
    return channel(Provider.SMTP, settings, {})


def mail(to: str = "sara@example.com") -> Outgoing:
    message = EmailMessage()
    message["From"] = "Shop <news@shop.example>"
    message["To"] = to
    message["Subject"] = "Spring sale — 20 % off"
    message["Message-ID"] = "<m1@shop.example>"
    message.set_content("Hello Sara,\n\nthe sale starts today.\n.\nA line with a lone dot above.\n")
    return Outgoing(uuid4(), ChannelType.EMAIL, to, mime=message.as_bytes(), envelope_from="bounces@shop.example")


async def smtp_send(port: int, outgoing: Outgoing | None = None, *, allow_loopback: bool = True) -> Any:
    return await adapter_for(Provider.SMTP).send(
        smtp_channel(port), outgoing or mail(), allow_loopback=allow_loopback, timeout=5
    )


async def test_smtp_delivers_the_message_intact_from_the_envelope_sender(smtp_server: Any) -> None:
    inbox = Inbox()
    outgoing = mail()
    result = await smtp_send(smtp_server(inbox), outgoing)
    assert result.outcome == Outcome.SENT and result.provider_message_id == "<m1@shop.example>"
    assert "queued as 4F2A1" in result.detail
    [envelope] = inbox.messages
    assert envelope.mail_from == "bounces@shop.example" and envelope.rcpt_tos == ["sara@example.com"]
    assert outgoing.mime is not None
    assert envelope.original_content == outgoing.mime.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


async def test_smtp_4xx_is_retried(smtp_server: Any) -> None:
    result = await smtp_send(smtp_server(Inbox(rcpt="451 4.7.1 Greylisted, try again later")))
    assert result.outcome == Outcome.RETRY and result.detail.startswith("451")


async def test_smtp_4xx_at_the_end_of_data_is_retried(smtp_server: Any) -> None:
    result = await smtp_send(smtp_server(Inbox(data="452 4.3.1 Insufficient system storage")))
    assert result.outcome == Outcome.RETRY


async def test_smtp_5xx_at_rcpt_bounces(smtp_server: Any) -> None:
    result = await smtp_send(smtp_server(Inbox(rcpt="550 5.1.1 No such user")))
    assert result.outcome == Outcome.BOUNCED and "No such user" in result.detail


async def test_smtp_5xx_at_data_fails_the_message_not_the_recipient(smtp_server: Any) -> None:
    """Content refused (a spam filter) says nothing about the address: it must not be suppressed."""
    result = await smtp_send(smtp_server(Inbox(data="554 5.7.1 Message rejected as spam")))
    assert result.outcome == Outcome.FAILED and result.detail.startswith("554")
    too_big = await smtp_send(smtp_server(Inbox(data="552 5.3.4 Message size exceeds fixed limit")))
    assert too_big.outcome == Outcome.FAILED


async def test_smtp_5xx_at_data_refusing_the_mailbox_bounces(smtp_server: Any) -> None:
    """Servers that accept every RCPT refuse an unknown or full mailbox once the message is in."""
    result = await smtp_send(smtp_server(Inbox(data="550 5.1.1 User unknown")))
    assert result.outcome == Outcome.BOUNCED and "User unknown" in result.detail
    disabled = await smtp_send(smtp_server(Inbox(data="550 5.2.1 Mailbox disabled")))
    assert disabled.outcome == Outcome.BOUNCED
    # A full mailbox or a message too large says nothing lasting about the address.
    for answer in ("552 5.2.2 Mailbox full", "552 5.2.3 Message too large", "552 Size limit exceeded",
                   "554 Rejected as spam"):  # fmt: skip
        assert (await smtp_send(smtp_server(Inbox(data=answer)))).outcome == Outcome.FAILED, answer
    plain = await smtp_send(smtp_server(Inbox(data="550 Requested action not taken: mailbox unavailable")))
    assert plain.outcome == Outcome.BOUNCED


async def test_smtp_relaying_denied_at_rcpt_fails_the_channel_not_the_recipient(smtp_server: Any) -> None:
    """A channel without (or with wrong) credentials is refused for every recipient: suppressing
    them all would silence the workspace's list."""
    result = await smtp_send(smtp_server(Inbox(rcpt="550 5.7.1 Relaying denied")))
    assert result.outcome == Outcome.FAILED
    plain = await smtp_send(smtp_server(Inbox(rcpt="554 Relay access denied")))
    assert plain.outcome == Outcome.FAILED


async def test_smtp_5xx_for_the_sender_fails_the_channel_not_the_recipient(smtp_server: Any) -> None:
    result = await smtp_send(smtp_server(Inbox(mail="553 5.7.1 Sender address rejected: not owned by user")))
    assert result.outcome == Outcome.FAILED and result.detail.startswith("553")


async def test_smtp_connection_refused_is_retried() -> None:
    result = await smtp_send(closed_port())
    assert result.outcome == Outcome.RETRY and "could not connect" in result.detail


async def test_smtp_connection_dropped_after_data_is_unknown(smtp_server: Any) -> None:
    result = await smtp_send(smtp_server(Inbox(drop_after_data=True)))
    assert result.outcome == Outcome.UNKNOWN, result


async def test_smtp_starttls_is_required_when_configured(smtp_server: Any) -> None:
    port = smtp_server(Inbox())
    result = await adapter_for(Provider.SMTP).send(
        smtp_channel(port, "starttls"), mail(), allow_loopback=True, timeout=5
    )
    assert result.outcome == Outcome.FAILED and "STARTTLS" in result.detail


async def test_smtp_to_loopback_is_refused_unless_allowed(smtp_server: Any) -> None:
    inbox = Inbox()
    result = await smtp_send(smtp_server(inbox), allow_loopback=False)
    assert result.outcome == Outcome.FAILED and result.detail == "address not allowed"
    assert inbox.messages == []


# -- callbacks ------------------------------------------------------------------------------------


def form_request(body: bytes, headers: dict[str, str] | None = None, url: str = CALLBACK) -> CallbackRequest:
    return CallbackRequest(
        "POST", url, {"content-type": "application/x-www-form-urlencoded", **(headers or {})}, {}, body
    )


def json_request(body: bytes, headers: dict[str, str] | None = None) -> CallbackRequest:
    return CallbackRequest("POST", CALLBACK, {"content-type": "application/json", **(headers or {})}, {}, body)


def twilio_signature(token: str, url: str, body: bytes) -> str:
    """As Twilio documents it: the URL, then each POST field's name and value sorted by name,
    HMAC-SHA1 with the auth token, base64."""
    fields = parse_qs(body.decode(), keep_blank_values=True)
    signed = url + "".join(name + value for name in sorted(fields) for value in fields[name])
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def test_twilio_status_callbacks_parse_into_statuses() -> None:
    config, adapter = twilio("http://unused"), adapter_for(Provider.TWILIO)
    [delivered] = adapter.parse_callback(config, form_request(data("twilio", "status_delivered.form")))
    assert (delivered.kind, delivered.status) == (CallbackKind.STATUS, MessageStatus.DELIVERED)
    assert delivered.provider_message_id == "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    [undelivered] = adapter.parse_callback(config, form_request(data("twilio", "status_undelivered.form")))
    assert undelivered.status == MessageStatus.BOUNCED and "30005" in undelivered.detail  # unknown destination


def test_twilio_inbound_message_parses_with_sender_and_text() -> None:
    [event] = adapter_for(Provider.TWILIO).parse_callback(
        twilio("http://unused"), form_request(data("twilio", "inbound.form"))
    )
    assert event.kind == CallbackKind.INBOUND
    assert (event.from_address, event.text, event.to_address) == ("+15558675310", "STOP please", "+15017122661")


def test_twilio_signature_verifies_only_the_right_one() -> None:
    config, adapter = twilio("http://unused"), adapter_for(Provider.TWILIO)
    body = data("twilio", "status_delivered.form")
    good = twilio_signature("tok", CALLBACK, body)
    assert adapter.verify_callback(config, form_request(body, {"X-Twilio-Signature": good}))
    assert not adapter.verify_callback(
        config, form_request(body, {"X-Twilio-Signature": twilio_signature("x", CALLBACK, body)})
    )
    assert not adapter.verify_callback(config, form_request(body + b"&Extra=1", {"X-Twilio-Signature": good}))
    assert not adapter.verify_callback(config, form_request(body, {"X-Twilio-Signature": good}, url=CALLBACK + "x"))
    assert not adapter.verify_callback(config, form_request(body))


def test_kavenegar_reports_and_replies_parse() -> None:
    config, adapter = kavenegar("http://unused"), adapter_for(Provider.KAVENEGAR)
    [delivered] = adapter.parse_callback(config, form_request(data("kavenegar", "delivery_delivered.form")))
    assert (delivered.status, delivered.provider_message_id) == (MessageStatus.DELIVERED, "8792343")
    [undelivered] = adapter.parse_callback(config, form_request(data("kavenegar", "delivery_undelivered.form")))
    assert undelivered.status == MessageStatus.FAILED
    assert undelivered.detail.startswith("status 11 ")
    [blocked] = adapter.parse_callback(config, form_request(data("kavenegar", "delivery_blocked.form")))
    assert blocked.status == MessageStatus.FAILED  # refuses advertising lines: not a bad number
    [reply] = adapter.parse_callback(config, form_request(data("kavenegar", "receive.form")))
    assert reply.kind == CallbackKind.INBOUND and (reply.from_address, reply.text) == ("+989121234567", "لغو")
    assert (reply.to_address, reply.provider_message_id) == ("10004346", "306145362")


def test_kavenegar_callbacks_take_either_field_naming_and_ignore_what_records_nothing() -> None:
    config, adapter = kavenegar("http://unused"), adapter_for(Provider.KAVENEGAR)
    named = "messageid=306145363&sender=09121234567&receptor=10004346&message=%D9%84%D8%BA%D9%88&date=1356619709"
    [reply] = adapter.parse_callback(config, form_request(named.encode()))
    assert (reply.kind, reply.from_address, reply.to_address) == (CallbackKind.INBOUND, "+989121234567", "10004346")
    report = b"messageid=8792343&status=10&statustext=x&sender=10004346&receptor=09123456789&message=hi"
    [delivered] = adapter.parse_callback(config, form_request(report))
    assert (delivered.kind, delivered.status) == (CallbackKind.STATUS, MessageStatus.DELIVERED)
    query = CallbackRequest("GET", CALLBACK, {}, {"messageid": "8792343", "status": "14"}, b"")
    [blocked] = adapter.parse_callback(config, query)
    assert (blocked.status, blocked.provider_message_id) == (MessageStatus.FAILED, "8792343")
    for nothing in (b"messageid=8792343&status=1", b"messageid=8792343&status=2", b"messageid=1&status=100"):
        assert adapter.parse_callback(config, form_request(nothing)) == []


def test_whatsapp_webhooks_parse_into_statuses_and_replies() -> None:
    config, adapter = whatsapp("http://unused"), adapter_for(Provider.WHATSAPP_CLOUD)
    [delivered] = adapter.parse_callback(config, json_request(data("whatsapp_cloud", "status_delivered.json")))
    assert delivered.status == MessageStatus.DELIVERED and delivered.to_address == "+16505551234"
    assert delivered.provider_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
    [failed] = adapter.parse_callback(config, json_request(data("whatsapp_cloud", "status_failed.json")))
    assert failed.status == MessageStatus.BOUNCED and "131026" in failed.detail
    [reply] = adapter.parse_callback(config, json_request(data("whatsapp_cloud", "inbound_text.json")))
    assert reply.kind == CallbackKind.INBOUND
    assert (reply.from_address, reply.text) == ("+16505551234", "Does it come in another color?")


def test_whatsapp_signature_and_handshake() -> None:
    config, adapter = whatsapp("http://unused"), adapter_for(Provider.WHATSAPP_CLOUD)
    body = data("whatsapp_cloud", "status_delivered.json")
    good = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert adapter.verify_callback(config, json_request(body, {"X-Hub-Signature-256": good}))
    assert not adapter.verify_callback(config, json_request(body + b" ", {"X-Hub-Signature-256": good}))
    assert not adapter.verify_callback(config, json_request(body))
    query = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    assert handshake(config, query) == "1158201444"
    assert handshake(config, {**query, "hub.verify_token": "other"}) is None
    assert handshake(config, {**query, "hub.mode": "unsubscribe"}) is None


def test_fixtures_are_valid_json() -> None:
    for path in DATA.glob("*/*.json"):
        if path.parent.name in ("twilio", "kavenegar", "whatsapp_cloud"):
            json.loads(path.read_text())


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 that no client trusts."""
    from datetime import UTC, datetime, timedelta
    from ipaddress import IPv4Address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_smtp_tls_verifies_the_certificate_and_a_tls_failure_is_retried(tmp_path: Path) -> None:
    port = closed_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=self_signed(tmp_path))
    controller.start()
    try:
        result = await adapter_for(Provider.SMTP).send(
            smtp_channel(port, "tls"), mail(), allow_loopback=True, timeout=5
        )
    finally:
        controller.stop()
    assert result.outcome == Outcome.RETRY and "TLS" in result.detail, result
    assert inbox.messages == []
