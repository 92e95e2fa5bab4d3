"""Working time: business hours in a time zone, with working days and holidays. Deadlines are
added and durations measured arithmetically, one calendar day at a time (never second by second),
with the time zone's own offsets on each day, so daylight-saving changes fall where they are.

Days off are the days outside the working week and the holidays: the region's public holidays (a
year's dates, given by the caller; `None` when the region has none known) plus the workspace's own
days, less the region holidays it works on. All are local dates in the business hours' time zone."""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A working week where the weekend is not Saturday-Sunday (Python weekdays: Monday = 0).
MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})
SATURDAY_TO_WEDNESDAY = frozenset({5, 6, 0, 1, 2})
SUNDAY_TO_THURSDAY = frozenset({6, 0, 1, 2, 3})
_WEEKS = {
    "IR": SATURDAY_TO_WEDNESDAY,  # Iran: Thursday is a half day for many offices, Friday the weekend
    "AF": SATURDAY_TO_WEDNESDAY,
    "SA": SUNDAY_TO_THURSDAY,
    "QA": SUNDAY_TO_THURSDAY,
    "KW": SUNDAY_TO_THURSDAY,
    "OM": SUNDAY_TO_THURSDAY,
    "BH": SUNDAY_TO_THURSDAY,
    "IQ": SUNDAY_TO_THURSDAY,
    "JO": SUNDAY_TO_THURSDAY,
    "EG": SUNDAY_TO_THURSDAY,
    "IL": SUNDAY_TO_THURSDAY,
}
# A region's public holidays of one year (local dates). Called once per day examined: callers pass
# a cached function.
YearHolidays = Callable[[int], Set[date]]
# Far enough to cross any run of holidays; a calendar with no working day at all is refused.
MAX_DAYS = 3660


def default_week(region: str | None) -> frozenset[int]:
    """The usual working days of a country (ISO 3166 alpha-2), Monday to Friday when unknown."""
    return _WEEKS.get((region or "").upper(), MONDAY_TO_FRIDAY)


@dataclass(frozen=True)
class BusinessHours:
    timezone: str
    days: frozenset[int]  # weekdays, Monday = 0
    start: time
    end: time  # after start, same day
    holidays: frozenset[date] = frozenset()  # the workspace's own days off
    region_holidays: YearHolidays | None = None  # None: no public holidays
    removed_holidays: frozenset[date] = frozenset()  # region holidays that are working days here

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start")
        if not self.days:
            raise ValueError("give at least one working day")

    def is_holiday(self, day: date) -> bool:
        """(the region's public holidays | the workspace's own) - the removed ones."""
        if day in self.removed_holidays:
            return False
        return day in self.holidays or (self.region_holidays is not None and day in self.region_holidays(day.year))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working window of a local calendar day, in UTC (None on days off)."""
        if day.weekday() not in self.days or self.is_holiday(day):
            return None
        zone = ZoneInfo(self.timezone)
        opens = datetime.combine(day, self.start, zone).astimezone(UTC)
        closes = datetime.combine(day, self.end, zone).astimezone(UTC)
        return (opens, closes) if closes > opens else None

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.timezone)).date()


def add_working_time(hours: BusinessHours | None, start: datetime, seconds: float) -> datetime:
    """The moment `seconds` of working time after `start` (plain time without business hours).
    A start outside working hours counts from the next opening."""
    if hours is None:
        return start + timedelta(seconds=seconds)
    remaining = timedelta(seconds=seconds)
    day = hours._local_day(start) - timedelta(days=1)  # a window may begin on the previous local day in UTC
    for _ in range(MAX_DAYS):
        window = hours.window(day)
        day += timedelta(days=1)
        if window is None or window[1] <= start:
            continue
        opens = max(window[0], start)
        available = window[1] - opens
        if remaining <= available:
            return opens + remaining
        remaining -= available
    raise ValueError("no working time in the next ten years: check the working days and holidays")


def working_seconds(hours: BusinessHours | None, start: datetime, end: datetime) -> float:
    """Working time between two moments, in seconds (0 when end is not after start)."""
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds()
    total = timedelta()
    day = hours._local_day(start) - timedelta(days=1)
    last = hours._local_day(end)
    while day <= last:
        window = hours.window(day)
        day += timedelta(days=1)
        if window is None:
            continue
        overlap = min(window[1], end) - max(window[0], start)
        if overlap > timedelta():
            total += overlap
    return total.total_seconds()
