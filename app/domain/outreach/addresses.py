"""An address as a person typed it, normalised to the key outreach counts by: an email as leads
key it (email-validator's normalisation, case folded: `email_key`), a phone in E.164 (parsed with
the workspace's region for national numbers). SMS and WhatsApp share a phone's key."""

from __future__ import annotations

from app.domain.leads.contact import parse_email, parse_phone
from app.domain.outreach.vocabulary import ChannelType


def normalise_address(channel: ChannelType | str, raw: str, default_region: str | None) -> str:
    """The address key; ValueError with a reason when it is no usable email or phone number."""
    if not raw or not raw.strip():
        raise ValueError("an address is required")
    if ChannelType(channel) == ChannelType.EMAIL:
        return parse_email(raw).key
    phone = parse_phone(raw, default_region)
    if phone.e164 is None:
        raise ValueError("not a phone number (give it in international form, e.g. +989121234567)")
    return phone.e164
