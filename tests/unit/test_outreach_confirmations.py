"""Which consent boxes a submission ticked, what they give, and when a confirmation link may still act."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.outreach.confirmations import (
    LINK_LIFETIME,
    asks_confirmation,
    confirmation_email,
    may_confirm,
    new_person_status,
    ticked,
)
from app.domain.outreach.vocabulary import ChannelType, ConsentStatus

BOXES = [
    {"field": "news", "channel": "email", "text": "News by email"},
    {"field": "sms", "channel": "sms", "text": "T"},
]
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_ticked_boxes_are_what_browsers_and_form_builders_send_for_a_ticked_box() -> None:
    for value in ("on", "ON", " true ", "yes", "1", "checked", True, 1, ["on"]):
        assert [t.channel for t in ticked({"news": value}, BOXES)] == [ChannelType.EMAIL], value
    for value in ("", "off", "0", "false", "no", False, 0, None, ["on", "off"], "maybe", 2):
        assert ticked({"news": value}, BOXES) == [], value
    both = ticked({"news": "on", "sms": "on", "other": "on"}, BOXES)
    assert [(t.channel, t.text) for t in both] == [(ChannelType.EMAIL, "News by email"), (ChannelType.SMS, "T")]


def test_only_email_waits_for_confirmation_and_only_when_asked() -> None:
    assert new_person_status(ChannelType.EMAIL, True) is ConsentStatus.PENDING_CONFIRMATION
    assert new_person_status(ChannelType.EMAIL, False) is ConsentStatus.OPTED_IN
    assert new_person_status(ChannelType.SMS, True) is ConsentStatus.OPTED_IN
    assert asks_confirmation(ConsentStatus.UNKNOWN) and asks_confirmation(ConsentStatus.PENDING_CONFIRMATION)
    assert not asks_confirmation(ConsentStatus.OPTED_IN) and not asks_confirmation(ConsentStatus.OPTED_OUT)


def test_a_link_expires_and_never_overrides_a_later_opt_out() -> None:
    submitted = NOW - timedelta(days=1)
    pending = ConsentStatus.PENDING_CONFIRMATION
    assert may_confirm(status=pending, status_since=submitted, submitted_at=submitted, now=NOW)
    old = NOW - LINK_LIFETIME - timedelta(seconds=1)
    assert not may_confirm(status=ConsentStatus.PENDING_CONFIRMATION, status_since=old, submitted_at=old, now=NOW)
    later = submitted + timedelta(hours=1)
    assert not may_confirm(status=ConsentStatus.OPTED_OUT, status_since=later, submitted_at=submitted, now=NOW)
    earlier = submitted - timedelta(days=90)  # an old opt-out: a fresh confirmed sign-up replaces it
    assert may_confirm(status=ConsentStatus.OPTED_OUT, status_since=earlier, submitted_at=submitted, now=NOW)


def test_the_confirmation_email_carries_the_link_in_the_workspaces_language() -> None:
    url = "https://crm.example/confirm/abc.def"
    fa, en = confirmation_email(url, "fa"), confirmation_email(url, "en")
    assert url in fa.body_text and f'href="{url}"' in fa.body_html and "تأیید" in fa.subject
    assert url in en.body_text and "confirm" in en.subject.lower()
