from __future__ import annotations

from uuid import UUID

from pydantic import EmailStr, Field, field_validator

from app.domain.members import Role
from app.schemas.common import Actor, Name, RequestModel, ResourceRead, TimeZone, Unset

Capacity = Field(default=None, ge=0, le=100_000, description="How many open leads this member can own; null = no limit")


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

    _email = field_validator("email")(_lower)


class MemberUpdate(RequestModel):
    """Send only what changes; timezone, capacity and manager_id may be null, the others may not."""

    name: Name = Unset
    email: EmailStr = Unset
    role: Role = Unset
    active: bool = Unset
    timezone: TimeZone | None = None
    capacity: int | None = Capacity
    manager_id: UUID | None = None

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
    created_by: Actor
    updated_by: Actor
