"""Engagements (what a lead did), scores with their explanation, temperature and stage history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.domain.leads.scoring import EngagementType, Stage, Temperature
from app.schemas.common import Actor, BatchRequest, RequestModel, UtcDatetime

Properties = Field(
    default_factory=dict,
    description="Optional context: url, campaign, asset, subject... (at most 20 keys)",
    max_length=20,
    examples=[{"url": "https://www.shop.example/pricing", "campaign": "winter"}],
)


class EngagementCreate(RequestModel):
    type: EngagementType
    occurred_at: datetime | None = Field(default=None, description="When it happened (default: now); RFC 3339")
    properties: dict[str, Any] = Properties


class EngagementBatchItem(EngagementCreate):
    lead_id: UUID | None = Field(default=None, description="Match the lead by id…")
    email: Annotated[str, Field(max_length=320)] | None = Field(default=None, description="…or by email…")
    external_id: Annotated[str, Field(max_length=200)] | None = Field(default=None, description="…or by external_id")


class EngagementBatch(BatchRequest):
    engagements: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Each an engagement with lead_id, email or external_id"
    )


class EngagementBatchResult(BaseModel):
    index: int
    status: Literal["recorded", "error"]
    id: UUID | None = None
    lead_id: UUID | None = None
    reason: str | None = None
    problem: dict[str, Any] | None = None


class EngagementBatchResults(BaseModel):
    results: list[EngagementBatchResult]


class TrackedEngagement(RequestModel):
    """What the browser tracking snippet sends with a publishable key: anonymous page-level
    behaviour, linked to a lead when a form submission carries the same visitor_id."""

    visitor_id: Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
    type: Literal["page_view", "content_download", "video_view"]
    occurred_at: datetime | None = None
    properties: dict[str, Any] = Properties


class EngagementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    lead_id: UUID | None
    contact_id: UUID | None = Field(default=None, description="Set once the lead is qualified into a contact")
    visitor_id: str | None
    type: EngagementType
    occurred_at: UtcDatetime
    properties: dict[str, Any]
    origin: Literal["api", "tracking", "message"] = Field(
        description="`api`: recorded by a key; `tracking`: the browser snippet; `message`: a message's open or click"
    )
    created_at: UtcDatetime


class TrackingAccepted(BaseModel):
    id: UUID


class ScoreLine(BaseModel):
    part: Literal["fit", "behavior", "cap", "clamp"]
    label: str
    points: float
    rule: int | None = Field(default=None, description="Index of the fit rule in /v1/settings/scoring")
    engagement_type: EngagementType | None = None
    count: int | None = Field(default=None, description="How many engagements of this type contributed")
    last_occurred_at: UtcDatetime | None = None


class ScoreRead(BaseModel):
    lead_id: UUID
    score: float = Field(description="0-100: the sum of every line below")
    fit_score: float
    behavior_score: float
    temperature: Temperature
    stage: Stage | None = Field(description="null: no qualifying signal yet")
    mql_candidate: bool = Field(description="The score reached MQL; marketing has not accepted the lead yet")
    reasons: dict[str, str] = Field(
        description="Why the temperature and the stage are what they are (and, for a candidate, `mql_candidate`)"
    )
    lines: list[ScoreLine]
    computed_at: UtcDatetime = Field(description="The score as of now (behaviour decays continuously)")
    stored_score: float = Field(description="The score kept on the lead, as of its scored_at")
    scored_at: UtcDatetime | None


class StateChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    lead_id: UUID
    kind: Literal["temperature", "stage"]
    from_value: str | None = Field(description="null: no stage")
    to_value: str | None = Field(description="null: no stage")
    cause: str = Field(description="`manual` for a person's change; else what the rules saw")
    reason: str | None = Field(default=None, description="The reason a person gave (`stage_reason`)")
    score: float
    occurred_at: UtcDatetime
    changed_by: Actor = Field(description="Who made the change, or whose request set it off")
