"""Journeys on the wire: the document a client writes (trigger, steps, exits, re-enrolment; checked
by app/domain/journeys/document.py, whose 422s name the path), what it reads back, enrolments with
the steps they ran, and the statistics."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from app.schemas.common import Actor, RequestModel, ResourceRead, UtcDatetime

EXAMPLE = {
    "name": "Welcome web leads",
    "audience": "leads",
    "trigger": {
        "type": "event",
        "event": "lead.created",
        "conditions": {"all": [{"field": "source", "op": "eq", "value": "web_form"}]},
    },
    "steps": [
        {"id": "hello", "type": "send", "channel": "email", "template_id": "01a24c50-a4c5-74f2-91a8-70b96b882950",
         "purpose": "marketing"},
        {"id": "pause", "type": "wait", "seconds": 86400},
        {"id": "check", "type": "branch",
         "conditions": {"all": [{"field": "engagements.email_click", "op": "gte", "value": 1}]},
         "then": "call", "else": "nudge"},
        {"id": "nudge", "type": "send", "channel": "sms", "template_id": "01a24c50-a4c5-74f2-91a8-70b96b882951",
         "purpose": "marketing", "next": "call"},
        {"id": "call", "type": "task", "title": "Call {{ person.first_name }}", "due_in_seconds": 3600},
    ],
    "exit_on": [{"event": "lead.qualified"}, {"event": "message.replied"}],
    "reenrolment": {"type": "never"},
}  # fmt: skip

Trigger = Annotated[
    dict[str, Any],
    Field(
        description="`{type: event, event, conditions?}` (conditions on the event's resource), `{type: segment, "
        "segment_id}`, `{type: schedule, cron, conditions}` (the workspace's time zone), `{type: manual}`",
        examples=[EXAMPLE["trigger"]],
    ),
]
Steps = Annotated[
    list[dict[str, Any]],
    Field(
        max_length=100,
        description="Each `{id, type, next?, ...}`: wait, send, task, branch, split, update, disqualify, reactivate, "
        "notify, exit. A step goes on to its `next`, else the following one; after the last, the enrolment completes",
        examples=[EXAMPLE["steps"]],
    ),
]
ExitOn = Annotated[
    list[dict[str, Any]],
    Field(
        max_length=20,
        description="`{event, conditions?}` or `{conditions}`: ends an enrolment at once, the reason recorded",
        examples=[EXAMPLE["exit_on"]],
    ),
]
Reenrolment = Annotated[
    dict[str, Any],
    Field(
        description="`{type: never}` (default), `{type: after_days, days}`, `{type: always}`",
        examples=[{"type": "after_days", "days": 30}],
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Audience = Literal["leads", "contacts"]


class JourneyCreate(RequestModel):
    """A journey document, or `template` (a built-in journey) with whatever of the document it changes."""

    model_config = {"json_schema_extra": {"examples": [EXAMPLE, {"template": "lead_nurture"}]}}

    template: Literal[
        "lead_nurture", "speed_to_lead", "dormant_reengagement", "onboarding", "churn_rescue", "inactive_reactivation"
    ] | None = Field(default=None, description="Start from a built-in journey (in draft, fully editable)")  # fmt: skip
    name: Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    audience: Audience | None = None
    trigger: Trigger | None = None
    steps: Steps | None = None
    exit_on: ExitOn | None = None
    reenrolment: Reenrolment | None = None

    @model_validator(mode="after")
    def _document_or_template(self) -> JourneyCreate:
        if self.template is None:
            missing = [f for f in ("name", "audience", "trigger", "steps") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"give {', '.join(missing)} (or a built-in `template`)")
        return self


class JourneyUpdate(RequestModel):
    """Replaces the named parts of the draft (an active journey gets a new draft version)."""

    name: Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    audience: Audience | None = None
    trigger: Trigger | None = None
    steps: Steps | None = None
    exit_on: ExitOn | None = None
    reenrolment: Reenrolment | None = None


class JourneyReview(BaseModel):
    """The review of the draft version: whether publishing it waits for approval, and how far it is."""

    version: int = Field(description="The draft version under review")
    required: bool = Field(
        description="Publishing waits for its approval: the draft sends marketing (a `send` step with purpose "
        "`marketing`) and the workspace's `approvals_apply_to_journeys` is on"
    )
    status: Literal["in_review", "approved"] | None = Field(
        description="null: not submitted (or sent back by a rejection, a request for changes or an edit)"
    )
    contributors: list[UUID] = Field(
        description="Members who wrote, edited or submitted this draft (with keys bound to them): none of them may "
        "approve it"
    )
    approvals: int = Field(description="Members whose approval counts now (each once)")
    required_approvals: int = Field(description="As set when it was submitted; before that, the current setting")
    review_groups: int = Field(description="Distinct review groups of the members whose approval counts")
    required_review_groups: int
    missing: list[str] = Field(
        description="What publishing still lacks (`[]` when it needs no approval or is approved), e.g. "
        "`submission for review`, `2 more approvals`, `approvals from 1 more review group`",
        examples=[["submission for review", "3 more approvals"]],
    )
    submitted_at: UtcDatetime | None
    approved_at: UtcDatetime | None


class JourneyReviewRead(BaseModel):
    id: UUID
    journey_id: UUID
    version: int = Field(description="The draft version reviewed")
    member_id: UUID
    decision: Literal["approve", "reject", "request_changes"]
    comment: str | None
    review_group: str | None = Field(description="The member's review group when they reviewed")
    counts: bool = Field(description="An approval that counts now (a member's first since the last edit)")
    withdrawn_at: UtcDatetime | None = Field(description="When an edit, or the member's later rejection, took it back")
    created_at: UtcDatetime


class JourneyRead(ResourceRead):
    id: UUID
    name: str
    description: str | None = None
    audience: Audience
    status: Literal["draft", "active", "paused", "archived"]
    active_version: int | None = Field(description="The published version new enrolments start in")
    draft_version: int | None = Field(description="The version being edited; null when none since the last publish")
    template: str | None = Field(default=None, description="The built-in journey it was made from")
    trigger: dict[str, Any] = Field(description="Of the draft (else the active version), as for the steps below")
    steps: list[dict[str, Any]]
    exit_on: list[dict[str, Any]]
    reenrolment: dict[str, Any]
    paused_at: UtcDatetime | None = None
    archived_at: UtcDatetime | None = None
    review: JourneyReview | None = Field(default=None, description="The draft's review; null when there is no draft")
    created_by: Actor
    updated_by: Actor


class JourneyVersionRead(BaseModel):
    journey_id: UUID
    number: int
    document: dict[str, Any]
    created_at: UtcDatetime
    created_by: Actor
    updated_at: UtcDatetime
    published_at: UtcDatetime | None = None
    published_by: Actor | None = None


class EnrolmentCreate(RequestModel):
    lead_id: UUID | None = None
    contact_id: UUID | None = None

    @model_validator(mode="after")
    def _one(self) -> EnrolmentCreate:
        if (self.lead_id is None) == (self.contact_id is None):
            raise ValueError("give exactly one of lead_id and contact_id")
        return self


class EnrolmentRead(ResourceRead):
    id: UUID
    journey_id: UUID
    journey_version: int = Field(description="The version it runs on, whatever is published later")
    lead_id: UUID | None = None
    contact_id: UUID | None = None
    status: Literal["active", "completed", "exited"]
    exit_reason: str | None = Field(
        default=None,
        description="`event:<type>` or `conditions` (an exit rule), `exit_step`, `journey_archived`, `person_gone`",
    )
    current_step: str | None
    visit: int = Field(description="How many times the current step was entered (a loop through a wait)")
    variant: str | None = Field(default=None, description="The split variant it took")
    due_at: UtcDatetime | None = Field(default=None, description="When the worker next advances it")
    waiting_event: str | None = Field(default=None, description="The event a wait step waits for")
    enrolled_at: UtcDatetime
    ended_at: UtcDatetime | None = None
    trigger: dict[str, Any] | None = Field(default=None, description="What enrolled it")


class StepRun(BaseModel):
    step_id: str
    visit: int
    step_type: str
    result: dict[str, Any] | None = Field(
        description="`message_id` (send), `task_id` (task), `branch` (then | else), `variant`, `until` (wait), "
        "`error` when the step could not do its work"
    )
    started_at: UtcDatetime
    finished_at: UtcDatetime | None


class JourneyStepRead(StepRun):
    """A step a journey ran for a person, as their timeline shows it."""

    id: UUID
    enrolment_id: UUID
    journey_id: UUID
    lead_id: UUID | None = None
    contact_id: UUID | None = None


class EnrolmentDetail(EnrolmentRead):
    steps: list[StepRun] = Field(description="Every step it ran, in order")


class JourneyNotified(BaseModel):
    """`journey.notified`: a notify step ran for a person."""

    journey_id: UUID
    enrolment_id: UUID
    step_id: str
    lead_id: UUID | None = None
    contact_id: UUID | None = None
    message: str
    data: dict[str, Any] | None = None


class StepStats(BaseModel):
    step_id: str
    entered: int = Field(description="Visits (a person who comes back counts again)")
    completed: int
    waiting: int = Field(description="Enrolments at this step now")
    exited: dict[str, int] = Field(description="Enrolments that left the journey at this step, by exit reason")


class VariantStats(BaseModel):
    name: str
    enrolled: int
    converted: int
    rate: float | None


class VariantComparison(BaseModel):
    control: str
    variant: str
    difference: float | None = Field(description="The variant's conversion rate minus the control's")
    p_value: float | None = Field(description="Two-sided, of a pooled two-proportion z-test")
    p_adjusted: float | None = Field(description="Holm-adjusted over the comparisons with the control")
    interval: list[float] | None = Field(description="Newcombe's interval of the difference at 1 - alpha")
    winner: str | None


class SplitStats(BaseModel):
    step_id: str
    alpha: float
    min_per_variant: int = Field(description="No winner before every variant has this many enrolments")
    variants: list[VariantStats]
    comparisons: list[VariantComparison]
    winner: str | None


class JourneyStats(BaseModel):
    """A journey's enrolments (every version), its steps, and goal conversion: an enrolment converts
    when an exit rule (`exit_on`: its goals) ended it."""

    journey_id: UUID
    enrolled: int
    active: int
    completed: int
    exited: dict[str, int] = Field(description="By exit reason")
    converted: int
    conversion_rate: float | None
    steps: list[StepStats]
    split: SplitStats | None = Field(description="Goal conversion per variant of the active version's first split")
