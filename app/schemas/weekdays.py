"""Weekdays as the API spells them (Python's weekday numbers inside: Monday = 0)."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, WithJsonSchema

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


def local_time(value: time) -> time:
    """Working hours are local times: an offset would contradict the time zone given beside them."""
    if value.tzinfo is not None:
        raise ValueError("give a local time like 09:00, without an offset (the time zone is set apart)")
    return value


def numbers(days: list[str]) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(d) for d in days)


# A wall-clock time of day as the API takes and answers it: "09:00" in, "09:00:00" out. Not JSON
# Schema's `format: time`, which is RFC 3339's full-time and requires an offset ("09:00:00Z"):
# working hours are local times whose zone is given beside them, so an offset is refused, and a
# document that said `format: time` would be contradicted by every answer.
_LOCAL_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$")


def _local_time_text(value: Any) -> Any:
    if isinstance(value, time):
        return local_time(value)
    if isinstance(value, str) and _LOCAL_TIME.match(value):
        return value
    raise ValueError("give a local time like 09:00 or 17:30:00, without an offset (the time zone is set apart)")


LocalTime = Annotated[
    time,
    BeforeValidator(_local_time_text),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _LOCAL_TIME.pattern,
            "description": "A local time of day, HH:MM or HH:MM:SS, without an offset",
            "examples": ["09:00"],
        }
    ),
]
