"""Teams, activities and assignments, as the API shows them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.domain.leads.sla import ActivityType, Direction
from app.schemas.common import Actor, Name, RequestModel, ResourceRead, Unset, UtcDatetime

MemberIds = Field(max_length=500, description="In round-robin order; each a member of the workspace")


class TeamCreate(RequestModel):
    name: Name
    member_ids: list[UUID] = Field(default_factory=list, max_length=500, description="In round-robin order")


class TeamUpdate(RequestModel):
    name: Name = Unset
    member_ids: list[UUID] = Field(default=None, max_length=500)  # type: ignore[assignment]


class TeamRead(ResourceRead):
    id: UUID
    name: str
    member_ids: list[UUID]
    rr_position: int = Field(description="Index in member_ids of the member whose turn is next")
    created_by: Actor
    updated_by: Actor


class ActivityCreate(RequestModel):
    lead_id: UUID | None = Field(default=None, description="What it is about: a lead, contact, account or opportunity")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    opportunity_id: UUID | None = None
    type: ActivityType
    direction: Direction = Direction.OUTBOUND
    automated: bool = Field(
        default=False, description="Sent by a tool (auto-reply, sequence email): never counts as a response"
    )
    member_id: UUID | None = Field(default=None, description="Who did it; defaults to the member bound to the API key")
    outcome: str | None = Field(default=None, max_length=64, examples=["connected", "voicemail", "no_answer"])
    duration_seconds: int | None = Field(default=None, ge=0, le=7 * 86400)
    subject: str | None = Field(default=None, max_length=300)
    notes: str | None = Field(default=None, max_length=10_000)
    occurred_at: UtcDatetime | None = Field(default=None, description="Defaults to now; not in the future")

    @model_validator(mode="after")
    def _about_something(self) -> ActivityCreate:
        if not (self.lead_id or self.contact_id or self.account_id or self.opportunity_id):
            raise ValueError("give lead_id, contact_id, account_id or opportunity_id")
        return self


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    lead_id: UUID | None
    contact_id: UUID | None
    account_id: UUID | None
    opportunity_id: UUID | None
    member_id: UUID | None
    type: ActivityType
    direction: Direction
    automated: bool
    outcome: str | None
    duration_seconds: int | None
    subject: str | None
    notes: str | None
    occurred_at: UtcDatetime
    first_response: bool = Field(description="This activity was the lead's first qualifying response")
    created_at: UtcDatetime
    created_by: Actor


class AssignRequest(RequestModel):
    member_id: UUID | None = Field(default=None, description="Assign to this member...")
    team_id: UUID | None = Field(default=None, description="...or to the member whose turn it is in this team")


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    lead_id: UUID
    from_member_id: UUID | None
    to_member_id: UUID | None
    team_id: UUID | None
    reason: str = Field(description="rule | hot_lead | manual | sla_escalation")
    rule_index: int | None = Field(description="Which routing rule (0-based) matched, for reason=rule")
    assigned_at: UtcDatetime
    assigned_by: Actor


class AssignmentList(BaseModel):
    data: list[AssignmentRead]


class SlaEscalation(BaseModel):
    lead_id: UUID
    action: str = Field(description="reassign | notify_manager")
    owner_id: UUID | None = Field(description="The owner when the SLA was breached")
    manager_id: UUID | None = Field(description="notify_manager: the owner's manager")
    to_member_id: UUID | None = Field(description="reassign: the new owner (null when nobody could take it)")
    team_id: UUID | None


class TimelineEntry(BaseModel):
    kind: str = Field(
        description="engagement | activity | task | state_change | assignment | status | journey_step (a step a "
        "journey ran for the person)"
    )
    id: UUID
    occurred_at: UtcDatetime = Field(description="When it happened (tasks: when they were created)")
    data: dict[str, Any] = Field(description="The item as its own endpoint shows it; status: the event envelope")


class TimelinePage(BaseModel):
    data: list[TimelineEntry]
    next_cursor: str | None
    withheld: list[str] = Field(
        default_factory=list,
        description="Kinds of entry left out because the key lacks their scope (engagement, activity, "
        "state_change, assignment, status: leads:read; task: tasks:read)",
    )
