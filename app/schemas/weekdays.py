"""Weekdays as the API spells them (Python's weekday numbers inside: Monday = 0)."""

from __future__ import annotations

from typing import Literal, get_args

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


def numbers(days: list[str]) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(d) for d in days)
