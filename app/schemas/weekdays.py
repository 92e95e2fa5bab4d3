"""Weekdays as the API spells them (Python's weekday numbers inside: Monday = 0)."""

from __future__ import annotations

from datetime import time
from typing import Literal, get_args

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


def local_time(value: time) -> time:
    """Working hours are local times: an offset would contradict the time zone given beside them."""
    if value.tzinfo is not None:
        raise ValueError("give a local time like 09:00, without an offset (the time zone is set apart)")
    return value


def numbers(days: list[str]) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(d) for d in days)
