"""Kavenegar (kavenegar.com): SMS through its REST API, its delivery reports and received messages,
and the lookup of a send whose answer was lost.

- Send: `POST {api_base_url}/v1/{API-KEY}/sms/send.json`, form-encoded `receptor`, `sender`,
  `message` and `localid` (as the official SDKs send them). The answer is `{"return": {"status",
  "message"}, "entries": [{"messageid", "message", "status", "statustext", "sender", "receptor",
  "date", "cost"}]}`; `return.status` 200 is success. A refusal comes as the same envelope with its
  code, the HTTP status mirroring it (the Go and .NET SDKs read the envelope from non-2xx answers);
  an answer without the envelope (a proxy's error page) is judged by its HTTP status alone.
- `localid` is the sender's own id for a message, unique in the account. Its type is a long
  integer (the Go SDK's `StatusLocal(localid int64)`, and the REST page's table as third-party
  copies of it give it: `Long`; the .NET SDK passes a string), so a UUID does not fit: ours is
  `local_id(message id)`, the first 63 bits of the SHA-256 of the id's 16 bytes, in decimal (the
  same on every attempt; two messages share one with a chance of about n²/2⁶⁴ among n messages).
- Lookup: `POST {api_base_url}/v1/{API-KEY}/sms/statuslocalmessageid.json`, form-encoded `localid`
  (the official Go, .NET and PHP SDKs post it; the REST page takes GET or POST). The answer is the
  envelope with `entries: [{"messageid", "localid", "status", "statustext"}]`: an entry with a
  `messageid` and a status of `sms/status` proves the message went (its status read as a delivery
  report's); `status` -1 says Kavenegar has no message with that localid (not found). Kavenegar
  answers localid lookups for messages of the last 12 hours only (third-party copies of the REST
  page), so a "not found" is believed only within LOOKUP_WINDOW of the send (the worker's
  reconciliation, app/services/outreach/delivery.py, also waits a grace period before believing it). Anything else
  (no answer, a refusal, an unknown status such as 100, no entry for our localid) is inconclusive.
- Callbacks (the delivery URL and the receive URL set in Kavenegar's panel, both this channel's
  callback URL): a delivery report carries `messageid` and `status` (the codes of `sms/status`);
  a received message `from`, `to`, `message` and `messageid` (`sender`/`receptor`, the names
  `sms/receive` uses, are taken too); as a form-encoded POST or the same fields in a GET's query
  (the documentation at hand does not settle which: both are taken).
  Kavenegar does not sign them: the token in the URL alone authenticates them.

What was read for each shape, and what is unverified: tests/data/kavenegar/NOTES.md."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

import orjson

from app.domain.outreach.delivery import (
    CallbackEvent,
    CallbackKind,
    CallbackRequest,
    ChannelConfig,
    LookupResult,
    Outcome,
    Outgoing,
    SendResult,
    Trace,
)
from app.domain.outreach.vocabulary import MessageStatus
from app.outbound import Reply, exchange, guarded_client
from app.services.outreach.providers.base import FORM, KEEP_BYTES, e164_of, form_pairs, short, transport_failure

API_BASE_URL = "https://api.kavenegar.com"
# return.status codes. 411: the receptor is not a valid number (for good).
RECIPIENT_CODES = frozenset({411})
# Not processed, try again later: 409 the server cannot answer now, 451 too many calls from this
# IP in the time window.
RETRY_CODES = frozenset({409, 451})
# A refusal that Kavenegar answers with a 5xx code: 501, a test account may send only to its
# owner's number. Nothing was sent, so the message failed (it is not in doubt).
REFUSED_5XX = frozenset({501})
# A delivery report's status (the codes of sms/status) as a message status, with what it means.
# 1 queued and 2 scheduled change nothing a message records, nor does 100 (an unknown message id).
# 14 is a number that refuses advertising lines: the number is good (other lines and transactional
# messages may reach it), so it fails this message without suppressing the number.
DELIVERY: dict[str, tuple[MessageStatus, str]] = {
    "4": (MessageStatus.SENT, "sent to the operator"),
    "5": (MessageStatus.SENT, "sent to the operator"),
    "6": (MessageStatus.FAILED, "failed at the sending line"),
    "10": (MessageStatus.DELIVERED, "delivered"),
    "11": (MessageStatus.FAILED, "not delivered (handset off or out of reach)"),
    "13": (MessageStatus.FAILED, "cancelled or not sent (cost refunded)"),
    "14": (MessageStatus.FAILED, "blocked: the recipient refuses advertising lines"),
}


# A localid lookup's status for "no message with this localid".
NOT_FOUND = -1
# sms/status codes that say Kavenegar holds the message without a delivery outcome yet: 1 queued,
# 2 scheduled, 4 and 5 sent to the operator.
HELD = frozenset({1, 2, 4, 5})
# Kavenegar keeps localids for lookups 12 hours: a "not found" later than this after the send
# proves nothing (the message may have gone and been forgotten since).
LOOKUP_WINDOW = timedelta(hours=12)


def local_id(message_id: UUID) -> str:
    """Kavenegar's `localid` for our message: a positive 63-bit integer in decimal (Kavenegar's
    localid is a long), derived from the message id alone so every attempt carries the same one."""
    value = int.from_bytes(hashlib.sha256(message_id.bytes).digest()[:8], "big") >> 1
    return str(value or 1)


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
    enveloped = isinstance(code, int)  # Kavenegar answered (not a proxy's error page)
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
    if code in RECIPIENT_CODES:
        return SendResult(Outcome.BOUNCED, detail=detail)
    if http_status >= 500 and code >= 500 and not (enveloped and code in REFUSED_5XX):
        return SendResult(Outcome.UNKNOWN, detail=detail)
    return SendResult(Outcome.FAILED, detail=detail)  # 401/403 key, 412 sender, 413 text, 418 credit, 501...


def read_lookup(http_status: int, excerpt: str | None, localid: str) -> LookupResult:
    """What an `sms/statuslocalmessageid` answer says about the message sent with `localid`."""
    body: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(excerpt or "")
    returned = body.get("return") if isinstance(body, dict) else None
    code = returned.get("status") if isinstance(returned, dict) else None
    message = short(str(returned.get("message") or "")) if isinstance(returned, dict) else short(excerpt)
    if http_status != 200 or code != 200:
        return LookupResult(Trace.INCONCLUSIVE, detail=f"lookup: {code if isinstance(code, int) else http_status} "
                                                       f"{message}".strip())  # fmt: skip
    entries = body.get("entries") if isinstance(body, dict) else None
    entries = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    mine = [e for e in entries if str(e.get("localid") or "").strip() == localid]
    if not mine and len(entries) == 1 and not entries[0].get("localid"):
        mine = entries  # one entry that does not echo the localid: the answer to our one question
    if not mine:
        return LookupResult(Trace.INCONCLUSIVE, detail="lookup: no entry for the localid")
    entry = mine[0]
    try:
        status = int(entry.get("status"))
    except (TypeError, ValueError):
        return LookupResult(Trace.INCONCLUSIVE, detail="lookup: no status")
    text = short(str(entry.get("statustext") or ""))
    detail = f"localid {localid}: status {status} {text}".strip()
    if status == NOT_FOUND:
        return LookupResult(Trace.NOT_FOUND, detail=detail)
    message_id = entry.get("messageid")
    if message_id in (None, "", 0, "0") or (status not in HELD and str(status) not in DELIVERY):
        return LookupResult(Trace.INCONCLUSIVE, detail=detail)  # 100 (an unknown id), 50, or no id
    reported = DELIVERY.get(str(status))
    final = reported[0] if reported is not None and reported[0] is not MessageStatus.SENT else None
    return LookupResult(Trace.FOUND, str(message_id), final, detail)


class KavenegarAdapter:
    callback_media_types = frozenset({FORM})
    lookup_window = LOOKUP_WINDOW

    async def send(
        self,
        channel: ChannelConfig,
        outgoing: Outgoing,
        *,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109 - the adapters' interface
    ) -> SendResult:
        fields = {
            "receptor": receptor_of(outgoing.to),
            "sender": str(channel.settings.get("sender", "")),
            "message": outgoing.body_text,
            "localid": local_id(outgoing.message_id),
        }
        reply = await _post(channel, "sms/send.json", fields, allow_loopback=allow_loopback, deadline=timeout)
        if reply.status_code is None:
            return transport_failure(reply)
        return classify(reply.status_code, reply.excerpt)

    async def look_up(
        self,
        channel: ChannelConfig,
        message_id: UUID,
        *,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109 - the adapters' interface
    ) -> LookupResult:
        localid = local_id(message_id)
        fields = {"localid": localid}
        reply = await _post(
            channel, "sms/statuslocalmessageid.json", fields, allow_loopback=allow_loopback, deadline=timeout
        )
        if reply.status_code is None:
            return LookupResult(Trace.INCONCLUSIVE, detail=f"lookup: {reply.error or 'no answer'}")
        return read_lookup(reply.status_code, reply.excerpt, localid)

    def verify_callback(self, channel: ChannelConfig, request: CallbackRequest) -> bool:
        return True  # Kavenegar signs nothing: the URL's token (checked before) is the proof

    def parse_callback(self, channel: ChannelConfig, request: CallbackRequest) -> list[CallbackEvent]:
        fields = dict(form_pairs(request))
        message_id = fields.get("messageid") or None
        reported = fields.get("status", "").strip()
        # A received message: `from`/`to` as forwarded to the receive URL; `sender`/`receptor` as
        # sms/receive names them (not taken from a report, which carries a status).
        sender = fields.get("from") or (None if reported else fields.get("sender"))
        if sender and "message" in fields:
            return [
                CallbackEvent(
                    CallbackKind.INBOUND,
                    provider_message_id=message_id,
                    from_address=_phone(sender),
                    to_address=fields.get("to") or fields.get("receptor"),
                    text=fields["message"],
                    raw=fields,
                )
            ]
        known = DELIVERY.get(reported)
        if known is None or not message_id:
            return []
        status, meaning = known
        return [
            CallbackEvent(
                CallbackKind.STATUS,
                provider_message_id=message_id,
                status=status,
                detail=f"status {reported} {meaning}",
                raw=fields,
            )
        ]


async def _post(
    channel: ChannelConfig, method: str, fields: dict[str, str], *, allow_loopback: bool, deadline: float
) -> Reply:
    """One form-encoded POST to a method of Kavenegar's REST API (`sms/send.json`)."""
    base = str(channel.settings.get("api_base_url") or API_BASE_URL).rstrip("/")
    key = quote(channel.secrets.get("api_key", ""), safe="")
    async with guarded_client(allow_loopback=allow_loopback, max_connections=1) as client:
        return await exchange(
            client,
            "POST",
            f"{base}/v1/{key}/{method}",
            headers={"content-type": FORM, "accept": "application/json"},
            content=urlencode(fields).encode("ascii"),
            deadline_seconds=deadline,
            keep=KEEP_BYTES,
        )


def _phone(raw: str) -> str:
    """A sender's number as E.164: Kavenegar reports Iranian mobiles nationally (09121234567)."""
    number = raw.strip()
    if number.startswith("0") and not number.startswith("00"):
        return "+98" + number[1:]
    return e164_of(number)


ADAPTER = KavenegarAdapter()
