"""Twilio Programmable Messaging: SMS through the Messages resource, its status callbacks and
inbound messages, signed with X-Twilio-Signature.

- Send: `POST {api_base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded `To`,
  `From` (or `MessagingServiceSid`), `Body`, `StatusCallback`; HTTP basic auth (AccountSid,
  AuthToken). 201 answers the Message resource (`sid`, `status` queued/accepted).
- Errors answer `{"code", "message", "more_info", "status"}`.
- Callbacks are form-encoded POSTs; the signature is base64(HMAC-SHA1(AuthToken, URL + each POST
  field's name and value, sorted by name))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from uuid import UUID

import orjson

from app.domain.outreach.delivery import (
    CallbackEvent,
    CallbackKind,
    CallbackRequest,
    ChannelConfig,
    Outcome,
    Outgoing,
    SendResult,
)
from app.domain.outreach.vocabulary import MessageStatus
from app.outbound import exchange, guarded_client
from app.services.outreach.providers.base import (
    FORM,
    KEEP_BYTES,
    MESSAGE_PARAMETER,
    form_pairs,
    header,
    message_of,
    short,
    transport_failure,
)

API_BASE_URL = "https://api.twilio.com"
# Error codes that say the recipient cannot be reached at this number, for good.
RECIPIENT_CODES = frozenset({21211, 21610, 21614, 21612, 30005, 30006, 30004})
STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.FAILED,
}


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """X-Twilio-Signature of a request to `url` with these POST fields."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _code(excerpt: str | None) -> tuple[int | None, str]:
    try:
        body: Any = orjson.loads(excerpt or "")
    except orjson.JSONDecodeError:
        return None, short(excerpt)
    if not isinstance(body, dict):
        return None, short(excerpt)
    code = body.get("code")
    return (code if isinstance(code, int) else None), short(str(body.get("message") or ""))


def classify(status: int, excerpt: str | None) -> SendResult:
    """Twilio's answer to a Messages POST as an outcome."""
    if status in (200, 201):
        try:
            sid = orjson.loads(excerpt or "").get("sid")
        except (orjson.JSONDecodeError, AttributeError):
            sid = None
        return SendResult(Outcome.SENT, sid if isinstance(sid, str) else None, f"{status} accepted")
    code, message = _code(excerpt)
    detail = f"{status} {code or ''} {message}".replace("  ", " ").strip()
    if status == 429 or status == 503:  # documented: the request was not processed, try again later
        return SendResult(Outcome.RETRY, detail=detail)
    if status >= 500:
        return SendResult(Outcome.UNKNOWN, detail=detail)
    if code in RECIPIENT_CODES:
        return SendResult(Outcome.BOUNCED, detail=detail)
    return SendResult(Outcome.FAILED, detail=detail)  # 401 bad credentials, 400 bad parameters, 404 no account


class TwilioAdapter:
    callback_media_types = frozenset({FORM})

    async def send(
        self,
        channel: ChannelConfig,
        outgoing: Outgoing,
        *,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109 - the adapters' interface
    ) -> SendResult:
        settings, secrets = channel.settings, channel.secrets
        base = str(settings.get("api_base_url") or API_BASE_URL).rstrip("/")
        account = str(settings["account_sid"])
        fields: dict[str, str] = {"To": outgoing.to, "Body": outgoing.body_text}
        if settings.get("messaging_service_sid"):
            fields["MessagingServiceSid"] = str(settings["messaging_service_sid"])
        if settings.get("from"):
            fields["From"] = str(settings["from"])
        if channel.callback_url:  # our id in it: a report that outruns the hand-off's record still finds it
            fields["StatusCallback"] = with_message(channel.callback_url, outgoing.message_id)
        credentials = base64.b64encode(f"{account}:{secrets.get('auth_token', '')}".encode()).decode("ascii")
        async with guarded_client(allow_loopback=allow_loopback, max_connections=1) as client:
            reply = await exchange(
                client,
                "POST",
                f"{base}/2010-04-01/Accounts/{account}/Messages.json",
                headers={"authorization": f"Basic {credentials}", "content-type": FORM, "accept": "application/json"},
                content=_encode(fields),
                deadline_seconds=timeout,
                keep=KEEP_BYTES,
            )
        if reply.status_code is None:
            return transport_failure(reply)
        return classify(reply.status_code, reply.excerpt)

    def verify_callback(self, channel: ChannelConfig, request: CallbackRequest) -> bool:
        given = header(request.headers, "X-Twilio-Signature")
        token = channel.secrets.get("auth_token")
        if not given or not token:
            return False
        params = form_pairs(request) if request.method.upper() == "POST" else []
        return hmac.compare_digest(given.encode(), signature(token, request.url, params).encode())

    def parse_callback(self, channel: ChannelConfig, request: CallbackRequest) -> list[CallbackEvent]:
        fields = dict(form_pairs(request))
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        state = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
        if state == "received" or (not state and "Body" in fields):
            return [
                CallbackEvent(
                    CallbackKind.INBOUND,
                    provider_message_id=sid,
                    from_address=fields.get("From"),
                    to_address=fields.get("To"),
                    text=fields.get("Body", ""),
                    raw=fields,
                )
            ]
        status = STATUSES.get(state)
        if status is None:  # queued, accepted, sending, scheduled: nothing a message records
            return []
        code = fields.get("ErrorCode")
        if status == MessageStatus.FAILED and code and code.isdigit() and int(code) in RECIPIENT_CODES:
            status = MessageStatus.BOUNCED
        detail = f"{state} {code}" if code else state
        return [
            CallbackEvent(
                CallbackKind.STATUS,
                provider_message_id=sid,
                message_id=message_of(request.query.get(MESSAGE_PARAMETER)),
                status=status,
                to_address=fields.get("To"),
                detail=detail,
                raw=fields,
            )
        ]


def with_message(callback_url: str, message_id: UUID) -> str:
    """The status callback URL for one message: the channel's, with our message id as `message`
    (Twilio calls it exactly so, and signs it whole)."""
    return f"{callback_url}{'&' if '?' in callback_url else '?'}{MESSAGE_PARAMETER}={message_id}"


def _encode(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode("ascii")


ADAPTER = TwilioAdapter()
