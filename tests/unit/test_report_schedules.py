"""When scheduled digests fall (daily or weekly, at a local time of the workspace, across clock
changes), what each occurrence covers, and the email a digest becomes: Persian and right to left
for `fa`, its chart a related part the HTML references by `cid:`."""

from __future__ import annotations

import base64
import email
from datetime import UTC, date, datetime, time
from email.message import EmailMessage
from email.policy import default

import pytest

from app.domain.events import events
from app.domain.outreach.messages import EmailParts, build_email, inline_images
from app.domain.reports import schedules as rules
from app.domain.reports.digests import compose

WEEKLY_SATURDAY_8 = rules.Cadence("weekly", time(8), 5)
DAILY_7_15 = rules.Cadence("daily", time(7, 15))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_a_weekly_occurrence_is_the_weekday_at_the_local_time() -> None:
    wednesday = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
    # Saturday 08:00 in Tehran (+03:30) is 04:30 UTC.
    assert rules.next_after(WEEKLY_SATURDAY_8, "Asia/Tehran", wednesday) == datetime(2026, 12, 12, 4, 30, tzinfo=UTC)
    assert rules.latest_at_or_before(WEEKLY_SATURDAY_8, "Asia/Tehran", wednesday) == datetime(
        2026, 12, 5, 4, 30, tzinfo=UTC
    )
    at = datetime(2026, 12, 12, 4, 30, tzinfo=UTC)  # the occurrence itself
    assert rules.latest_at_or_before(WEEKLY_SATURDAY_8, "Asia/Tehran", at) == at
    assert rules.next_after(WEEKLY_SATURDAY_8, "Asia/Tehran", at) == datetime(2026, 12, 19, 4, 30, tzinfo=UTC)


def test_a_daily_occurrence_late_in_utc_is_the_next_local_day() -> None:
    # 22:00 UTC is already tomorrow 01:30 in Tehran: today's 07:15 Tehran has passed.
    late = datetime(2026, 12, 9, 22, 0, tzinfo=UTC)
    assert rules.next_after(DAILY_7_15, "Asia/Tehran", late) == datetime(2026, 12, 10, 3, 45, tzinfo=UTC)
    assert rules.latest_at_or_before(DAILY_7_15, "Asia/Tehran", late) == datetime(2026, 12, 9, 3, 45, tzinfo=UTC)


def test_clock_changes_a_skipped_time_is_the_jump_and_a_repeated_one_its_first_reading() -> None:
    spring = rules.Cadence("daily", time(2, 30))
    # New York skips 02:00-03:00 on 2026-03-08: the occurrence is the jump, 03:00 EDT (07:00 UTC).
    assert rules.instant(date(2026, 3, 8), time(2, 30), "America/New_York") == datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert rules.next_after(spring, "America/New_York", datetime(2026, 3, 8, 5, tzinfo=UTC)) == datetime(
        2026, 3, 8, 7, tzinfo=UTC
    )
    # 01:30 happens twice on 2026-11-01: the first (EDT, 05:30 UTC).
    assert rules.instant(date(2026, 11, 1), time(1, 30), "America/New_York") == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_an_occurrence_covers_the_days_before_it_and_is_named_by_its_local_date_and_time() -> None:
    at = datetime(2026, 12, 12, 4, 30, tzinfo=UTC)
    day = rules.local_day(at, "Asia/Tehran")
    assert rules.name(at, WEEKLY_SATURDAY_8, "Asia/Tehran") == "2026-12-12T08:00"
    assert rules.window(WEEKLY_SATURDAY_8, day) == (date(2026, 12, 5), date(2026, 12, 11))
    assert rules.window(DAILY_7_15, day) == (date(2026, 12, 11), date(2026, 12, 11))
    with pytest.raises(ValueError):
        rules.Cadence("weekly", time(8))


def _parsed(raw: bytes) -> EmailMessage:
    parsed: EmailMessage = email.message_from_bytes(raw, policy=default)  # type: ignore[assignment]
    return parsed


def test_a_persian_digest_is_right_to_left_and_its_chart_a_related_part() -> None:
    content = compose(name="گزارش هفتگی", title="قیف فروش", workspace="فروشگاه", first="۱ دی", last="۷ دی",
                      lines=[("سرنخ", "۳")], chart=PNG, locale="fa")  # fmt: skip
    assert 'dir="rtl"' in content.body_html and 'lang="fa"' in content.body_html
    assert "۱ دی تا ۷ دی" in content.subject and "سرنخ: ۳" in content.body_text
    parts = EmailParts("crm@shop.example", None, "boss@shop.example", content.subject, content.body_text,
                       content.body_html)  # fmt: skip
    raw, _ = build_email(parts, now=datetime(2026, 12, 12, tzinfo=UTC))
    message = _parsed(raw)
    types = [part.get_content_type() for part in message.walk()]
    assert types == ["multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    assert image.get_content() == PNG and image["Content-Disposition"].startswith("inline")
    cid = image["Content-ID"].strip("<>")
    assert cid.endswith("@shop.example")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f'src="cid:{cid}"' in html and "data:" not in html
    english = compose(name="Weekly", title="Funnel", workspace="Acme", first="1 Dec", last="7 Dec",
                      lines=[("Leads", "3")], chart=None, locale="en")  # fmt: skip
    assert "rtl" not in english.body_html and "<img" not in english.body_html and "1 Dec to 7 Dec" in english.subject


def test_inline_images_are_attached_once_with_a_stable_content_id_and_bad_data_is_left_alone() -> None:
    data = base64.b64encode(PNG).decode()
    html = f'<p><img src="data:image/png;base64,{data}"><img alt="x" src=\'data:image/png;base64,{data}\'></p>'
    swapped, images = inline_images(html + '<img src="data:image/png;base64,@@not-base64@@">', "a.example")
    assert len(images) == 1 and images[0].data == PNG and images[0].subtype == "png"
    assert swapped.count(f"cid:{images[0].cid}") == 2 and "@@not-base64@@" in swapped
    again, _ = inline_images(html, "a.example")
    assert again == swapped.replace('<img src="data:image/png;base64,@@not-base64@@">', "")
    plain, none = inline_images('<img src="https://cdn.example/a.png">', "a.example")
    assert none == [] and plain == '<img src="https://cdn.example/a.png">'


def test_report_delivered_is_read_with_reports_read() -> None:
    assert events.required_scopes(events.REPORT_DELIVERED) == ("reports:read",)
    assert events.may_read({"reports:write"}, "report.delivered")
    assert not events.may_read({"events:read", "leads:read"}, "report.delivered")
