"""Scheduled digests (`/v1/report-schedules`): a report sent daily or weekly, at a local time of
the workspace, to members by email and/or as a `report.delivered` event."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, ValidationInfo, WithJsonSchema, field_validator

from app.schemas.common import Actor, Name, RequestModel, ResourceRead, Unset, UtcDatetime
from app.schemas.weekdays import Weekday

MAX_MEMBERS = 100
# A minute of the day on the workspace's clock: a digest runs at whole minutes.
_HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
DigestTime = Annotated[
    str,
    Field(pattern=_HH_MM),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _HH_MM,
            "description": "HH:MM in the workspace's time zone",
            "examples": ["08:00"],
        }
    ),
]


class Cadence(RequestModel):
    """`{"type": "daily", "at": "08:00"}` or `{"type": "weekly", "weekday": "saturday", "at": "08:00"}`,
    on the workspace's clock."""

    type: Literal["daily", "weekly"]
    weekday: Weekday | None = Field(default=None, validate_default=True, description="Weekly: the day")
    at: DigestTime

    @field_validator("weekday")
    @classmethod
    def _weekday_when_weekly(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")
        if kind == "weekly" and value is None:
            raise ValueError("a weekly cadence names its weekday")
        if kind == "daily" and value is not None:
            raise ValueError("a daily cadence has no weekday")
        return value


class CadenceRead(BaseModel):
    type: Literal["daily", "weekly"]
    weekday: Weekday | None = Field(description="Weekly: the day (null for daily)")
    at: str = Field(description="HH:MM in the workspace's time zone", examples=["08:00"])


class ReportScheduleCreate(RequestModel):
    name: Name
    report: str = Field(
        min_length=1,
        max_length=32,
        description="The report to send, the name of its route under /v1/reports: `funnel`, `team`, `win-loss`, "
        "`products`, `pipeline`, `sales-forecast`, `overview`",
        examples=["funnel"],
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The report's query parameters (its own names and rules) except `from` and `to`: a digest "
        "covers the day before a daily occurrence, the seven days before a weekly one",
    )
    cadence: Cadence
    member_ids: list[UUID] = Field(
        default_factory=list, max_length=MAX_MEMBERS, description="Members who get it by email"
    )
    channel_id: UUID | None = Field(default=None, description="The email channel; default: the workspace's default")
    emit_event: bool = Field(default=False, description="Record `report.delivered` with the figures (integrations)")
    paused: bool = Field(default=False, description="Sends nothing while paused")


class ReportScheduleUpdate(RequestModel):
    name: Name = Unset
    params: dict[str, Any] = Unset
    cadence: Cadence = Unset
    member_ids: Annotated[list[UUID], Field(max_length=MAX_MEMBERS)] = Unset
    channel_id: UUID | None = Unset
    emit_event: bool = Unset
    paused: bool = Unset


class ReportScheduleRead(ResourceRead):
    id: UUID
    name: str
    report: str
    params: dict[str, Any]
    cadence: CadenceRead
    member_ids: list[UUID]
    channel_id: UUID | None
    emit_event: bool
    paused: bool
    next_run_at: UtcDatetime | None = Field(
        description="The next occurrence, or when a digest that failed is tried again (null: paused or archived)"
    )
    failures: int = Field(
        description="Digests that could not be prepared in a row (tried again 10, 20, 40, 80 minutes later; the "
        "fifth, or a wrong input, pauses the schedule); 0 again after a delivery or a change of the schedule"
    )
    last_error: str | None = Field(
        description="Why the last digest could not be prepared (the problem's title and detail); null since the "
        "last delivery or change",
        examples=["Invalid input: params.team_id: no team with this id in the workspace"],
    )
    last_failed_at: UtcDatetime | None = Field(description="When a digest last failed to be prepared (null: never)")
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor


class ReportScheduleFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived schedules")
    report: str | None = Field(default=None, max_length=32)
