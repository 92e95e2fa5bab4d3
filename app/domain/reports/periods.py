"""Report periods in the workspace's calendar.

Dates are stored Gregorian; the calendar only cuts and names periods. A workspace counts in the
Gregorian or the Jalali (Solar Hijri) calendar: its months, quarters and years are that calendar's,
its weeks start on its region's first day (Saturday in Iran), and a day is a day in both.

Every period carries:
- `label`, fixed and machine-readable: a day or a week is the ISO (Gregorian) date of its first
  day; a month `YYYY-MM`, a quarter `YYYY-Qn`, a year `YYYY`, numbered in the workspace's
  calendar (`1404-09` is Azar 1404);
- `display_label`, in the workspace's locale (`آذر ۱۴۰۴`, `Azar 1404`, `December 2026`);
- its bounds as local dates (`start_date`, `end_date`, both inclusive) and as UTC instants
  (`start` inclusive, `end` exclusive: local midnights in the workspace's time zone).

A report's range is whole local days, `from` to `to` inclusive; its first and last periods are
cut at the range's bounds (their labels stay the whole period's), so the periods add up to the
range. Conversions between the calendars are `jdatetime`'s."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import jdatetime  # type: ignore[import-untyped]

Interval = Literal["day", "week", "month", "quarter", "year"]
CalendarKind = Literal["gregorian", "jalali"]
Locale = Literal["fa", "en"]
INTERVALS: tuple[str, ...] = get_args(Interval)
CALENDARS: tuple[str, ...] = get_args(CalendarKind)
LOCALES: tuple[str, ...] = get_args(Locale)
# A report answers at most this many periods (a day interval over three years and a bit); a longer
# range is asked for with a coarser interval.
MAX_PERIODS = 1200

# The first day of the week by region (Python weekdays: Monday = 0); Monday elsewhere (ISO 8601).
_SATURDAY, _SUNDAY, _MONDAY = 5, 6, 0
_WEEK_STARTS = {
    **dict.fromkeys(("IR", "AF", "EG", "DZ", "LY", "SD", "SY", "JO", "IQ", "KW", "QA", "BH", "OM", "AE"), _SATURDAY),
    **dict.fromkeys(("US", "CA", "MX", "BR", "JP", "KR", "IL", "SA", "IN", "PH", "ZA", "AU"), _SUNDAY),
}

_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_JALALI_MONTHS_FA = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
_JALALI_MONTHS_EN = (
    "Farvardin",
    "Ordibehesht",
    "Khordad",
    "Tir",
    "Mordad",
    "Shahrivar",
    "Mehr",
    "Aban",
    "Azar",
    "Dey",
    "Bahman",
    "Esfand",
)
_GREGORIAN_MONTHS_FA = (
    "ژانویه",
    "فوریه",
    "مارس",
    "آوریل",
    "مه",
    "ژوئن",
    "ژوئیه",
    "اوت",
    "سپتامبر",
    "اکتبر",
    "نوامبر",
    "دسامبر",
)
_GREGORIAN_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# The Jalali year's quarters are its seasons: Farvardin starts spring.
_SEASONS_FA = ("بهار", "تابستان", "پاییز", "زمستان")


def week_start(region: str | None) -> int:
    """The first weekday of a region's week (Monday = 0): Saturday in Iran, Monday when unknown."""
    return _WEEK_STARTS.get((region or "").upper(), _MONDAY)


def default_calendar(region: str | None) -> CalendarKind:
    """What a new workspace counts in: the Jalali calendar in Iran and Afghanistan."""
    return "jalali" if (region or "").upper() in ("IR", "AF") else "gregorian"


def default_locale(region: str | None) -> Locale:
    return "fa" if (region or "").upper() in ("IR", "AF") else "en"


def persian_digits(text: str) -> str:
    return text.translate(_PERSIAN_DIGITS)


@dataclass(frozen=True)
class ReportCalendar:
    """How a workspace cuts and names periods."""

    kind: CalendarKind = "gregorian"
    locale: Locale = "en"
    timezone: str = "UTC"
    first_weekday: int = _MONDAY  # Python weekday the week starts on

    def midnight(self, day: date) -> datetime:
        """The UTC instant a local day starts."""
        return datetime.combine(day, time(), ZoneInfo(self.timezone)).astimezone(UTC)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.timezone)).date()


@dataclass(frozen=True)
class Period:
    label: str
    display_label: str
    start_date: date  # first local day, inclusive
    end_date: date  # last local day, inclusive
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


def _jalali(day: date) -> jdatetime.date:
    return jdatetime.date.fromgregorian(date=day)


def _gregorian(year: int, month: int, day: int) -> date:
    value: date = jdatetime.date(year, month, day).togregorian()
    return value


def period_start(day: date, interval: Interval, calendar: ReportCalendar) -> date:
    """The first day of the period that holds `day`."""
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=(day.weekday() - calendar.first_weekday) % 7)
    if calendar.kind == "jalali":
        j = _jalali(day)
        if interval == "month":
            return _gregorian(j.year, j.month, 1)
        if interval == "quarter":
            return _gregorian(j.year, (j.month - 1) // 3 * 3 + 1, 1)
        return _gregorian(j.year, 1, 1)
    if interval == "month":
        return day.replace(day=1)
    if interval == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def next_start(start: date, interval: Interval, calendar: ReportCalendar) -> date:
    """The first day of the period after the one starting on `start` (a period's first day)."""
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[interval]
    if calendar.kind == "jalali":
        j = _jalali(start)
        index = j.year * 12 + (j.month - 1) + months
        return _gregorian(index // 12, index % 12 + 1, 1)
    index = start.year * 12 + (start.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def label(start: date, interval: Interval, calendar: ReportCalendar) -> str:
    """The machine-readable name of the period starting on `start`."""
    if interval in ("day", "week"):
        return start.isoformat()
    if calendar.kind == "jalali":
        j = _jalali(start)
        year, month = j.year, j.month
    else:
        year, month = start.year, start.month
    if interval == "month":
        return f"{year:04d}-{month:02d}"
    if interval == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}"


def date_label(day: date, calendar: ReportCalendar) -> str:
    """A day as the calendar numbers it, machine-readable: `YYYY-MM-DD` with Latin digits (`1405-01-01`
    is 1 Farvardin 1405; in the Gregorian calendar the ISO date)."""
    if calendar.kind == "jalali":
        j = _jalali(day)
        return f"{j.year:04d}-{j.month:02d}-{j.day:02d}"
    return day.isoformat()


def _day_name(day: date, calendar: ReportCalendar) -> str:
    if calendar.kind == "jalali":
        j = _jalali(day)
        months = _JALALI_MONTHS_FA if calendar.locale == "fa" else _JALALI_MONTHS_EN
        text = f"{j.day} {months[j.month - 1]} {j.year}"
    else:
        months = _GREGORIAN_MONTHS_FA if calendar.locale == "fa" else _GREGORIAN_MONTHS_EN
        text = f"{day.day} {months[day.month - 1]} {day.year}"
    return persian_digits(text) if calendar.locale == "fa" else text


def display_label(start: date, interval: Interval, calendar: ReportCalendar) -> str:
    """The period's name for people, in the workspace's locale and calendar."""
    fa = calendar.locale == "fa"
    if interval == "day":
        return _day_name(start, calendar)
    if interval == "week":
        return ("هفتهٔ " if fa else "Week of ") + _day_name(start, calendar)
    if calendar.kind == "jalali":
        j = _jalali(start)
        year, month = j.year, j.month
        months = _JALALI_MONTHS_FA if fa else _JALALI_MONTHS_EN
    else:
        year, month = start.year, start.month
        months = _GREGORIAN_MONTHS_FA if fa else _GREGORIAN_MONTHS_EN
    quarter = (month - 1) // 3 + 1
    if interval == "month":
        text = f"{months[month - 1]} {year}"
    elif interval == "quarter":
        if fa:
            text = f"{_SEASONS_FA[quarter - 1]} {year}" if calendar.kind == "jalali" else f"سه‌ماههٔ {quarter} {year}"
        else:
            text = f"Q{quarter} {year}"
    else:
        text = str(year)
    return persian_digits(text) if fa else text


def named_in(periods: Iterable[tuple[date, str]], interval: Interval, locale: Locale) -> CalendarKind:
    """The calendar that named a report's periods, each given as (`start_date`, `display_label`):
    the first whose name of a period's day (for a week, of one of the six days before it too, the
    first week being cut at the range's start) is the label. The calendars never name a period
    alike (Azar 1404 is not December 2026, nor 1404 2026); Gregorian when no period tells."""
    back = 7 if interval == "week" else 1
    kinds: tuple[CalendarKind, ...] = ("jalali", "gregorian")
    for start, shown in periods:
        for kind in kinds:
            calendar = ReportCalendar(kind=kind, locale=locale)
            if any(display_label(start - timedelta(days=k), interval, calendar) == shown for k in range(back)):
                return kind
    return "gregorian"


def starts(first: date, last: date, interval: Interval, calendar: ReportCalendar) -> Iterator[date]:
    """The first days of the periods that overlap `first`..`last` (whole periods, not cut)."""
    start = period_start(first, interval, calendar)
    while start <= last:
        yield start
        start = next_start(start, interval, calendar)


def count(first: date, last: date, interval: Interval, calendar: ReportCalendar) -> int:
    """How many periods `cut` would answer, without building them (a day or week interval is
    arithmetic; the others are few)."""
    if last < first:
        return 0
    if interval == "day":
        return (last - first).days + 1
    if interval == "week":
        return (period_start(last, "week", calendar) - period_start(first, "week", calendar)).days // 7 + 1
    return sum(1 for _ in starts(first, last, interval, calendar))


def cut(first: date, last: date, interval: Interval, calendar: ReportCalendar) -> list[Period]:
    """The periods of `first`..`last` (local dates, both inclusive), the outer ones cut at the
    range's bounds."""
    periods = []
    for start in starts(first, last, interval, calendar):
        following = next_start(start, interval, calendar)
        begin = max(start, first)
        end = min(following - timedelta(days=1), last)
        periods.append(
            Period(
                label=label(start, interval, calendar),
                display_label=display_label(start, interval, calendar),
                start_date=begin,
                end_date=end,
                start=calendar.midnight(begin),
                end=calendar.midnight(end + timedelta(days=1)),
            )
        )
    return periods


def period_label(moment: datetime, interval: Interval, calendar: ReportCalendar) -> str:
    """The label of the period an instant falls in (in the workspace's time zone)."""
    return label(period_start(calendar.local_date(moment), interval, calendar), interval, calendar)


def month_shares(month: str, calendar: ReportCalendar) -> list[tuple[str, float]]:
    """How the days of a Gregorian month (`YYYY-MM`) fall in the calendar's months: each month's
    label and its share of the Gregorian month's days (the shares add up to 1). A Gregorian month
    in the Gregorian calendar is itself, whole; March 2026 in the Jalali one is 20/31 Esfand 1404
    (`1404-12`) and 11/31 Farvardin 1405 (`1405-01`)."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    last = date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)
    days = last.day
    return [(p.label, ((p.end_date - p.start_date).days + 1) / days) for p in cut(first, last, "month", calendar)]


def default_range(today: date, days: int = 90) -> tuple[date, date]:
    """The last `days` local days up to and including today."""
    return today - timedelta(days=days - 1), today
