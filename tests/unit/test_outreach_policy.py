"""The messaging policy's pure rules: quiet hours in the recipient's zone (midnight, the window's
edges, days the clock skips or repeats), opt-out keywords, and merging consents."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.domain.outreach.policy import MessagingPolicy, QuietHours, is_opt_out_keyword, merge_consent, quiet_until
from app.domain.outreach.vocabulary import ConsentStatus

NIGHT = QuietHours(time(21, 0), time(9, 0))
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TEHRAN = ZoneInfo("Asia/Tehran")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_defaults() -> None:
    policy = MessagingPolicy()
    assert policy.marketing_requires_opt_in and policy.tracking and policy.double_opt_in
    assert policy.quiet_hours == NIGHT and policy.marketing_per_7_days == 3
    assert policy.frequency_cap_action == "wait" and policy.opt_out_keywords == ()


def test_outside_the_window_is_not_quiet() -> None:
    assert quiet_until(utc(2026, 6, 10, 12, 0), BERLIN, NIGHT) is None  # 14:00 CEST
    assert quiet_until(utc(2026, 6, 10, 18, 59), BERLIN, NIGHT) is None  # 20:59 CEST


def test_a_window_across_midnight_ends_the_next_morning() -> None:
    # 22:30 CEST -> 09:00 CEST the next day = 07:00 UTC
    assert quiet_until(utc(2026, 6, 10, 20, 30), BERLIN, NIGHT) == utc(2026, 6, 11, 7, 0)
    # 00:30 CEST (22:30 UTC the day before) -> 09:00 CEST the same local day
    assert quiet_until(utc(2026, 6, 10, 22, 30), BERLIN, NIGHT) == utc(2026, 6, 11, 7, 0)
    # 23:59 and 00:00 local
    assert quiet_until(utc(2026, 6, 10, 21, 59), BERLIN, NIGHT) == utc(2026, 6, 11, 7, 0)
    assert quiet_until(utc(2026, 6, 10, 22, 0), BERLIN, NIGHT) == utc(2026, 6, 11, 7, 0)


def test_the_start_is_quiet_and_the_end_is_not() -> None:
    assert quiet_until(utc(2026, 6, 10, 19, 0), BERLIN, NIGHT) == utc(2026, 6, 11, 7, 0)  # 21:00 sharp
    assert quiet_until(utc(2026, 6, 11, 7, 0), BERLIN, NIGHT) is None  # 09:00 sharp
    assert quiet_until(utc(2026, 6, 11, 6, 59, 59), BERLIN, NIGHT) == utc(2026, 6, 11, 7, 0)


def test_a_window_within_one_day_and_an_empty_window() -> None:
    lunch = QuietHours(time(12, 0), time(13, 30))
    assert quiet_until(utc(2026, 1, 5, 11, 15), BERLIN, lunch) == utc(2026, 1, 5, 12, 30)  # 12:15 CET
    assert quiet_until(utc(2026, 1, 5, 12, 30), BERLIN, lunch) is None
    assert quiet_until(utc(2026, 1, 5, 11, 0), BERLIN, QuietHours(time(12, 0), time(12, 0))) is None


def test_the_end_is_exact_to_the_minute() -> None:
    quiet = QuietHours(time(22, 15), time(7, 45))
    assert quiet_until(utc(2026, 1, 5, 23, 0, 17), BERLIN, quiet) == utc(2026, 1, 6, 6, 45)


def test_a_night_across_the_spring_change_ends_at_the_new_offset() -> None:
    # Berlin 2026-03-29: 02:00 CET -> 03:00 CEST. 09:00 CEST = 07:00 UTC (the night before it was 08:00 UTC).
    assert quiet_until(utc(2026, 3, 28, 22, 0), BERLIN, NIGHT) == utc(2026, 3, 29, 7, 0)
    assert quiet_until(utc(2026, 3, 27, 22, 0), BERLIN, NIGHT) == utc(2026, 3, 28, 8, 0)
    # New York 2026-03-08: 02:00 EST -> 03:00 EDT
    assert quiet_until(utc(2026, 3, 8, 3, 0), NEW_YORK, NIGHT) == utc(2026, 3, 8, 13, 0)


def test_a_night_across_the_autumn_change_ends_at_the_new_offset() -> None:
    # Berlin 2026-10-25: 03:00 CEST -> 02:00 CET; 09:00 CET = 08:00 UTC
    assert quiet_until(utc(2026, 10, 24, 20, 0), BERLIN, NIGHT) == utc(2026, 10, 25, 8, 0)
    # New York 2026-11-01: 02:00 EDT -> 01:00 EST; 09:00 EST = 14:00 UTC
    assert quiet_until(utc(2026, 11, 1, 2, 0), NEW_YORK, NIGHT) == utc(2026, 11, 1, 14, 0)


def test_an_end_the_clock_skips_is_the_moment_of_the_jump() -> None:
    # 02:30 never happens in New York on 2026-03-08: the window ends at 03:00 EDT = 07:00 UTC.
    quiet = QuietHours(time(22, 0), time(2, 30))
    assert quiet_until(utc(2026, 3, 8, 4, 0), NEW_YORK, quiet) == utc(2026, 3, 8, 7, 0)  # 23:00 EST
    assert quiet_until(utc(2026, 3, 8, 6, 59), NEW_YORK, quiet) == utc(2026, 3, 8, 7, 0)  # 01:59 EST
    assert quiet_until(utc(2026, 3, 8, 7, 0), NEW_YORK, quiet) is None  # 03:00 EDT


def test_an_end_the_clock_reads_twice_is_its_first_reading_still_ahead() -> None:
    # 01:30 happens twice in New York on 2026-11-01: first 05:30 UTC (EDT), again 06:30 UTC (EST).
    quiet = QuietHours(time(22, 0), time(1, 30))
    assert quiet_until(utc(2026, 11, 1, 3, 0), NEW_YORK, quiet) == utc(2026, 11, 1, 5, 30)  # 23:00 EDT
    # 01:10 EST, after the first 01:30 passed: the window ends at the second reading.
    assert quiet_until(utc(2026, 11, 1, 6, 10), NEW_YORK, quiet) == utc(2026, 11, 1, 6, 30)
    # 01:40 EDT (the first pass): outside the window.
    assert quiet_until(utc(2026, 11, 1, 5, 40), NEW_YORK, quiet) is None


def test_tehran_half_hour_offset_and_its_former_daylight_time() -> None:
    # Today +03:30 all year: 22:00 local = 18:30 UTC, 09:00 local = 05:30 UTC.
    assert quiet_until(utc(2026, 6, 10, 18, 30), TEHRAN, NIGHT) == utc(2026, 6, 11, 5, 30)
    assert quiet_until(utc(2026, 6, 11, 5, 30), TEHRAN, NIGHT) is None
    # 2021-03-22 00:00 +0330 -> 01:00 +0430: a window ending 00:30 ends at the jump (19:30 UTC).
    quiet = QuietHours(time(21, 0), time(0, 30))
    assert quiet_until(utc(2021, 3, 21, 18, 0), TEHRAN, quiet) == utc(2021, 3, 21, 20, 30)
    # The usual night that spring: 09:00 +0430 = 04:30 UTC.
    assert quiet_until(utc(2021, 3, 21, 18, 0), TEHRAN, NIGHT) == utc(2021, 3, 22, 4, 30)


def test_now_must_carry_an_offset() -> None:
    with pytest.raises(ValueError):
        quiet_until(datetime(2026, 1, 1, 22, 0), BERLIN, NIGHT)


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", " Stop ", "STOP.", "stop!", "STOPALL", "unsubscribe", "Cancel", "END", "quit", "OptOut",
     "REVOKE", "stop all", "لغو", " لغو ", "لغو.", "«لغو»", "ل\u200cغو", "لـغو", "لغو!"],
)  # fmt: skip
def test_standard_opt_out_keywords(text: str) -> None:
    assert is_opt_out_keyword(text, ())


@pytest.mark.parametrize(
    "text", ["", "  ", "please stop", "STOP it", "stopp", "start", "لغو کن", "END NOW", "UNSTOP", "help"]
)
def test_other_messages_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out_keyword(text, ())


def test_the_workspaces_own_keywords_with_persian_variants() -> None:
    extra = ["انصراف", "لغو عضویت", "Nein danke"]
    assert is_opt_out_keyword("انصراف", extra)
    assert is_opt_out_keyword("لغو عضويت", extra)  # Arabic yeh
    assert is_opt_out_keyword("لغو\u200cعضویت", extra)  # a joiner where the space was
    assert is_opt_out_keyword("لغو   عضویت", extra)
    assert is_opt_out_keyword("nein DANKE", extra)
    assert not is_opt_out_keyword("انصراف", ())
    assert is_opt_out_keyword("كنسل", ["کنسل"])  # Arabic kaf


def test_merge_consent_opt_out_wins() -> None:
    s = ConsentStatus
    assert merge_consent([s.OPTED_IN, s.OPTED_OUT]) is s.OPTED_OUT
    assert merge_consent([s.UNKNOWN, s.OPTED_OUT, s.PENDING_CONFIRMATION]) is s.OPTED_OUT
    assert merge_consent([s.PENDING_CONFIRMATION, s.OPTED_IN]) is s.OPTED_IN
    assert merge_consent(["unknown", "pending_confirmation"]) is s.PENDING_CONFIRMATION
    assert merge_consent([s.UNKNOWN]) is s.UNKNOWN
    assert merge_consent([]) is s.UNKNOWN
