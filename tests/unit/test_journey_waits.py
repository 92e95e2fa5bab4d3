"""When a journey's wait falls due, pure: seconds, a local time on given weekdays in the person's
zone (days the clock skips or repeats that time, a zone that gave up DST), and business hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.journeys.waits import (
    MAX_SECONDS,
    InvalidWait,
    Until,
    Wait,
    due_at,
    event_wait_deadline,
    next_local_time,
    next_working_instant,
    parse_wait,
)
from app.domain.workspace.calendar import MONDAY_TO_FRIDAY, SATURDAY_TO_WEDNESDAY, BusinessHours

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TEHRAN = ZoneInfo("Asia/Tehran")
TEHRAN_OFFICE = BusinessHours("Asia/Tehran", SATURDAY_TO_WEDNESDAY, time(9), time(17), frozenset({date(2026, 12, 1)}))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: ZoneInfo, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=zone, fold=fold)  # type: ignore[misc]


def until(at: str, weekdays: list[int] | list[str] | None = None, **more: object) -> dict[str, object]:
    spec: dict[str, object] = {"time": at}
    if weekdays is not None:
        spec["weekdays"] = weekdays
    return {"until": spec, **more}


# -- seconds ---------------------------------------------------------------------------------------


def test_seconds_are_elapsed_time_after_now() -> None:
    now = utc(2026, 11, 26, 10, 0)
    assert due_at({"seconds": 3600}, now=now, zone=TEHRAN) == utc(2026, 11, 26, 11, 0)
    assert due_at({"seconds": 0}, now=now, zone=TEHRAN) == now
    assert due_at({"seconds": 1.5}, now=now, zone=TEHRAN) == now + timedelta(seconds=1.5)
    # A day of seconds across a DST change is 24 hours, not "the same time tomorrow".
    saturday = local(BERLIN, 2026, 3, 28, 12, 0)
    assert due_at({"seconds": 86400}, now=saturday, zone=BERLIN) == local(BERLIN, 2026, 3, 29, 13, 0)


def test_answers_are_in_utc_whatever_zone_now_was_given_in() -> None:
    due = due_at({"seconds": 60}, now=local(TEHRAN, 2026, 6, 1, 9, 0), zone=BERLIN)
    assert due.tzinfo is UTC and due == utc(2026, 6, 1, 5, 31)
    assert due_at(until("10:00"), now=local(NEW_YORK, 2026, 6, 1, 9, 0), zone=NEW_YORK).tzinfo is UTC


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_at({"seconds": 1}, now=datetime(2026, 6, 1, 9, 0), zone=BERLIN)
    with pytest.raises(ValueError, match="aware"):
        event_wait_deadline(60, datetime(2026, 6, 1, 9, 0))


# -- a local time on given weekdays -----------------------------------------------------------------


def test_the_time_today_if_still_ahead_else_tomorrow() -> None:
    assert due_at(until("09:00"), now=local(BERLIN, 2026, 6, 10, 8, 0), zone=BERLIN) == local(BERLIN, 2026, 6, 10, 9)
    assert due_at(until("09:00"), now=local(BERLIN, 2026, 6, 10, 9, 1), zone=BERLIN) == local(BERLIN, 2026, 6, 11, 9)
    sharp = local(BERLIN, 2026, 6, 10, 9, 0)
    assert due_at(until("09:00"), now=sharp, zone=BERLIN) == sharp  # at or after now
    assert due_at(until("09:00", []), now=sharp + timedelta(microseconds=1), zone=BERLIN) == local(
        BERLIN, 2026, 6, 11, 9
    )


def test_weekdays_are_the_persons_local_dates() -> None:
    # Thursday 26 November 2026, 20:00 in Tehran; Saturday (5) is the next working day there.
    thursday_evening = local(TEHRAN, 2026, 11, 26, 20, 0)
    saturday_morning = local(TEHRAN, 2026, 11, 28, 9, 0)
    assert due_at(until("09:00", [5]), now=thursday_evening, zone=TEHRAN) == saturday_morning
    assert due_at(until("09:00", ["saturday"]), now=thursday_evening, zone=TEHRAN) == saturday_morning
    assert due_at(until("09:00", [5, 6, 0]), now=thursday_evening, zone=TEHRAN) == saturday_morning
    # Monday 21:00 in New York is Tuesday in UTC: 22:00 "on Mondays" is still this evening.
    monday_evening = local(NEW_YORK, 2026, 11, 30, 21, 0)
    assert monday_evening.astimezone(UTC).weekday() == 1
    assert due_at(until("22:00", [0]), now=monday_evening, zone=NEW_YORK) == utc(2026, 12, 1, 3, 0)
    # The same day next week when today's time has passed.
    assert due_at(until("20:00", [0]), now=monday_evening, zone=NEW_YORK) == local(NEW_YORK, 2026, 12, 7, 20, 0)


def test_the_same_wall_time_is_a_different_utc_hour_either_side_of_a_dst_change() -> None:
    friday = local(BERLIN, 2026, 3, 27, 12, 0)
    assert due_at(until("09:00", [0]), now=friday, zone=BERLIN) == utc(2026, 3, 30, 7, 0)  # CEST, +02:00
    assert due_at(until("09:00", [4]), now=friday, zone=BERLIN) == utc(2026, 4, 3, 7, 0)
    assert due_at(until("09:00"), now=utc(2026, 3, 27, 9, 0), zone=BERLIN) == utc(2026, 3, 28, 8, 0)  # CET


def test_a_skipped_time_is_due_at_the_jump() -> None:
    # New York springs forward on Sunday 8 March 2026: 02:00 EST is 03:00 EDT (07:00 UTC).
    saturday = local(NEW_YORK, 2026, 3, 7, 12, 0)
    assert due_at(until("02:30"), now=saturday, zone=NEW_YORK) == utc(2026, 3, 8, 7, 0)
    assert due_at(until("02:00", [6]), now=saturday, zone=NEW_YORK) == utc(2026, 3, 8, 7, 0)
    # Once the jump is behind, the clock never reads 02:30 that day: Monday's 02:30 EDT.
    after_the_jump = local(NEW_YORK, 2026, 3, 8, 3, 10)
    assert due_at(until("02:30"), now=after_the_jump, zone=NEW_YORK) == utc(2026, 3, 9, 6, 30)
    # Berlin on Sunday 29 March 2026: 02:00 CET is 03:00 CEST (01:00 UTC).
    assert due_at(until("02:30", [6]), now=local(BERLIN, 2026, 3, 23, 0, 0), zone=BERLIN) == utc(2026, 3, 29, 1, 0)
    # At the jump itself it is due now.
    assert due_at(until("02:30"), now=utc(2026, 3, 29, 1, 0), zone=BERLIN) == utc(2026, 3, 29, 1, 0)


def test_a_repeated_time_is_due_at_its_first_reading_unless_now_is_past_it() -> None:
    # Berlin falls back on Sunday 25 October 2026: 03:00 CEST is 02:00 CET (01:00 UTC), so 02:30 is
    # read at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    saturday = local(BERLIN, 2026, 10, 24, 12, 0)
    assert due_at(until("02:30"), now=saturday, zone=BERLIN) == utc(2026, 10, 25, 0, 30)
    between = utc(2026, 10, 25, 0, 45)
    assert due_at(until("02:30"), now=between, zone=BERLIN) == utc(2026, 10, 25, 1, 30)
    assert due_at(until("02:30"), now=utc(2026, 10, 25, 1, 45), zone=BERLIN) == utc(2026, 10, 26, 1, 30)
    # New York falls back on Sunday 1 November 2026: 01:30 EDT (05:30 UTC), then 01:30 EST (06:30 UTC).
    assert due_at(until("01:30", [6]), now=local(NEW_YORK, 2026, 10, 31, 9), zone=NEW_YORK) == utc(2026, 11, 1, 5, 30)


def test_tehran_keeps_one_offset_since_2023_and_had_clock_changes_before() -> None:
    # No DST since 2022: 00:30 on 22 March, once the skipped half hour, exists; +03:30 all year.
    assert due_at(until("00:30"), now=local(TEHRAN, 2026, 3, 21, 12), zone=TEHRAN) == utc(2026, 3, 21, 21, 0)
    assert due_at(until("09:00"), now=utc(2026, 7, 1, 0, 0), zone=TEHRAN) == utc(2026, 7, 1, 5, 30)
    assert due_at(until("09:00"), now=utc(2026, 1, 1, 0, 0), zone=TEHRAN) == utc(2026, 1, 1, 5, 30)
    # In 2022 the clock went from 00:00 (+03:30) to 01:00 (+04:30) on 22 March: 00:30 was skipped.
    assert due_at(until("00:30"), now=local(TEHRAN, 2022, 3, 21, 12), zone=TEHRAN) == utc(2022, 3, 21, 20, 30)
    # ... and from 24:00 (+04:30) back to 23:00 (+03:30) on 21 September: 23:30 was read twice.
    assert due_at(until("23:30"), now=local(TEHRAN, 2022, 9, 21, 12), zone=TEHRAN) == utc(2022, 9, 21, 19, 0)
    assert due_at(until("23:30"), now=utc(2022, 9, 21, 19, 30), zone=TEHRAN) == utc(2022, 9, 21, 20, 0)


def test_a_clock_falling_back_over_midnight_reads_yesterdays_time_again() -> None:
    # Goose Bay fell back at 00:01 ADT on Sunday 1 November 2009 to 23:01 AST on Saturday 31 October:
    # at 00:00:30 on Sunday, Saturday's 23:30 is still to come (AST, 03:30 UTC).
    goose_bay = ZoneInfo("America/Goose_Bay")
    sunday = utc(2009, 11, 1, 3, 0, 30)
    assert sunday.astimezone(goose_bay).date() == date(2009, 11, 1)
    assert due_at(until("23:30", ["saturday"]), now=sunday, zone=goose_bay) == utc(2009, 11, 1, 3, 30)


def test_a_day_the_zone_skipped_whole_is_reached_at_the_jump() -> None:
    # Samoa skipped Friday 30 December 2011 (Thursday 23:59:59 -10:00 -> Saturday 00:00 +14:00).
    apia = ZoneInfo("Pacific/Apia")
    thursday = local(apia, 2011, 12, 29, 12, 0)
    assert due_at(until("09:00", [4]), now=thursday, zone=apia) == local(apia, 2011, 12, 31, 0, 0)
    assert due_at(until("09:00", [5]), now=thursday, zone=apia) == local(apia, 2011, 12, 31, 9, 0)


minutes = st.integers(min_value=0, max_value=24 * 60 - 1)
zones = st.sampled_from([BERLIN, NEW_YORK, TEHRAN])
# Mostly around clock changes: Berlin's and New York's in 2026, Tehran's last ones in 2022.
changes = [utc(2026, 3, 8, 7), utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2026, 11, 1, 6)]
changes += [utc(2022, 3, 21, 20, 30), utc(2022, 9, 21, 19, 30)]
moments = st.one_of(
    st.builds(
        lambda change, seconds: change + timedelta(seconds=seconds),
        st.sampled_from(changes),
        st.integers(min_value=-86400, max_value=86400),
    ),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
)


def _reference(now: datetime, at: time, weekdays: frozenset[int], zone: ZoneInfo) -> datetime:
    """Minute by minute: the first whole minute at or after `now` at which the clock reads `at`
    on an allowed day, or at which it jumps over `at` on an allowed day."""
    moment = now.replace(second=0, microsecond=0)
    if moment < now:
        moment += timedelta(minutes=1)
    while True:
        wall = moment.astimezone(zone).replace(tzinfo=None)
        before = (moment - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
        for day in {wall.date(), before.date()}:
            target = datetime.combine(day, at)
            allowed = not weekdays or day.weekday() in weekdays
            if allowed and (wall == target or before < target < wall):
                return moment
        moment += timedelta(minutes=1)


# A time of day, or a time a few minutes either side of now's local reading (near a change, that
# is the hour the clock skips or repeats).
times = st.one_of(st.tuples(st.just("of_day"), minutes), st.tuples(st.just("near_now"), st.integers(-150, 150)))


@settings(max_examples=150, deadline=None)
@given(moments, times, st.frozensets(st.integers(min_value=0, max_value=6), max_size=3), zones)
def test_the_due_instant_is_the_first_at_or_after_now_minute_by_minute(
    now: datetime, chosen: tuple[str, int], weekdays: frozenset[int], zone: ZoneInfo
) -> None:
    kind, minutes_ = chosen
    if kind == "near_now":
        at = (now.astimezone(zone) + timedelta(minutes=minutes_)).time().replace(second=0, microsecond=0, tzinfo=None)
    else:
        at = time(minutes_ // 60, minutes_ % 60)
    due = next_local_time(Until(at, weekdays), now=now, zone=zone)
    assert due >= now
    assert due == _reference(now, at, weekdays, zone)


# -- business hours ------------------------------------------------------------------------------


def test_business_hours_move_a_due_instant_outside_them_to_the_next_opening() -> None:
    thursday_evening = local(TEHRAN, 2026, 11, 26, 20, 0)  # Thursday and Friday are off
    wait = {"seconds": 600, "business_hours": True}
    due = due_at(wait, now=thursday_evening, zone=TEHRAN, calendar=TEHRAN_OFFICE)
    assert due == local(TEHRAN, 2026, 11, 28, 9, 0)
    # Moved, not counted in working time: 10 minutes before closing stays 10 minutes later.
    monday = local(TEHRAN, 2026, 11, 30, 16, 40)
    assert due_at(wait, now=monday, zone=TEHRAN, calendar=TEHRAN_OFFICE) == local(TEHRAN, 2026, 11, 30, 16, 50)
    # Closing time itself is outside; Tuesday 1 December is the office's holiday.
    assert due_at(wait, now=local(TEHRAN, 2026, 11, 30, 16, 50), zone=TEHRAN, calendar=TEHRAN_OFFICE) == local(
        TEHRAN, 2026, 12, 2, 9, 0
    )


def test_business_hours_only_when_asked_and_known() -> None:
    thursday_evening = local(TEHRAN, 2026, 11, 26, 20, 0)
    plain = thursday_evening + timedelta(minutes=10)
    assert due_at({"seconds": 600}, now=thursday_evening, zone=TEHRAN, calendar=TEHRAN_OFFICE) == plain
    asked = {"seconds": 600, "business_hours": True}
    assert due_at(asked, now=thursday_evening, zone=TEHRAN, calendar=None) == plain  # around the clock


def test_the_persons_zone_sets_the_time_and_the_workspaces_hours_move_it() -> None:
    # A Berlin customer of a Tehran office in winter: 08:00 in Berlin is 10:30 in Tehran, inside;
    # 06:00 in Berlin is 08:30 in Tehran, before opening.
    sunday = local(BERLIN, 2026, 11, 29, 12, 0)
    inside = until("08:00", [0], business_hours=True)
    assert due_at(inside, now=sunday, zone=BERLIN, calendar=TEHRAN_OFFICE) == local(BERLIN, 2026, 11, 30, 8, 0)
    early = until("06:00", [0], business_hours=True)
    assert due_at(early, now=sunday, zone=BERLIN, calendar=TEHRAN_OFFICE) == local(TEHRAN, 2026, 11, 30, 9, 0)


def test_business_hours_use_the_regions_public_holidays() -> None:
    def nowruz(year: int) -> frozenset[date]:
        return frozenset(date(year, 3, d) for d in range(21, 25))

    office = replace(TEHRAN_OFFICE, region_holidays=nowruz)
    wait = until("10:00", business_hours=True)
    # Saturday 21 to Tuesday 24 March 2026 are off: Saturday's 10:00 moves to Wednesday's opening
    # (the instant moves; the wait does not look for the next 10:00 that is a working one).
    assert due_at(wait, now=local(TEHRAN, 2026, 3, 20, 12), zone=TEHRAN, calendar=office) == local(
        TEHRAN, 2026, 3, 25, 9, 0
    )
    # The same wait without the holidays: Saturday is a working day there.
    assert due_at(wait, now=local(TEHRAN, 2026, 3, 20, 12), zone=TEHRAN, calendar=TEHRAN_OFFICE) == local(
        TEHRAN, 2026, 3, 21, 10, 0
    )


def test_the_next_working_instant_is_at_or_after_the_moment() -> None:
    new_york = BusinessHours("America/New_York", MONDAY_TO_FRIDAY, time(9), time(17))
    opening = local(NEW_YORK, 2026, 3, 9, 9, 0)  # the Monday after the spring change: 13:00 UTC
    assert next_working_instant(new_york, opening) == opening
    assert next_working_instant(new_york, opening - timedelta(microseconds=1)) == opening
    assert next_working_instant(new_york, local(NEW_YORK, 2026, 3, 6, 17, 0)) == opening
    assert next_working_instant(new_york, opening + timedelta(hours=3)) == opening + timedelta(hours=3)
    assert next_working_instant(None, opening - timedelta(hours=5)) == opening - timedelta(hours=5)


# -- events --------------------------------------------------------------------------------------


def test_an_event_wait_gives_up_after_its_timeout() -> None:
    now = utc(2026, 6, 1, 9, 0)
    assert event_wait_deadline(3 * 86400, now) == utc(2026, 6, 4, 9, 0)
    assert event_wait_deadline(0, now) == now
    assert event_wait_deadline(60, local(TEHRAN, 2026, 6, 1, 12, 30)).tzinfo is UTC
    for bad in (-1, float("nan"), float("inf"), MAX_SECONDS + 1, True):
        with pytest.raises(InvalidWait, match="timeout_seconds"):
            event_wait_deadline(bad, now)


# -- what a wait may say ----------------------------------------------------------------------------


def test_a_wait_is_parsed_once_and_can_be_reused() -> None:
    parsed = parse_wait({"until": {"time": "09:05", "weekdays": [0, "friday"]}, "business_hours": True})
    assert parsed == Wait(until=Until(time(9, 5), frozenset({0, 4})), business_hours=True)
    now = local(BERLIN, 2026, 6, 10, 12, 0)  # a Wednesday
    assert due_at(parsed, now=now, zone=BERLIN) == local(BERLIN, 2026, 6, 12, 9, 5)
    assert parse_wait({"seconds": 5}) == Wait(seconds=5.0)
    assert parse_wait({"until": {"time": "23:59", "weekdays": None}}) == Wait(until=Until(time(23, 59)))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "wait"),
        ({"seconds": 1, "until": {"time": "09:00"}}, "wait"),
        ({"seconds": -1}, "seconds"),
        ({"seconds": "60"}, "seconds"),
        ({"seconds": True}, "seconds"),
        ({"seconds": float("nan")}, "seconds"),
        ({"seconds": MAX_SECONDS + 1}, "seconds"),
        ({"seconds": 1, "business_hours": "yes"}, "business_hours"),
        ({"seconds": 1, "minutes": 2}, "minutes"),
        ({"until": "09:00"}, "until"),
        ({"until": {"time": "9:00"}}, "until.time"),
        ({"until": {"time": "24:00"}}, "until.time"),
        ({"until": {"time": "09:00:00"}}, "until.time"),
        ({"until": {}}, "until.time"),
        ({"until": {"time": "09:00", "weekdays": [7]}}, "until.weekdays"),
        ({"until": {"time": "09:00", "weekdays": [True]}}, "until.weekdays"),
        ({"until": {"time": "09:00", "weekdays": ["mon"]}}, "until.weekdays"),
        ({"until": {"time": "09:00", "weekdays": 1}}, "until.weekdays"),
        ({"until": {"time": "09:00", "zone": "UTC"}}, "until.zone"),
    ],
)
def test_a_wait_that_makes_no_sense_is_refused_naming_the_part(raw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidWait) as refused:
        parse_wait(raw)
    assert refused.value.field == field
    with pytest.raises(ValueError):  # InvalidWait is a ValueError
        due_at(raw, now=utc(2026, 6, 1), zone=BERLIN)


def test_a_wait_holds_exactly_one_kind() -> None:
    with pytest.raises(InvalidWait):
        Wait()
    with pytest.raises(InvalidWait):
        Wait(seconds=1, until=Until(time(9)))
