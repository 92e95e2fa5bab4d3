"""Scheduled digests: when a schedule's occurrences fall and what each one covers. Pure: the
workspace's time zone and the moment are passed in.

A schedule runs daily, or weekly on one weekday, at a local time of day (HH:MM) in the
workspace's time zone. An occurrence is that local date and time; its UTC instant follows the
zone's rules that day: a time the clock skips (spring forward) is the instant the clock jumps
to, a time it reads twice (fall back) its first reading.

What an occurrence covers: the whole local days before it, the occurrence's own day left out
(a digest at 08:00 reports finished days): daily the day before, weekly the seven days before.
An occurrence is named by its local date and time, `2026-12-12T08:00`: a schedule sends one
digest per name, ever (`report_deliveries`).

A digest that cannot be prepared is tried again later and later (`retry_after`): 10, 20, 40 and
80 minutes after its first four failures in a row; the fifth pauses the schedule, as does the
first failure whose cause retrying cannot mend (the input is wrong: a team since deleted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

CadenceType = Literal["daily", "weekly"]
CADENCES: tuple[str, ...] = get_args(CadenceType)
# How many local days an occurrence covers, ending the day before it.
WINDOW_DAYS = {"daily": 1, "weekly": 7}
MAX_FAILURES = 5  # failures in a row that pause a schedule
RETRY_AFTER = timedelta(minutes=10)  # after the first failure; doubled after each one more


@dataclass(frozen=True)
class Cadence:
    type: CadenceType
    at: time  # local wall-clock time, minutes only
    weekday: int | None = None  # weekly: Python weekday (Monday = 0)

    def __post_init__(self) -> None:
        if (self.type == "weekly") != (self.weekday is not None):
            raise ValueError("a weekly cadence has a weekday, a daily one none")


def instant(day: date, at: time, timezone: str) -> datetime:
    """The UTC instant the local clock of `timezone` reads `at` on `day`: its first reading when
    it reads it twice; when it skips it, the instant of the jump."""
    zone = ZoneInfo(timezone)
    wall = datetime.combine(day, at)
    moment = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != wall:
        # Skipped: the clock jumps over `at`. The jump lies between the readings with the offsets
        # after (fold=1) and before (fold=0) it: the first minute from there that reads past `at`.
        moment = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        while moment.astimezone(zone).replace(tzinfo=None) < wall:
            moment += timedelta(minutes=1)
    return moment


def _days(cadence: Cadence, start: date, step: int) -> list[date]:
    """Candidate days from `start` onwards (step 1) or backwards (step -1), two weeks' worth."""
    days = [start + timedelta(days=step * n) for n in range(15)]
    return [d for d in days if cadence.weekday is None or d.weekday() == cadence.weekday]


def next_after(cadence: Cadence, timezone: str, moment: datetime) -> datetime:
    """The first occurrence strictly after `moment` (UTC)."""
    today = moment.astimezone(ZoneInfo(timezone)).date()
    for day in _days(cadence, today - timedelta(days=1), 1):
        at = instant(day, cadence.at, timezone)
        if at > moment:
            return at
    raise AssertionError("a week always holds an occurrence")  # pragma: no cover


def latest_at_or_before(cadence: Cadence, timezone: str, moment: datetime) -> datetime:
    """The last occurrence at or before `moment` (UTC): the one a due schedule delivers. A worker
    late by more than a period delivers only the latest occurrence that has come (the ones missed
    before it are not sent late)."""
    today = moment.astimezone(ZoneInfo(timezone)).date()
    for day in _days(cadence, today + timedelta(days=1), -1):
        at = instant(day, cadence.at, timezone)
        if at <= moment:
            return at
    raise AssertionError("a week always holds an occurrence")  # pragma: no cover


def local_day(occurrence: datetime, timezone: str) -> date:
    return occurrence.astimezone(ZoneInfo(timezone)).date()


def name(occurrence: datetime, cadence: Cadence, timezone: str) -> str:
    """The occurrence's name: its local date and the schedule's time, `2026-12-12T08:00`."""
    return f"{local_day(occurrence, timezone).isoformat()}T{cadence.at.strftime('%H:%M')}"


def window(cadence: Cadence, occurrence_day: date) -> tuple[date, date]:
    """The local days an occurrence on `occurrence_day` covers: (first, last), both inclusive,
    ending the day before it."""
    last = occurrence_day - timedelta(days=1)
    return last - timedelta(days=WINDOW_DAYS[cadence.type] - 1), last


def retry_after(failures: int, *, permanent: bool = False) -> timedelta | None:
    """How long after its `failures`-th failure in a row (1 for the first) a digest is tried
    again; None: never, the schedule pauses (a permanent cause, or MAX_FAILURES in a row)."""
    if permanent or failures >= MAX_FAILURES:
        return None
    doubled: int = 2 ** (max(failures, 1) - 1)
    return RETRY_AFTER * doubled
