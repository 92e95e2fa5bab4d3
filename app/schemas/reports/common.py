"""What every report answers of its periods."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from app.schemas.common import UtcDatetime


class PeriodRead(BaseModel):
    label: str = Field(
        description="Fixed and machine-readable: a day or week is the ISO date of its first day; a month YYYY-MM, "
        "a quarter YYYY-Qn, a year YYYY, numbered in the workspace's calendar (1404-09 is Azar 1404)",
        examples=["1404-09", "2026-12-05"],
    )
    display_label: str = Field(description="For people, in the workspace's locale", examples=["آذر ۱۴۰۴"])
    start: UtcDatetime = Field(description="The first instant (local midnight, in UTC)")
    end: UtcDatetime = Field(description="The first instant after it (exclusive)")
    start_date: date = Field(description="The first local day")
    end_date: date = Field(description="The last local day (inclusive); the range's bounds cut the outer periods")
