"""Double opt-in: which of a form's consent checkboxes a submission ticked, the consent each gives
a new person, whether a confirmation link may still change a person's consent, and the
confirmation email's words (Persian or English). Pure: time is passed in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain.outreach.vocabulary import ChannelType, ConsentStatus

# How long a confirmation link stays good after the submission that asked for it.
LINK_LIFETIME = timedelta(days=30)
TICKED = frozenset({"on", "true", "yes", "1", "checked", "y"})


@dataclass(frozen=True, slots=True)
class Ticked:
    channel: ChannelType
    text: str


def ticked(fields: Mapping[str, Any], checkboxes: Iterable[Mapping[str, Any]]) -> list[Ticked]:
    """The form's consent checkboxes this submission ticked: a checkbox's field present with a
    value a browser or a form builder sends for a ticked box (`on`, `true`, `yes`, `1`; a JSON
    `true` or `1`). An unticked box is absent, empty, `false`, `0` or `off`."""
    found = []
    for box in checkboxes:
        value = fields.get(box["field"])
        if isinstance(value, list) and len(value) == 1:  # `name=on` sent as a one-item list
            value = value[0]
        one = isinstance(value, int) and not isinstance(value, bool) and value == 1
        word = isinstance(value, str) and value.strip().casefold() in TICKED
        if value is True or one or word:
            found.append(Ticked(ChannelType(box["channel"]), str(box["text"])))
    return found


def new_person_status(channel: ChannelType, double_opt_in: bool) -> ConsentStatus:
    """What a ticked box gives someone new: email waits for the confirmation link when the
    workspace asks for double opt-in; SMS and WhatsApp (the number was typed by the person, and
    every message carries the opt-out keywords) are opted in."""
    if channel is ChannelType.EMAIL and double_opt_in:
        return ConsentStatus.PENDING_CONFIRMATION
    return ConsentStatus.OPTED_IN


def asks_confirmation(status: ConsentStatus) -> bool:
    """Whether a known person's email consent is unsettled, so that ticking the box again sends
    them a confirmation email (an opt-in stays; an opt-out is never undone by a public post)."""
    return status in (ConsentStatus.UNKNOWN, ConsentStatus.PENDING_CONFIRMATION)


def may_confirm(
    *,
    status: ConsentStatus,
    status_since: datetime | None,
    submitted_at: datetime,
    now: datetime,
) -> bool:
    """Whether a confirmation link (for a submission made at `submitted_at`) may now set the
    consent `opted_in`: within its lifetime, and not over an opt-out the person made after that
    submission (an older opt-out is what a fresh, confirmed sign-up replaces)."""
    if now - submitted_at > LINK_LIFETIME:
        return False
    opted_out_since = status is ConsentStatus.OPTED_OUT and status_since is not None and status_since >= submitted_at
    return not opted_out_since


@dataclass(frozen=True, slots=True)
class ConfirmationEmail:
    subject: str
    body_text: str
    body_html: str


def confirmation_email(url: str, locale: str) -> ConfirmationEmail:
    """The confirmation email: a template (for the workspace's name) with the link written in.
    `url` is ours and carries no template syntax; the workspace's name is a variable."""
    if locale == "fa":
        subject = "تأیید اشتراک در خبرنامه {{ workspace.name }}"
        text = (
            "سلام{% if person.first_name %} {{ person.first_name }}{% endif %}،\n\n"
            "برای دریافت پیام‌های {{ workspace.name }}، اشتراک خود را با باز کردن این پیوند تأیید کنید:\n"
            f"{url}\n\n"
            "اگر شما درخواست نداده‌اید، این ایمیل را نادیده بگیرید؛ بدون تأیید پیامی برایتان ارسال نمی‌شود.\n"
        )
        html = (
            "<p>سلام{% if person.first_name %} {{ person.first_name }}{% endif %}،</p>"
            "<p>برای دریافت پیام‌های {{ workspace.name }}، اشتراک خود را تأیید کنید:</p>"
            f'<p><a href="{url}">تأیید اشتراک</a></p>'
            "<p>اگر شما درخواست نداده‌اید، این ایمیل را نادیده بگیرید؛ بدون تأیید پیامی برایتان ارسال نمی‌شود.</p>"
        )
    else:
        subject = "Please confirm your subscription to {{ workspace.name }}"
        text = (
            "Hello{% if person.first_name %} {{ person.first_name }}{% endif %},\n\n"
            "To receive messages from {{ workspace.name }}, confirm your subscription by opening this link:\n"
            f"{url}\n\n"
            "If you did not ask for this, ignore this email: nothing is sent to you without your confirmation.\n"
        )
        html = (
            "<p>Hello{% if person.first_name %} {{ person.first_name }}{% endif %},</p>"
            "<p>To receive messages from {{ workspace.name }}, confirm your subscription:</p>"
            f'<p><a href="{url}">Confirm my subscription</a></p>'
            "<p>If you did not ask for this, ignore this email: nothing is sent to you without your "
            "confirmation.</p>"
        )
    return ConfirmationEmail(subject, text, html)
