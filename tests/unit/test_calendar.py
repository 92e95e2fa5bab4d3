"""Business-hours arithmetic, pure: nights, weekends, holidays, time zones and DST changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.workspace.calendar import (
    MONDAY_TO_FRIDAY,
    SATURDAY_TO_WEDNESDAY,
    BusinessHours,
    add_working_time,
    default_week,
    working_seconds,
)
from app.schemas.workspace.settings import BusinessHoursSettings
from app.services.workspace import calendars

TEHRAN = BusinessHours("Asia/Tehran", SATURDAY_TO_WEDNESDAY, time(9), time(17), frozenset({date(2026, 12, 1)}))
NEW_YORK = BusinessHours("America/New_York", MONDAY_TO_FRIDAY, time(9), time(17))
BERLIN = BusinessHours("Europe/Berlin", MONDAY_TO_FRIDAY, time(8, 30), time(18))


def _nowruz(year: int) -> frozenset[date]:
    """Iran's public holidays around Nowruz 1405 (the region calendar the service passes in)."""
    return frozenset({date(2026, 3, 20), *(date(2026, 3, d) for d in range(21, 25))}) if year == 2026 else frozenset()


# Region holidays given by year, one of them worked after all.
TEHRAN_NOWRUZ = replace(TEHRAN, region_holidays=_nowruz, removed_holidays=frozenset({date(2026, 3, 24)}))
CALENDARS = [TEHRAN, NEW_YORK, BERLIN, None, TEHRAN_NOWRUZ]

moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
durations = st.floats(min_value=0, max_value=40 * 3600, allow_nan=False)


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def test_default_week_follows_the_region() -> None:
    assert default_week("IR") == SATURDAY_TO_WEDNESDAY
    assert default_week("ir") == SATURDAY_TO_WEDNESDAY
    assert default_week("DE") == MONDAY_TO_FRIDAY
    assert default_week(None) == MONDAY_TO_FRIDAY


def test_a_lead_on_a_tehran_thursday_evening_is_due_on_saturday_morning() -> None:
    thursday_evening = local("Asia/Tehran", 2026, 11, 26, 20, 0)  # Thursday and Friday are off
    due = add_working_time(TEHRAN, thursday_evening, 300)
    assert due == local("Asia/Tehran", 2026, 11, 28, 9, 5)


def test_the_clock_stops_at_closing_and_skips_holidays() -> None:
    before_close = local("Asia/Tehran", 2026, 11, 30, 16, 58)  # Monday; Tuesday 1 Dec is a holiday
    due = add_working_time(TEHRAN, before_close, 300)
    assert due == local("Asia/Tehran", 2026, 12, 2, 9, 3)
    assert working_seconds(TEHRAN, before_close, due) == 300


def test_region_holidays_are_days_off_less_the_removed_ones_plus_the_workspaces_own() -> None:
    thursday_evening = local("Asia/Tehran", 2026, 3, 19, 20, 0)
    regional = BusinessHours("Asia/Tehran", SATURDAY_TO_WEDNESDAY, time(9), time(17), region_holidays=_nowruz)
    assert regional.is_holiday(date(2026, 3, 21)) and not regional.is_holiday(date(2026, 3, 25))
    # Friday 20 March is the weekend and a holiday, Nowruz is Saturday 21 to Tuesday 24.
    assert add_working_time(regional, thursday_evening, 300) == local("Asia/Tehran", 2026, 3, 25, 9, 5)
    working_tuesday = replace(regional, removed_holidays=frozenset({date(2026, 3, 24)}))
    assert add_working_time(working_tuesday, thursday_evening, 300) == local("Asia/Tehran", 2026, 3, 24, 9, 5)
    own_day_off = replace(regional, holidays=frozenset({date(2026, 3, 25)}))  # then Thursday-Friday
    assert add_working_time(own_day_off, thursday_evening, 300) == local("Asia/Tehran", 2026, 3, 28, 9, 5)
    assert working_seconds(regional, thursday_evening, local("Asia/Tehran", 2026, 3, 25, 10, 0)) == 3600


def test_daylight_saving_days_keep_their_local_hours() -> None:
    # New York springs forward on 2026-03-08 (Sunday): Monday opens at 09:00 EDT, 13:00 UTC.
    friday_close = local("America/New_York", 2026, 3, 6, 16, 0)
    due = add_working_time(NEW_YORK, friday_close, 2 * 3600)
    assert due == local("America/New_York", 2026, 3, 9, 10, 0)
    assert due.astimezone(UTC).hour == 14
    assert working_seconds(NEW_YORK, friday_close, due) == 2 * 3600


def test_no_business_hours_is_plain_time() -> None:
    start = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    assert add_working_time(None, start, 300) == start + timedelta(minutes=5)
    assert working_seconds(None, start, start + timedelta(hours=3)) == 3 * 3600


def test_hours_must_end_after_they_start() -> None:
    with pytest.raises(ValueError):
        BusinessHours("UTC", MONDAY_TO_FRIDAY, time(17), time(9))
    with pytest.raises(ValueError):
        BusinessHours("UTC", frozenset(), time(9), time(17))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CALENDARS), moments, durations)
def test_adding_then_measuring_round_trips(hours: BusinessHours | None, start: datetime, seconds: float) -> None:
    due = add_working_time(hours, start, seconds)
    assert due >= start  # never before capture
    assert working_seconds(hours, start, due) == pytest.approx(seconds, abs=1e-3)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS), moments, durations, durations)
def test_more_working_time_is_never_earlier(hours: BusinessHours | None, start: datetime, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert add_working_time(hours, start, low) <= add_working_time(hours, start, high)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS[:3]), moments, st.integers(min_value=0, max_value=30 * 86400))
def test_working_time_is_at_most_elapsed_time_and_only_inside_windows(
    hours: BusinessHours, start: datetime, span: int
) -> None:
    end = start + timedelta(seconds=span)
    measured = working_seconds(hours, start, end)
    assert 0 <= measured <= span
    # A whole week holds exactly the working days' hours (less holidays): 8 h x 5 days here.
    if hours is not TEHRAN:
        week = working_seconds(hours, start, start + timedelta(days=7))
        per_day = (datetime.combine(date.min, hours.end) - datetime.combine(date.min, hours.start)).total_seconds()
        assert week == pytest.approx(per_day * 5, abs=3600)  # ± one DST hour


@settings(max_examples=200, deadline=None)
@given(moments, st.integers(min_value=1, max_value=8 * 3600))
def test_a_deadline_always_falls_inside_working_hours(start: datetime, seconds: int) -> None:
    due = add_working_time(TEHRAN, start, seconds).astimezone(ZoneInfo("Asia/Tehran"))
    assert due.weekday() in TEHRAN.days and due.date() not in TEHRAN.holidays
    assert time(9) < due.time() <= time(17)


def test_a_workspaces_calendar_has_its_regions_public_holidays_from_the_holidays_package() -> None:
    iran = calendars.region_holidays("IR")
    assert iran is not None
    nowruz = {date(2026, 3, 21), date(2026, 3, 22), date(2026, 3, 23), date(2026, 3, 24)}
    assert nowruz | {date(2026, 2, 11), date(2026, 6, 4)} <= iran(2026)  # Revolution Day, Khomeini's death
    assert date(2026, 3, 25) not in iran(2026)
    assert calendars.region_holidays(None) is None and calendars.region_holidays("ZZ") is None  # unknown: none

    stored = BusinessHoursSettings().model_dump(mode="json")  # the defaults: region week and holidays
    hours = calendars.business_hours(stored, "Asia/Tehran", "IR")
    assert hours is not None and hours.days == SATURDAY_TO_WEDNESDAY and hours.timezone == "Asia/Tehran"
    assert hours.is_holiday(date(2026, 3, 21))
    worked = calendars.business_hours({**stored, "removed_holidays": ["2026-03-21"]}, "Asia/Tehran", "IR")
    assert worked is not None and not worked.is_holiday(date(2026, 3, 21))
    kept = calendars.business_hours({**stored, "region_holidays": False}, "Asia/Tehran", "IR")
    assert kept is not None and not kept.is_holiday(date(2026, 3, 21))
    elsewhere = calendars.business_hours(stored, "UTC", None)
    assert elsewhere is not None and elsewhere.days == MONDAY_TO_FRIDAY and elsewhere.region_holidays is None
    assert calendars.business_hours(None, "Asia/Tehran", "IR") is None  # around the clock
