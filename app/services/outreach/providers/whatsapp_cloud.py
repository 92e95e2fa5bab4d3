"""WhatsApp Business Platform, Cloud API (Meta): messages through the Graph API, webhooks signed
with X-Hub-Signature-256, and the GET verification handshake.

- Send: `POST {api_base_url}/{api_version}/{phone_number_id}/messages` with `Authorization: Bearer
  {access_token}` and JSON `{"messaging_product": "whatsapp", "to", "type": "template" | "text", ...}`.
  200 answers `{"messages": [{"id": "wamid..."}]}`; errors `{"error": {"message", "type", "code",
  "error_subcode", "fbtrace_id"}}`.
- Webhooks: `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
  "value": {"statuses": [...], "messages": [...]}}]}]}`, signed as `sha256=<hex HMAC-SHA256 of the
  raw body with the app secret>`.
- Handshake: `GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...` answered with the
  challenge when the verify token is the channel's."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

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
from app.services.outreach.providers.base import JSON, KEEP_BYTES, e164_of, header, message_of, short, transport_failure

API_BASE_URL = "https://graph.facebook.com"
API_VERSION = "v21.0"
# Throttling: Meta refused the request for now (app, account, pair or spam rate limits).
RETRY_CODES = frozenset({4, 80007, 130429, 131048, 131056})
# The recipient cannot be reached (message undeliverable; not a WhatsApp user).
RECIPIENT_CODES = frozenset({131026})
# Meta's transient service errors (perhaps handled): never resent blindly.
UNKNOWN_CODES = frozenset({1, 2, 131000, 131016})
STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "failed": MessageStatus.FAILED,
}


def body_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def payload_of(outgoing: Outgoing) -> dict[str, Any]:
    to = outgoing.to.lstrip("+")
    template = outgoing.whatsapp_template
    if template:
        parameters = [{"type": "text", "text": str(p)} for p in template.get("parameters") or []]
        body: dict[str, Any] = {"name": template["name"], "language": {"code": template.get("language") or "en"}}
        if parameters:
            body["components"] = [{"type": "body", "parameters": parameters}]
        return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template",
                "template": body, "biz_opaque_callback_data": str(outgoing.message_id)}  # fmt: skip
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": outgoing.body_text},
        # echoed in the status webhooks: a report that outruns the hand-off's record still finds it
        "biz_opaque_callback_data": str(outgoing.message_id),
    }


def classify(status: int, excerpt: str | None) -> SendResult:
    body: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(excerpt or "")
    if 200 <= status < 300:
        messages = body.get("messages") if isinstance(body, dict) else None
        first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
        message_id = first.get("id")
        return SendResult(Outcome.SENT, str(message_id) if message_id else None, f"{status} accepted")
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = short(str(error.get("message") or "")) if isinstance(error, dict) else short(excerpt)
    detail = f"{status} {code if code is not None else ''} {message}".replace("  ", " ").strip()
    if code in RETRY_CODES or (status == 429 and code is None):
        return SendResult(Outcome.RETRY, detail=detail)
    if code in UNKNOWN_CODES or status >= 500:
        return SendResult(Outcome.UNKNOWN, detail=detail)
    if code in RECIPIENT_CODES:
        return SendResult(Outcome.BOUNCED, detail=detail)
    return SendResult(Outcome.FAILED, detail=detail)  # 190 token, 132000/132001 template, 100 parameter...


def handshake(channel: ChannelConfig, query: dict[str, str]) -> str | None:
    """The challenge to answer Meta's verification GET with, or None when it is not one for this
    channel (another verify token, another mode)."""
    token = channel.secrets.get("verify_token")
    given = query.get("hub.verify_token")
    if query.get("hub.mode") != "subscribe" or not token or given is None:
        return None
    if not hmac.compare_digest(given.encode(), token.encode()):
        return None
    return query.get("hub.challenge", "")


def _at(raw: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _text(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    part = message.get(kind) if isinstance(kind, str) else None
    if not isinstance(part, dict):
        return None
    if kind == "text":
        return str(part.get("body") or "")
    if kind == "button":
        return str(part.get("text") or "")
    if kind == "interactive":
        reply = part.get("button_reply") or part.get("list_reply") or {}
        return str(reply.get("title") or "") if isinstance(reply, dict) else None
    return None


class WhatsAppCloudAdapter:
    callback_media_types = frozenset({JSON})

    async def send(
        self,
        channel: ChannelConfig,
        outgoing: Outgoing,
        *,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109 - the adapters' interface
    ) -> SendResult:
        settings = channel.settings
        base = str(settings.get("api_base_url") or API_BASE_URL).rstrip("/")
        version = str(settings.get("api_version") or API_VERSION)
        url = f"{base}/{version}/{settings['phone_number_id']}/messages"
        async with guarded_client(allow_loopback=allow_loopback, max_connections=1) as client:
            reply = await exchange(
                client,
                "POST",
                url,
                headers={
                    "authorization": f"Bearer {channel.secrets.get('access_token', '')}",
                    "content-type": JSON,
                    "accept": JSON,
                },
                content=orjson.dumps(payload_of(outgoing)),
                deadline_seconds=timeout,
                keep=KEEP_BYTES,
            )
        if reply.status_code is None:
            return transport_failure(reply)
        return classify(reply.status_code, reply.excerpt)

    def verify_callback(self, channel: ChannelConfig, request: CallbackRequest) -> bool:
        given = header(request.headers, "X-Hub-Signature-256")
        secret = channel.secrets.get("app_secret")
        if not given or not secret:
            return False
        return hmac.compare_digest(given.strip().encode(), body_signature(secret, request.body).encode())

    def parse_callback(self, channel: ChannelConfig, request: CallbackRequest) -> list[CallbackEvent]:
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(payload, dict):
            return []
        events: list[CallbackEvent] = []
        for entry in _dicts(payload.get("entry")):
            for change in _dicts(entry.get("changes")):
                value = change.get("value")
                if change.get("field") != "messages" or not isinstance(value, dict):
                    continue
                for item in _dicts(value.get("statuses")):
                    events.extend(_status(item))
                for message in _dicts(value.get("messages")):
                    sender = message.get("from")
                    events.append(
                        CallbackEvent(
                            CallbackKind.INBOUND,
                            provider_message_id=message.get("id"),
                            from_address=e164_of(str(sender)) if sender else None,
                            to_address=_display_number(value),
                            text=_text(message),
                            at=_at(message.get("timestamp")),
                            detail=str(message.get("type") or ""),
                            raw=message,
                        )
                    )
        return events


def _status(item: dict[str, Any]) -> list[CallbackEvent]:
    state = str(item.get("status") or "")
    status = STATUSES.get(state)
    if status is None:
        return []
    errors = list(_dicts(item.get("errors")))
    detail = state
    if errors:
        code = errors[0].get("code")
        detail = f"{state} {code} {short(str(errors[0].get('title') or ''), 200)}".strip()
        if status == MessageStatus.FAILED and code in RECIPIENT_CODES:
            status = MessageStatus.BOUNCED
    recipient = item.get("recipient_id")
    return [
        CallbackEvent(
            CallbackKind.STATUS,
            provider_message_id=item.get("id"),
            message_id=message_of(item.get("biz_opaque_callback_data")),
            status=status,
            to_address=e164_of(str(recipient)) if recipient else None,
            at=_at(item.get("timestamp")),
            detail=detail,
            raw=item,
        )
    ]


def _display_number(value: dict[str, Any]) -> str | None:
    metadata = value.get("metadata")
    number = metadata.get("display_phone_number") if isinstance(metadata, dict) else None
    return e164_of(str(number)) if number else None


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


ADAPTER = WhatsAppCloudAdapter()
