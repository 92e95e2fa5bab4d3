"""The words outreach speaks in, shared by channels, consent, templates and messages: channel types
and providers, purposes, consent and message statuses, block reasons, and the normalised address
a person is reached at (what suppressions and the frequency cap count by)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from uuid import UUID


class ChannelType(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Provider(StrEnum):
    SMTP = "smtp"
    KAVENEGAR = "kavenegar"
    TWILIO = "twilio"
    WHATSAPP_CLOUD = "whatsapp_cloud"


PROVIDERS: dict[ChannelType, frozenset[Provider]] = {
    ChannelType.EMAIL: frozenset({Provider.SMTP}),
    ChannelType.SMS: frozenset({Provider.KAVENEGAR, Provider.TWILIO}),
    ChannelType.WHATSAPP: frozenset({Provider.WHATSAPP_CLOUD}),
}


class Purpose(StrEnum):
    MARKETING = "marketing"  # needs a basis (consent), respects quiet hours and the frequency cap
    TRANSACTIONAL = "transactional"  # a receipt, a booked meeting: only suppressions stop it


class ConsentStatus(StrEnum):
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    PENDING_CONFIRMATION = "pending_confirmation"
    UNKNOWN = "unknown"


class ConsentSource(StrEnum):
    FORM = "form"
    IMPORT = "import"
    API = "api"
    UNSUBSCRIBE = "unsubscribe"
    REPLY_KEYWORD = "reply_keyword"
    PROVIDER = "provider"
    CONFIRMATION = "confirmation"
    # A new person at an address an erasure suppressed starts opted out (set by the service only).
    ERASURE = "erasure"


class SuppressionReason(StrEnum):
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    MANUAL = "manual"
    ERASED = "erased"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"  # handed off (or perhaps), then the answer was lost: never resent blindly


class BlockReason(StrEnum):
    NO_CONSENT = "no_consent"
    OPTED_OUT = "opted_out"
    SUPPRESSED = "suppressed"
    INVALID_ADDRESS = "invalid_address"
    FREQUENCY_CAP = "frequency_cap"
    CHANNEL_MISSING = "channel_missing"


@dataclass(frozen=True, slots=True)
class PersonRef:
    """A lead or a contact: whom a consent, a message or an engagement belongs to."""

    kind: Literal["lead", "contact"]
    id: UUID

    @property
    def column(self) -> str:
        """Its column in the outreach tables: `lead_id` or `contact_id`."""
        return f"{self.kind}_id"


def address_key(channel: ChannelType | str, address: str) -> str:
    """The normalised address: an email lower-cased and stripped, a phone as given (callers pass
    E.164, which phonenumbers made). SMS and WhatsApp share a phone's key."""
    cleaned = address.strip()
    return cleaned.lower() if channel == ChannelType.EMAIL else cleaned
