"""Messages in the domain: the basis a message needs, the frequency cap's next free slot, link
tracking and the email on the wire."""

from __future__ import annotations

import email
import gc
import re
from datetime import UTC, datetime, timedelta
from email.policy import SMTP, default
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.outreach import messages
from app.domain.outreach.messages import (
    EmailParts,
    advances,
    block_reason,
    build_email,
    first_free_slot,
    track_links,
    with_open_pixel,
)
from app.domain.outreach.vocabulary import BlockReason, ConsentStatus, MessageStatus, Purpose

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _block(**overrides: object) -> BlockReason | None:
    values: dict[str, object] = {
        "purpose": Purpose.MARKETING,
        "consent": ConsentStatus.OPTED_IN,
        "marketing_requires_opt_in": True,
        "suppressed": False,
        "address_valid": True,
        "channel_present": True,
    }
    values.update(overrides)
    return block_reason(**values)  # type: ignore[arg-type]


def test_marketing_needs_an_opt_in_and_transactional_only_an_unsuppressed_address() -> None:
    assert _block() is None
    assert _block(consent=ConsentStatus.UNKNOWN) is BlockReason.NO_CONSENT
    assert _block(consent=ConsentStatus.PENDING_CONFIRMATION) is BlockReason.NO_CONSENT
    assert _block(consent=ConsentStatus.UNKNOWN, marketing_requires_opt_in=False) is None
    assert _block(consent=ConsentStatus.OPTED_OUT, marketing_requires_opt_in=False) is BlockReason.OPTED_OUT
    transactional = {"purpose": Purpose.TRANSACTIONAL, "consent": ConsentStatus.OPTED_OUT}
    assert _block(**transactional) is None  # an unsubscribe never stops a receipt
    assert _block(**transactional, suppressed=True) is BlockReason.SUPPRESSED
    assert _block(channel_present=False, suppressed=True) is BlockReason.CHANNEL_MISSING
    assert _block(address_valid=False) is BlockReason.INVALID_ADDRESS


def test_reports_only_move_a_message_forward() -> None:
    assert advances(MessageStatus.SENT, MessageStatus.DELIVERED)
    assert not advances(MessageStatus.DELIVERED, MessageStatus.SENT)
    assert advances(MessageStatus.DELIVERED, MessageStatus.BOUNCED)  # a late bounce
    assert advances(MessageStatus.UNKNOWN, MessageStatus.DELIVERED)  # a report settles the unknown
    assert not advances(MessageStatus.BLOCKED, MessageStatus.DELIVERED)
    assert not advances(MessageStatus.SENT, MessageStatus.SENT)


def test_the_cap_waits_for_the_oldest_message_to_leave_the_window() -> None:
    sent = [T0 - 6 * DAY, T0 - 2 * DAY, T0 - DAY]
    assert first_free_slot(T0, sent, cap=4) == T0
    assert first_free_slot(T0, sent, cap=3) == T0 + DAY  # when the one of six days ago is 7 days old
    assert first_free_slot(T0, [], cap=1) == T0


def test_the_cap_counts_messages_already_due_later() -> None:
    due = [T0 + 2 * DAY, T0 + 3 * DAY]
    # one more now would make three within 7 days of each other
    assert first_free_slot(T0, due, cap=2) == T0 + 9 * DAY
    with pytest.raises(ValueError):
        first_free_slot(T0, [], cap=0)


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=-14 * 24, max_value=14 * 24), max_size=8),
    cap=st.integers(min_value=1, max_value=4),
)
def test_a_free_slot_never_overfills_a_window(offsets: list[int], cap: int) -> None:
    hours = timedelta(hours=1)
    existing = sorted(T0 + o * hours for o in offsets)
    # only histories that respect the cap themselves
    if any(sum(1 for t in existing if s <= t < s + 7 * DAY) > cap for s in existing):
        return
    slot = first_free_slot(T0, existing, cap)
    assert slot >= T0
    together = sorted([*existing, slot])
    assert all(sum(1 for t in together if s <= t < s + 7 * DAY) <= cap for s in together)
    # and no earlier candidate instant would have done
    for earlier in [T0, *(t + 7 * DAY for t in existing)]:
        if T0 <= earlier < slot:
            trial = sorted([*existing, earlier])
            assert any(sum(1 for t in trial if s <= t < s + 7 * DAY) > cap for s in trial)


def test_links_are_tracked_by_position_and_the_pixel_closes_the_body() -> None:
    html = '<html><body><a href="https://shop.example/a?x=1&amp;y=2">A</a> <a href="mailto:x@y.io">m</a> ' \
        "<a class='b' href='http://shop.example/b'>B</a></body></html>"  # fmt: skip
    tracked, links = track_links(html, lambda n: f"https://crm.example/t/c/tok{n}")
    assert links == ["https://shop.example/a?x=1&y=2", "http://shop.example/b"]
    assert 'href="https://crm.example/t/c/tok0"' in tracked and "href='https://crm.example/t/c/tok1'" in tracked
    assert 'href="mailto:x@y.io"' in tracked
    with_pixel = with_open_pixel(tracked, "https://crm.example/t/o/p")
    assert with_pixel.endswith('<img src="https://crm.example/t/o/p" width="1" height="1" alt="" '
                               'style="display:none"></body></html>')  # fmt: skip


def test_marketing_email_carries_one_click_unsubscribe_and_both_alternatives() -> None:
    parts = EmailParts(
        from_email="news@shop.example",
        from_name="فروشگاه",
        to="sara@example.com",
        subject="سلام سارا",
        body_text="متن فارسی ۱۲۳",
        body_html='<html lang="fa" dir="rtl"><body>سلام</body></html>',
        unsubscribe_url="https://crm.example/u/abc",
        unsubscribe_mailto="unsubscribe@shop.example",
    )
    raw, message_id = build_email(parts, now=T0)
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["Message-ID"] == message_id and message_id.endswith("@shop.example>")
    assert parsed["Subject"] == "سلام سارا"
    mailto = "<mailto:unsubscribe@shop.example?subject=unsubscribe>"
    assert parsed["List-Unsubscribe"] == f"<https://crm.example/u/abc>, {mailto}"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_body(("plain",)).get_content().strip() == "متن فارسی ۱۲۳"
    assert "سلام" in parsed.get_body(("html",)).get_content()
    transactional, _ = build_email(EmailParts("a@b.io", None, "c@d.io", "Receipt", "Thanks", None), now=T0)
    assert b"List-Unsubscribe" not in transactional


def test_an_email_makes_no_new_classes_and_reads_as_the_standard_policy_writes_it() -> None:
    """Each header's class is made once (the standard registry makes one per header, a reference
    cycle only the cyclic collector frees): the bytes are the SMTP policy's all the same."""
    parts = EmailParts("news@shop.example", "Shop, Inc.", "sara@example.com", "سلام سارا " * 12, "متن",
                       "<p>Hi</p>", reply_to="help@shop.example", unsubscribe_url="https://crm.example/u/abc",
                       unsubscribe_mailto="unsubscribe@shop.example")  # fmt: skip
    build_email(parts, now=T0)
    gc.collect()
    classes = sum(isinstance(o, type) for o in gc.get_objects())
    for _ in range(20):
        build_email(parts, now=T0, message_id="<m@shop.example>")
    gc.collect()
    assert sum(isinstance(o, type) for o in gc.get_objects()) == classes

    ours, _ = build_email(parts, now=T0, message_id="<m@shop.example>")
    with patch.object(messages, "WIRE_POLICY", SMTP):
        standard, _ = build_email(parts, now=T0, message_id="<m@shop.example>")
    boundary = re.compile(rb"={15}\d+==")
    assert boundary.sub(b"B", ours) == boundary.sub(b"B", standard)


def test_the_services_own_links_are_never_tracked() -> None:
    html = '<a href="https://crm.example/u/tok">Unsubscribe</a> <a href="https://shop.example/">Shop</a>'
    tracked, links = track_links(html, lambda n: f"https://crm.example/t/c/{n}",
                                 untracked=lambda url: url.startswith("https://crm.example"))  # fmt: skip
    assert links == ["https://shop.example/"]
    assert 'href="https://crm.example/u/tok"' in tracked and 'href="https://crm.example/t/c/0"' in tracked
