"""The workspace's holidays."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class Holiday(BaseModel):
    date: dt.date = Field(description="A local date")
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
