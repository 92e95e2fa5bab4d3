"""Complaints (ARF, RFC 5965) and bounces mailed back (DSN, RFC 3464), from the RFCs' own examples
(tests/data/mail_reports/NOTES.md)."""

from __future__ import annotations

from pathlib import Path

from app.domain.outreach import mail_reports
from app.domain.outreach.delivery import CallbackKind
from app.domain.outreach.vocabulary import MessageStatus

DATA = Path(__file__).parent.parent / "data" / "mail_reports"
MESSAGE_ID = "<01a2b3c4.5d6e@shop.example>"


def fixture(name: str, **values: str) -> bytes:
    return (DATA / name).read_text().format(message_id=MESSAGE_ID, **values).replace("\n", "\r\n").encode()


def test_an_abuse_report_is_a_complaint_about_the_original_message() -> None:
    [event] = mail_reports.parse(fixture("arf_abuse.eml", recipient="sara@example.com"))
    assert event.kind is CallbackKind.COMPLAINT
    assert (event.provider_message_id, event.from_address) == (MESSAGE_ID, "sara@example.com")
    report = fixture("arf_abuse.eml", recipient="sara@example.com")
    not_spam = report.replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    assert mail_reports.parse(not_spam) == []


def test_a_mailbox_refused_after_acceptance_bounces_and_anything_else_given_up_fails() -> None:
    [bounce] = mail_reports.parse(fixture("dsn_failed.eml", status="5.1.1", diagnostic="550 5.1.1 User unknown"))
    assert (bounce.kind, bounce.status) == (CallbackKind.STATUS, MessageStatus.BOUNCED)
    assert bounce.provider_message_id == MESSAGE_ID
    assert "5.1.1" in bounce.detail and "User unknown" in bounce.detail
    [disabled] = mail_reports.parse(fixture("dsn_failed.eml", status="5.2.1", diagnostic="550 Mailbox disabled"))
    assert disabled.status is MessageStatus.BOUNCED
    [full] = mail_reports.parse(fixture("dsn_failed.eml", status="5.2.2", diagnostic="552 Mailbox full"))
    assert full.status is MessageStatus.FAILED  # full for now: the address stays
    # The RFC's own example: given up after five days of timeouts: the message failed, the address is fine.
    [timeout] = mail_reports.parse(fixture("dsn_failed.eml", status="4.0.0", diagnostic="426 connection timed out"))
    assert timeout.status is MessageStatus.FAILED
    [spam] = mail_reports.parse(fixture("dsn_failed.eml", status="5.7.1", diagnostic="554 5.7.1 Rejected as spam"))
    assert spam.status is MessageStatus.FAILED


def test_warnings_and_mail_that_is_no_report_say_nothing() -> None:
    assert mail_reports.parse(fixture("dsn_delayed.eml", status="4.4.7", diagnostic="421 try later")) == []
    assert mail_reports.parse(b"From: a@b.example\r\nSubject: hello\r\n\r\nJust mail\r\n") == []
    assert mail_reports.parse(b"\x00\xff not mail at all") == []
    no_original = fixture("dsn_failed.eml", status="5.1.1", diagnostic="x").replace(b"Message-ID: ", b"X-Nothing: ")
    assert mail_reports.parse(no_original) == []
