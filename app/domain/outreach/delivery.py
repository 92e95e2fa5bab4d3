"""What passes between a message and a provider adapter: the message going out, what the
provider answered (and whether it provably never took it), what a lookup of a send whose answer
was lost found, and what a provider's callback says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from app.domain.outreach.vocabulary import ChannelType, MessageStatus, Provider


class Outcome(StrEnum):
    SENT = "sent"  # the provider took it (accepted for delivery)
    RETRY = "retry"  # provably never handed off: connection refused, TLS failure, SMTP 4xx, a documented "not accepted"
    UNKNOWN = "unknown"  # perhaps handed off (a timeout or lost connection after sending): never resent blindly
    BOUNCED = "bounced"  # the recipient was refused for good (SMTP 5xx at RCPT or DATA, an invalid number)
    FAILED = "failed"  # refused for good for another reason (bad credentials, a template not approved)


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str | None = None
    detail: str = ""  # the provider's answer, short (code and text): shown on the message


class Trace(StrEnum):
    """What a provider's lookup of a send whose answer was lost says (a provider that offers one)."""

    FOUND = "found"  # the provider has the message: it went
    NOT_FOUND = "not_found"  # the provider says it never got it: it may be sent again
    INCONCLUSIVE = "inconclusive"  # the lookup failed or said nothing certain: still unknown


@dataclass(frozen=True, slots=True)
class LookupResult:
    trace: Trace
    provider_message_id: str | None = None  # FOUND: the provider's id for it
    status: MessageStatus | None = None  # FOUND: delivered or failed when the provider says so already
    detail: str = ""  # the provider's answer, short


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """A channel as an adapter needs it: its settings and opened secrets, and the callback URL the
    provider is told (or configured with)."""

    id: UUID
    workspace_id: UUID
    type: ChannelType
    provider: Provider
    settings: Mapping[str, Any]
    secrets: Mapping[str, str]
    callback_url: str
    secrets_readable: bool = True  # False: sealed under a key this installation lacks (sends nothing)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for one recipient, rendered.

    Email: `mime` is the whole message (headers included), sent from `envelope_from` to `to`.
    SMS: `body_text`. WhatsApp: `whatsapp_template` ({"name", "language", "parameters": [text, ...]})
    when the message is a template message, else `body_text` as a text message."""

    message_id: UUID
    channel: ChannelType
    to: str
    body_text: str = ""
    mime: bytes | None = None
    envelope_from: str | None = None
    whatsapp_template: Mapping[str, Any] | None = None


class CallbackKind(StrEnum):
    STATUS = "status"  # a delivery report about a message the service sent
    INBOUND = "inbound"  # a person wrote back
    COMPLAINT = "complaint"  # a person marked a message as spam


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    kind: CallbackKind
    provider_message_id: str | None = None
    message_id: UUID | None = None  # STATUS: our own id, when the provider echoes it back
    status: MessageStatus | None = None  # STATUS: delivered, failed, bounced, sent
    from_address: str | None = None  # INBOUND: the sender's E.164 phone
    to_address: str | None = None
    text: str | None = None  # INBOUND: what they wrote
    at: datetime | None = None
    detail: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)  # the provider's fields, for the status history


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A provider's request to `/v1/channel-callbacks/{channel_id}/{token}` as received: `url` is the
    public URL the provider called (PUBLIC_BASE_URL + path + query), which some providers sign."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
