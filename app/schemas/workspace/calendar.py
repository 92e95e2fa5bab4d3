"""The workspace's holidays."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class Holiday(BaseModel):
    date: dt.date = Field(description="A local date (Gregorian, ISO)")
    local_date: str = Field(
        description="The same day numbered in the workspace's calendar, YYYY-MM-DD with Latin digits (1405-01-01 is "
        "1 Farvardin 1405 in a Jalali workspace; the ISO date in a Gregorian one)",
        examples=["1405-01-01"],
    )
    display_label: str = Field(
        description="The day for people, in the workspace's calendar and locale (Persian digits in Persian)",
        examples=["۱ فروردین ۱۴۰۵", "1 Farvardin 1405"],  # noqa: RUF001 (Persian digits are the example)
    )
    name: str = Field(description="In the workspace's locale where the region's calendar has it")
    source: Literal["region", "workspace"] = Field(
        description="region: a public holiday of the workspace's region; workspace: one of its own days off"
    )
    day_off: bool = Field(
        description="Whether the SLA's business hours count it as a day off (false: a region holiday worked here, "
        "or business hours that leave region holidays out)"
    )


class HolidayList(BaseModel):
    data: list[Holiday]
