"""Kavenegar (kavenegar.com): SMS through its REST API, its delivery reports and received messages.

- Send: `POST {api_base_url}/v1/{API-KEY}/sms/send.json`, form-encoded `receptor`, `sender`,
  `message`. The answer is `{"return": {"status", "message"}, "entries": [{"messageid", "status",
  "statustext", "receptor", ...}]}`; `return.status` 200 is success (the HTTP status mirrors it).
- Callbacks (the delivery URL and the receive URL set in Kavenegar's panel, both this channel's
  callback URL): a delivery report carries `messageid` and `status`; a received message `from`,
  `to`, `message` and `messageid`; as a form-encoded POST (or the same fields in a GET's query).
  Kavenegar does not sign them: the token in the URL alone authenticates them."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote, urlencode

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
from app.services.outreach.providers.base import FORM, KEEP_BYTES, e164_of, form_pairs, short, transport_failure

API_BASE_URL = "https://api.kavenegar.com"
# return.status codes: the receptor is not a valid number (for good).
RECIPIENT_CODES = frozenset({411})
# "The server cannot answer now; try again later" (not processed).
RETRY_CODES = frozenset({409})
# A delivery report's status: 1 queued, 2 scheduled, 4 and 5 sent to the operator, 6 failed,
# 10 delivered, 11 not delivered, 13 cancelled, 14 blocked by the recipient, 100 unknown id.
DELIVERY = {
    "4": MessageStatus.SENT,
    "5": MessageStatus.SENT,
    "6": MessageStatus.FAILED,
    "10": MessageStatus.DELIVERED,
    "11": MessageStatus.FAILED,
    "13": MessageStatus.FAILED,
    "14": MessageStatus.BOUNCED,
}


def receptor_of(e164: str) -> str:
    """Kavenegar's receptor for an E.164 number: an Iranian mobile in its national form
    (+989121234567 → 09121234567), any other number with the international prefix 00."""
    number = e164.strip()
    if number.startswith("+98"):
        return "0" + number[3:]
    if number.startswith("+"):
        return "00" + number[1:]
    return number


def classify(http_status: int, excerpt: str | None) -> SendResult:
    body: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(excerpt or "")
    returned = body.get("return") if isinstance(body, dict) else None
    code = returned.get("status") if isinstance(returned, dict) else None
    message = short(str(returned.get("message") or "")) if isinstance(returned, dict) else short(excerpt)
    if not isinstance(code, int):
        code = http_status
    detail = f"{code} {message}".strip()
    if code == 200 and http_status == 200:
        entries = body.get("entries") if isinstance(body, dict) else None
        first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else {}
        message_id = first.get("messageid")
        return SendResult(Outcome.SENT, str(message_id) if message_id is not None else None, detail)
    if code in RETRY_CODES:
        return SendResult(Outcome.RETRY, detail=detail)
    if http_status >= 500 and code >= 500:
        return SendResult(Outcome.UNKNOWN, detail=detail)
    if code in RECIPIENT_CODES:
        return SendResult(Outcome.BOUNCED, detail=detail)
    return SendResult(Outcome.FAILED, detail=detail)  # 401/403 key, 412 sender, 418 credit, 413 text...


class KavenegarAdapter:
    callback_media_types = frozenset({FORM})

    async def send(
        self,
        channel: ChannelConfig,
        outgoing: Outgoing,
        *,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109 - the adapters' interface
    ) -> SendResult:
        base = str(channel.settings.get("api_base_url") or API_BASE_URL).rstrip("/")
        key = quote(channel.secrets.get("api_key", ""), safe="")
        fields = {
            "receptor": receptor_of(outgoing.to),
            "sender": str(channel.settings.get("sender", "")),
            "message": outgoing.body_text,
        }
        async with guarded_client(allow_loopback=allow_loopback, max_connections=1) as client:
            reply = await exchange(
                client,
                "POST",
                f"{base}/v1/{key}/sms/send.json",
                headers={"content-type": FORM, "accept": "application/json"},
                content=urlencode(fields).encode("ascii"),
                deadline_seconds=timeout,
                keep=KEEP_BYTES,
            )
        if reply.status_code is None:
            return transport_failure(reply)
        return classify(reply.status_code, reply.excerpt)

    def verify_callback(self, channel: ChannelConfig, request: CallbackRequest) -> bool:
        return True  # Kavenegar signs nothing: the URL's token (checked before) is the proof

    def parse_callback(self, channel: ChannelConfig, request: CallbackRequest) -> list[CallbackEvent]:
        fields = dict(form_pairs(request))
        message_id = fields.get("messageid")
        if "from" in fields and "message" in fields:
            return [
                CallbackEvent(
                    CallbackKind.INBOUND,
                    provider_message_id=message_id,
                    from_address=_phone(fields["from"]),
                    to_address=fields.get("to"),
                    text=fields["message"],
                    raw=fields,
                )
            ]
        status = DELIVERY.get(fields.get("status", "").strip())
        if status is None or not message_id:
            return []
        return [
            CallbackEvent(
                CallbackKind.STATUS,
                provider_message_id=message_id,
                status=status,
                detail=f"status {fields.get('status')}",
                raw=fields,
            )
        ]


def _phone(raw: str) -> str:
    """A sender's number as E.164: Kavenegar reports Iranian mobiles nationally (09121234567)."""
    number = raw.strip()
    if number.startswith("0") and not number.startswith("00"):
        return "+98" + number[1:]
    return e164_of(number)


ADAPTER = KavenegarAdapter()
