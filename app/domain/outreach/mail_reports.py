"""Reports about sent email that come back as email: complaints from a mailbox provider's feedback
loop (ARF, RFC 5965) and bounces mailed back after the SMTP server had accepted the message
(delivery status notifications, RFC 3464). Both are `multipart/report` messages whose last part is
the original message (or its headers), so the original `Message-ID` names the message reported.

A workspace forwards them to its email channel's callback URL as the raw message
(`Content-Type: message/rfc822`): a mailbox rule, a mail server's pipe, or an inbound-mail webhook.
Only reports about a message the channel sent change anything (matched by Message-ID)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr

from app.domain.outreach.delivery import CallbackEvent, CallbackKind
from app.domain.outreach.vocabulary import MessageStatus


def _original_message_id(report: Message) -> str | None:
    """The Message-ID of the original message a report carries (its last part: the message itself,
    `message/rfc822`, or its headers, `text/rfc822-headers`)."""
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return str(inner["Message-ID"]).strip()
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())
            value = HeaderParser().parsestr(text).get("Message-ID")
            if value:
                return str(value).strip()
    return None


def _blocks(part: Message) -> list[Message]:
    """The field blocks of a `message/delivery-status` or `message/feedback-report` part (the
    standard library parses the former into blocks; the latter is taken as one block of text)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    return [HeaderParser().parsestr(chunk) for chunk in text.replace("\r\n", "\n").split("\n\n") if chunk.strip()]


def _bounce_status(status: str) -> MessageStatus:
    """A bad address (`5.1.x`) or a disabled mailbox (`5.2.1`) bounces; any other failure (a full
    mailbox, a message too large, policy, content, a network that kept failing: `4.x.x` given up)
    fails the message only."""
    return MessageStatus.BOUNCED if status.startswith("5.1.") or status == "5.2.1" else MessageStatus.FAILED


def parse(raw: bytes) -> list[CallbackEvent]:
    """What a forwarded report says: a complaint, a delivery given up (bounced or failed), or
    nothing (a delay, a success notice, anything that is not a report about a message)."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if message.get_content_type() != "multipart/report":
        return []
    report_type = str(message.get_param("report-type") or "").lower()
    original = _original_message_id(message)
    if original is None:
        return []
    if report_type == "feedback-report":
        feedback = next((p for p in message.walk() if p.get_content_type() == "message/feedback-report"), None)
        fields = _blocks(feedback)[0] if feedback is not None and _blocks(feedback) else Message()
        kind = str(fields.get("Feedback-Type", "abuse")).strip().lower()
        if kind not in ("abuse", "fraud", "virus"):
            return []  # not-spam, opt-out lists and the like are not complaints
        recipient = parseaddr(str(fields.get("Original-Rcpt-To", "")))[1].strip()
        return [
            CallbackEvent(
                CallbackKind.COMPLAINT,
                provider_message_id=original,
                from_address=recipient if "@" in recipient else None,
                detail=f"feedback report: {kind}",
                raw={"feedback_type": kind},
            )
        ]
    if report_type == "delivery-status":
        status_part = next((p for p in message.walk() if p.get_content_type() == "message/delivery-status"), None)
        if status_part is None:
            return []
        for block in _blocks(status_part):
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip().split(" ", 1)[0]
            if action == "failed":  # given up for good (also after days of temporary failures)
                diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
                return [
                    CallbackEvent(
                        CallbackKind.STATUS,
                        provider_message_id=original,
                        status=_bounce_status(status),
                        detail=f"mailed back: {status} {diagnostic}".strip()[:300],
                        raw={"action": action, "status": status},
                    )
                ]
        return []
    return []
