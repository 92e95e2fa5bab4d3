from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from app.domain.workspace.members import Role
from app.schemas.common import Actor, Name, RequestModel, ResourceRead, TimeZone, Unset
from app.schemas.weekdays import LocalTime, Weekday

Capacity = Field(default=None, ge=0, le=100_000, description="How many open leads this member can own; null = no limit")


class MemberWorkingHours(BaseModel):
    """When the member takes new leads, in their time zone (or the workspace's)."""

    model_config = ConfigDict(extra="forbid")

    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _ends_after_start(self) -> MemberWorkingHours:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


Available = Field(default=True, description="false while away (leave, sick): routing skips the member")
WorkingHoursField = Field(default=None, description="null = takes leads at any time")
ReviewGroup = Field(
    default=None,
    min_length=1,
    max_length=64,
    description="The review group the member approves campaigns for (e.g. legal, brand); null = none",
)


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


class MemberCreate(RequestModel):
    name: Name
    email: EmailStr
    role: Role = Role.MEMBER
    active: bool = True
    timezone: TimeZone | None = Field(default=None, description="IANA time zone; null = the workspace's")
    capacity: int | None = Capacity
    manager_id: UUID | None = None
    available: bool = Available
    working_hours: MemberWorkingHours | None = WorkingHoursField
    review_group: str | None = ReviewGroup

    _email = field_validator("email")(_lower)


class MemberUpdate(RequestModel):
    """Send only what changes; timezone, capacity, manager_id and review_group may be null, the others may not."""

    name: Name = Unset
    email: EmailStr = Unset
    role: Role = Unset
    active: bool = Unset
    timezone: TimeZone | None = None
    capacity: int | None = Capacity
    manager_id: UUID | None = None
    available: bool = Unset
    working_hours: MemberWorkingHours | None = WorkingHoursField
    review_group: str | None = ReviewGroup

    _email = field_validator("email")(_lower)


class MemberRead(ResourceRead):
    id: UUID
    name: str
    email: str
    role: Role
    active: bool
    timezone: str | None
    capacity: int | None
    manager_id: UUID | None
    available: bool
    working_hours: MemberWorkingHours | None
    review_group: str | None
    created_by: Actor
    updated_by: Actor
