"""What a scheduled digest delivered: the `report.delivered` event's `data`."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import UtcDatetime


class ReportDelivered(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)  # `from`, as the report says it

    id: UUID = Field(description="The delivery's id")
    schedule_id: UUID
    name: str = Field(description="The schedule's name")
    report: str = Field(examples=["funnel"])
    occurrence: str = Field(
        description="The occurrence delivered: its local date and time; one delivery per schedule and occurrence",
        examples=["2026-12-12T08:00"],
    )
    occurred_at: UtcDatetime = Field(description="The occurrence's instant")
    from_: date = Field(
        alias="from",
        serialization_alias="from",
        description="The first local day the figures cover: the days before the occurrence (the day before a daily "
        "one, the seven before a weekly one); for `pipeline` and `sales-forecast` the periods ahead they forecast",
    )
    to: date = Field(description="The last local day the figures cover (the day before the occurrence, but for "
                     "`pipeline` and `sales-forecast`: the end of the last period ahead)")  # fmt: skip
    params: dict[str, Any] = Field(description="The report's parameters as the schedule stores them")
    figures: dict[str, Any] = Field(description="The report as its route answers it for that range (JSON)")
    message_ids: list[UUID] = Field(description="The emails queued for the schedule's members")
    created_at: UtcDatetime
