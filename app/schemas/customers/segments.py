"""Saved segments: a named filter of the contacts list."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import Actor, RequestModel, ResourceRead, Unset, UtcDatetime
from app.schemas.customers.relationships import ContactFilters

Name = Annotated[str, Field(min_length=1, max_length=200)]


class SegmentFilterSet(ContactFilters):
    """The contacts list's filters, as a saved segment holds them: an unknown one is an error."""

    model_config = ConfigDict(extra="forbid")


class SegmentCreate(RequestModel):
    name: Name
    description: Annotated[str, Field(max_length=1000)] | None = None
    filters: SegmentFilterSet = Field(description="The filters of GET /v1/contacts (e.g. tag, active, revenue_min)")


class SegmentUpdate(RequestModel):
    name: Name = Unset
    description: Annotated[str, Field(max_length=1000)] | None = None
    filters: SegmentFilterSet = Unset


class SegmentRead(ResourceRead):
    id: UUID
    name: str
    description: str | None
    filters: dict[str, Any] = Field(description="The filters as given (unset ones left out)")
    count: int | None = Field(
        default=None, description="Contacts matching now (in GET /v1/segments/{id}; null in lists and events)"
    )
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor


class SegmentMembership(BaseModel):
    """`contact.segment_entered` / `contact.segment_exited`: a contact entered or left a saved
    segment at its evaluation (`resource_id` = the contact)."""

    segment_id: UUID
    contact_id: UUID
    at: UtcDatetime = Field(description="The evaluation that found it")
