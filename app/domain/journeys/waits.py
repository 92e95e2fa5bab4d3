"""When a journey's `wait` step falls due. Pure: `now`, the person's zone and the workspace's
working calendar are passed in; every answer is an aware datetime in UTC.

A wait is one of
- `{"seconds": n}`: n seconds after `now` (0 <= n <= ten years; elapsed time, not working time);
- `{"until": {"time": "HH:MM", "weekdays": [...]}}`: the first instant at or after `now` at which
  the person's clock reads `time` on one of `weekdays` (Python's numbers, Monday = 0 .. Sunday = 6,
  or the API's names `monday` .. `sunday`; empty or absent: any day). The weekday is the local
  date's, in the person's zone.
and either may add `"business_hours": true`: the due instant then moves to the first working
instant at or after it in the workspace's business hours (their own time zone, working week and
holidays; `app.domain.workspace.calendar`). A due instant inside working hours stays where it is;
one at or after closing moves to the next opening. Without business hours (`calendar` None:
around the clock) nothing moves.

Clock changes. A local time the clock skips (spring forward: 02:30 in America/New_York on the second
Sunday of March) is reached at the jump itself, the first valid instant after it (03:00 EDT). A
local time the clock reads twice (fall back: 02:30 in Europe/Berlin on the last Sunday of October)
is due at its first reading; when `now` lies between the two readings, the second is the first
instant at or after `now` at which the clock reads that time, and is the answer."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.outreach.policy import first_instant_at
from app.domain.workspace.calendar import BusinessHours, add_working_time

WEEKDAY_NAMES: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The longest wait or event timeout (the calendar's own horizon): longer is a mistake, not a plan.
MAX_SECONDS = 3660 * 86400
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_EARLIEST = datetime.min.replace(tzinfo=UTC)
# Days searched for an `until`: a week and a day for any weekday set (today's time may have passed),
# one more either side for zones that skip or repeat a day (Pacific/Apia skipped 30 December 2011).
_SEARCH_DAYS = range(-1, 10)


class InvalidWait(ValueError):
    """A wait the document should not have held: `field` names the part (`seconds`, `until.time`, …)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Until:
    at: time  # a local time of day, minutes precision
    weekdays: frozenset[int] = frozenset()  # Monday = 0; empty: any day


@dataclass(frozen=True, slots=True)
class Wait:
    """A parsed wait: exactly one of `seconds` and `until`."""

    seconds: float | None = None
    until: Until | None = None
    business_hours: bool = False

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.until is None):
            raise InvalidWait("wait", "give exactly one of seconds and until")


def parse_wait(raw: Mapping[str, Any]) -> Wait:
    """A wait as a journey document holds it, checked (`InvalidWait` names the bad part)."""
    unknown = set(raw) - {"seconds", "until", "business_hours"}
    if unknown:
        raise InvalidWait(sorted(unknown)[0], "not a part of a wait (seconds, until, business_hours)")
    business_hours = raw.get("business_hours", False)
    if not isinstance(business_hours, bool):
        raise InvalidWait("business_hours", "give true or false")
    if ("seconds" in raw) == ("until" in raw):
        raise InvalidWait("wait", "give exactly one of seconds and until")
    if "seconds" in raw:
        return Wait(seconds=_seconds("seconds", raw["seconds"]), business_hours=business_hours)
    return Wait(until=_until(raw["until"]), business_hours=business_hours)


def _seconds(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidWait(field, "give a number of seconds")
    if not 0 <= value <= MAX_SECONDS:
        raise InvalidWait(field, f"give 0 to {MAX_SECONDS} seconds (ten years)")
    return float(value)


def _until(raw: object) -> Until:
    if not isinstance(raw, Mapping):
        raise InvalidWait("until", 'give {"time": "HH:MM", "weekdays": [...]}')
    unknown = set(raw) - {"time", "weekdays"}
    if unknown:
        raise InvalidWait(f"until.{sorted(unknown)[0]}", "not a part of until (time, weekdays)")
    text = raw.get("time")
    found = _TIME.match(text) if isinstance(text, str) else None
    if found is None:
        raise InvalidWait("until.time", "give a local time like 09:00 (HH:MM, 00:00 to 23:59)")
    days = raw.get("weekdays")
    if days is None:
        days = []
    if not isinstance(days, list | tuple):
        raise InvalidWait("until.weekdays", "give a list of weekdays (0 = Monday .. 6 = Sunday, or their names)")
    return Until(time(int(found[1]), int(found[2])), frozenset(_weekday(day) for day in days))


def _weekday(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value.casefold() in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(value.casefold())
    raise InvalidWait("until.weekdays", f"{value!r} is not a weekday (0 = Monday .. 6 = Sunday, or monday .. sunday)")


def due_at(
    wait: Mapping[str, Any] | Wait,
    *,
    now: datetime,
    zone: ZoneInfo,
    calendar: BusinessHours | None = None,
) -> datetime:
    """When the wait falls due (UTC), never before `now`. `zone` is the person's; `calendar` the
    workspace's business hours, used only when the wait asks for them (None: around the clock)."""
    now = _utc(now)
    parsed = wait if isinstance(wait, Wait) else parse_wait(wait)
    if parsed.seconds is not None:
        due = now + timedelta(seconds=parsed.seconds)
    else:
        assert parsed.until is not None  # one of the two, checked by Wait
        due = next_local_time(parsed.until, now=now, zone=zone)
    if parsed.business_hours:
        due = next_working_instant(calendar, due)
    return due


def next_local_time(until: Until, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at or after `now` at which the clock in `zone` reads `until.at` on one of
    `until.weekdays` (see the module's notes on clock changes)."""
    now = _utc(now)
    today = now.astimezone(zone).date()
    for offset in _SEARCH_DAYS:
        day = today + timedelta(days=offset)
        if until.weekdays and day.weekday() not in until.weekdays:
            continue
        for instant in _readings(day, until.at, zone):
            if instant >= now:
                return instant
    raise AssertionError("every week has each weekday")  # pragma: no cover


def _readings(day: date, at: time, zone: ZoneInfo) -> list[datetime]:
    """The instants (UTC, in order) at which the clock in `zone` reaches `at` on local date `day`:
    one as a rule, two when the clock falls back over it, and the jump itself when it skips it."""
    wall = datetime.combine(day, at)
    first = first_instant_at(wall, zone, _EARLIEST)  # the first reading, or the jump over a skipped time
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if second > first and second.astimezone(zone).replace(tzinfo=None) == wall:
        return [first, second]
    return [first]


def next_working_instant(calendar: BusinessHours | None, moment: datetime) -> datetime:
    """The first instant at or after `moment` inside the business hours (`moment` itself when it
    is; working windows are [opening, closing)); `moment` when there are none (around the clock)."""
    return add_working_time(calendar, _utc(moment), 0).astimezone(UTC)


def event_wait_deadline(timeout_seconds: float, now: datetime) -> datetime:
    """When a step waiting for an event gives up: `timeout_seconds` (elapsed, 0 .. ten years) after `now`."""
    return _utc(now) + timedelta(seconds=_seconds("timeout_seconds", timeout_seconds))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("give an aware datetime (UTC)")
    return moment.astimezone(UTC)
