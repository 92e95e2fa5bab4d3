"""Report periods in the Gregorian and Jalali calendars, checked against jdatetime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import jdatetime
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.reports import periods
from app.domain.reports.periods import ReportCalendar

JALALI = ReportCalendar(kind="jalali", locale="fa", timezone="Asia/Tehran", first_weekday=periods.week_start("IR"))
JALALI_EN = ReportCalendar(kind="jalali", locale="en", timezone="Asia/Tehran", first_weekday=5)
GREGORIAN = ReportCalendar(kind="gregorian", locale="en", timezone="Europe/Berlin")
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
intervals = st.sampled_from(periods.INTERVALS)
calendars = st.sampled_from((JALALI, JALALI_EN, GREGORIAN))


def test_a_jalali_month_is_labelled_in_its_own_calendar() -> None:
    # 2026-12-06 is 15 Azar 1405.
    month = periods.cut(date(2026, 12, 6), date(2026, 12, 6), "month", JALALI)[0]
    assert month.label == "1405-09"
    assert month.display_label == "آذر ۱۴۰۵"
    assert periods.cut(date(2026, 12, 6), date(2026, 12, 6), "month", JALALI_EN)[0].display_label == "Azar 1405"
    assert periods.cut(date(2026, 12, 6), date(2026, 12, 6), "month", GREGORIAN)[0].display_label == "December 2026"


def test_esfand_to_farvardin_cuts_at_nowruz() -> None:
    # Nowruz 1405 is 2026-03-21: Esfand 1404 ends the day before.
    cut = periods.cut(date(2026, 3, 1), date(2026, 4, 30), "month", JALALI)
    assert [p.label for p in cut] == ["1404-12", "1405-01", "1405-02"]
    assert cut[0].start_date == date(2026, 3, 1)  # cut at the range's start
    assert cut[0].end_date == date(2026, 3, 20)
    assert cut[1].start_date == date(2026, 3, 21) and cut[1].end_date == date(2026, 4, 20)
    assert cut[1].display_label == "فروردین ۱۴۰۵"
    assert cut[2].end_date == date(2026, 4, 30)  # cut at the range's end
    # Local midnight in Tehran (UTC+3:30) as the UTC bound.
    assert cut[1].start == datetime(2026, 3, 20, 20, 30, tzinfo=UTC)
    years = periods.cut(date(2026, 3, 1), date(2026, 4, 30), "year", JALALI)
    assert [p.label for p in years] == ["1404", "1405"]
    quarters = periods.cut(date(2026, 3, 1), date(2026, 4, 30), "quarter", JALALI)
    assert [(p.label, p.display_label) for p in quarters] == [("1404-Q4", "زمستان ۱۴۰۴"), ("1405-Q1", "بهار ۱۴۰۵")]


def test_a_week_starts_on_the_regions_first_day_and_is_labelled_by_its_first_day() -> None:
    assert periods.week_start("IR") == 5 and periods.week_start("DE") == 0 and periods.week_start("US") == 6
    week = periods.cut(date(2026, 12, 9), date(2026, 12, 9), "week", JALALI)[0]  # a Wednesday
    assert week.label == "2026-12-05"  # the Saturday before
    assert date(2026, 12, 5).weekday() == 5
    assert week.display_label == "هفتهٔ ۱۴ آذر ۱۴۰۵"
    assert periods.cut(date(2026, 12, 9), date(2026, 12, 9), "week", GREGORIAN)[0].label == "2026-12-07"


def test_esfand_of_a_leap_year_has_thirty_days() -> None:
    # 1403 is a leap year in the Jalali calendar: Esfand 30 = 2025-03-20.
    esfand = periods.cut(date(2025, 2, 19), date(2025, 3, 20), "month", JALALI)
    assert [p.label for p in esfand] == ["1403-12"]
    assert esfand[0].start_date == date(2025, 2, 19) and esfand[0].end_date == date(2025, 3, 20)
    assert jdatetime.date(1403, 12, 30).togregorian() == date(2025, 3, 20)


def test_defaults_follow_the_region() -> None:
    assert periods.default_calendar("IR") == "jalali" and periods.default_locale("IR") == "fa"
    assert periods.default_calendar("DE") == "gregorian" and periods.default_locale(None) == "en"
    assert periods.default_range(date(2026, 12, 6)) == (date(2026, 9, 8), date(2026, 12, 6))


@settings(max_examples=300, deadline=None)
@given(day=days, interval=intervals, calendar=calendars)
def test_every_day_falls_in_exactly_the_period_its_calendar_gives(day: date, interval, calendar) -> None:
    start = periods.period_start(day, interval, calendar)
    following = periods.next_start(start, interval, calendar)
    assert start <= day < following
    assert periods.period_start(following - timedelta(days=1), interval, calendar) == start
    assert periods.period_start(following, interval, calendar) == following
    if calendar.kind == "jalali" and interval in ("month", "quarter", "year"):
        j_start, j_day = jdatetime.date.fromgregorian(date=start), jdatetime.date.fromgregorian(date=day)
        assert j_start.day == 1
        assert j_start.year == j_day.year
        if interval == "month":
            assert j_start.month == j_day.month
            assert (following - start).days == jdatetime.j_days_in_month[j_day.month - 1] + (
                1 if j_day.month == 12 and j_day.isleap() else 0
            )
            assert periods.label(start, interval, calendar) == f"{j_day.year:04d}-{j_day.month:02d}"
        elif interval == "year":
            assert (following - start).days == (366 if j_day.isleap() else 365)
            assert periods.label(start, interval, calendar) == f"{j_day.year:04d}"
        else:
            assert (j_start.month - 1) % 3 == 0 and (j_day.month - j_start.month) in (0, 1, 2)


@settings(max_examples=200, deadline=None)
@given(first=days, length=st.integers(min_value=0, max_value=800), interval=intervals, calendar=calendars)
def test_the_periods_of_a_range_tile_it_without_gaps(first: date, length: int, interval, calendar) -> None:
    last = first + timedelta(days=length)
    cut = periods.cut(first, last, interval, calendar)
    assert len(cut) == periods.count(first, last, interval, calendar)
    assert cut[0].start_date == first and cut[-1].end_date == last
    for before, after in pairwise(cut):
        assert before.end_date + timedelta(days=1) == after.start_date
        assert before.end == after.start
        assert before.label < after.label or interval in ("day", "week")  # labels sort as periods do
    assert sum((p.end_date - p.start_date).days + 1 for p in cut) == length + 1
    assert all(p.start < p.end for p in cut)
