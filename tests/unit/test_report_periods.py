"""Report periods in the Gregorian and Jalali calendars, checked against jdatetime: over a century of
days, and concentrated where the Jalali calendar is easiest to get wrong, around Nowruz (the year's
turn, after a 29- or 30-day Esfand) and on Esfand 30 of leap years."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import jdatetime
from hypothesis import find, given, settings
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


# Jalali years 1370-1468 (Gregorian 1991-2090), split by whether their Esfand has 30 days.
_YEARS = range(1370, 1469)
LEAP_YEARS = [y for y in _YEARS if jdatetime.date(y, 1, 1).isleap()]
COMMON_YEARS = [y for y in _YEARS if not jdatetime.date(y, 1, 1).isleap()]
_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@st.composite
def around_nowruz(draw: st.DrawFn) -> date:
    """A day within three days of a Nowruz (1 Farvardin), after a leap year (its Esfand 30 among
    them) or a common one, or Esfand 30 of a leap year itself."""
    leap = draw(st.booleans())
    year = draw(st.sampled_from(LEAP_YEARS if leap else COMMON_YEARS))
    if leap and draw(st.booleans()):
        return date.fromordinal(jdatetime.date(year, 12, 30).togregorian().toordinal())
    nowruz = jdatetime.date(year + 1, 1, 1).togregorian()
    return date.fromordinal(nowruz.toordinal()) + timedelta(days=draw(st.integers(min_value=-3, max_value=3)))


def _jalali_bounds(j: jdatetime.date, interval: str) -> tuple[date, date]:
    """The [start, end) Gregorian dates of the Jalali period holding `j`, by jdatetime alone."""

    def gregorian(year: int, month: int) -> date:
        return date.fromordinal(jdatetime.date(year, month, 1).togregorian().toordinal())

    if interval == "year":
        return gregorian(j.year, 1), gregorian(j.year + 1, 1)
    first = j.month if interval == "month" else 3 * ((j.month - 1) // 3) + 1
    after = first + (1 if interval == "month" else 3)
    end = gregorian(j.year + 1, 1) if after > 12 else gregorian(j.year, after)
    return gregorian(j.year, first), end


def test_the_nowruz_strategy_reaches_what_it_is_for() -> None:
    assert 20 <= len(LEAP_YEARS) <= 30 and 1403 in LEAP_YEARS and 1404 in COMMON_YEARS
    assert jdatetime.date.fromgregorian(date=date(2025, 3, 20)).day == 30  # Esfand 30, 1403

    def jalali(day: date) -> tuple[int, int]:
        j = jdatetime.date.fromgregorian(date=day)
        return j.month, j.day

    # It draws Esfand 30, Nowruz after a 30-day Esfand and after a 29-day one, and days 3 off.
    assert jalali(find(around_nowruz(), lambda d: jalali(d) == (12, 30))) == (12, 30)
    after_leap = find(around_nowruz(), lambda d: jalali(d) == (1, 1) and jalali(d - timedelta(days=1)) == (12, 30))
    after_common = find(around_nowruz(), lambda d: jalali(d) == (1, 1) and jalali(d - timedelta(days=1)) == (12, 29))
    assert after_leap != after_common
    assert jalali(find(around_nowruz(), lambda d: jalali(d) == (12, 27))) == (12, 27)  # 3 days before, Esfand of 29
    assert jalali(find(around_nowruz(), lambda d: jalali(d) == (1, 4))) == (1, 4)  # 3 days after


@settings(max_examples=400, deadline=None)
@given(day=around_nowruz(), interval=st.sampled_from(("month", "quarter", "year")),
       calendar=st.sampled_from((JALALI, JALALI_EN)))  # fmt: skip
def test_around_nowruz_periods_and_labels_are_jdatetimes(day: date, interval, calendar) -> None:
    j = jdatetime.date.fromgregorian(date=day)
    start, following = _jalali_bounds(j, interval)
    assert periods.period_start(day, interval, calendar) == start
    assert periods.next_start(start, interval, calendar) == following
    assert start <= day < following
    month = jdatetime.date.j_months_fa[j.month - 1] if calendar.locale == "fa" else jdatetime.date.j_months_en[
        j.month - 1]  # fmt: skip
    fa = calendar.locale == "fa"
    if interval == "month":
        assert periods.label(start, interval, calendar) == f"{j.year:04d}-{j.month:02d}"
        shown = f"{month} {j.year}"
        assert periods.display_label(start, interval, calendar) == (shown.translate(_PERSIAN) if fa else shown)
        days_in_month = jdatetime.j_days_in_month[j.month - 1] + (1 if j.month == 12 and j.isleap() else 0)
        assert (following - start).days == days_in_month
    elif interval == "quarter":
        assert periods.label(start, interval, calendar) == f"{j.year:04d}-Q{(j.month - 1) // 3 + 1}"
    else:
        assert periods.label(start, interval, calendar) == f"{j.year:04d}"
        assert (following - start).days == (366 if j.isleap() else 365)
    # The day itself, as the holidays and the charts name it.
    assert periods.date_label(day, calendar) == f"{j.year:04d}-{j.month:02d}-{j.day:02d}"
    shown = f"{j.day} {month} {j.year}"
    assert periods.display_label(day, "day", calendar) == (shown.translate(_PERSIAN) if fa else shown)


@settings(max_examples=200, deadline=None)
@given(first=around_nowruz(), length=st.integers(min_value=0, max_value=6), interval=intervals,
       calendar=st.sampled_from((JALALI, JALALI_EN)))  # fmt: skip
def test_a_range_across_nowruz_is_cut_where_jdatetime_turns_the_year(
    first: date, length: int, interval, calendar
) -> None:
    last = first + timedelta(days=length)
    cut = periods.cut(first, last, interval, calendar)
    assert cut[0].start_date == first and cut[-1].end_date == last
    assert sum((p.end_date - p.start_date).days + 1 for p in cut) == length + 1
    for period in cut:
        for offset in range((period.end_date - period.start_date).days + 1):
            day = period.start_date + timedelta(days=offset)
            j = jdatetime.date.fromgregorian(date=day)
            if interval in ("month", "quarter", "year"):
                assert period.label.startswith(f"{j.year:04d}")
                assert _jalali_bounds(j, interval)[0] <= period.start_date
            if interval == "month":
                assert period.label == f"{j.year:04d}-{j.month:02d}"
