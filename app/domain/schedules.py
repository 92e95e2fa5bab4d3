"""Recurring schedules: cron expressions evaluated in the workspace's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter


def next_occurrence(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after `after` that `cron` names on the clocks of `timezone` (UTC).

    `0 3 * * *` in Asia/Tehran is 03:00 Tehran time every day, whatever UTC offset that is."""
    local = after.astimezone(ZoneInfo(timezone))
    following: datetime = croniter(cron, local).get_next(datetime)
    return following.astimezone(UTC)


def is_occurrence(cron: str, timezone: str, moment: datetime) -> bool:
    """Whether `moment` is on the schedule (False once the workspace moved to another time zone)."""
    return next_occurrence(cron, timezone, moment - timedelta(seconds=1)) == moment
