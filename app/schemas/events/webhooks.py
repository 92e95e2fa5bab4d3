from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import Actor, RequestModel, ResourceRead, Unset, UtcDatetime

Url = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://hooks.example.com/crm"])]
EventTypes = Annotated[
    list[str],
    Field(
        description="Event types to receive; empty = every type the endpoint's scopes may read. A type those "
        "scopes may not read is a 422 naming it.",
        examples=[["member.created"]],
    ),
]
MAX_IN_FLIGHT = 50
MaxInFlight = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_IN_FLIGHT,
        description="How many deliveries to this endpoint may be out at once (1 to 50). 1 (the default) sends "
        "them one at a time: first attempts arrive in `sequence` order. More sends up to that many "
        "concurrently for throughput, and they may arrive out of order: reorder by the payload's `sequence` "
        "(the `webhook-id` header names each message, `webhook-timestamp` when it was sent).",
        examples=[1],
    ),
]


class WebhookEndpointCreate(RequestModel):
    url: Url
    event_types: EventTypes = Field(default_factory=list)
    description: str = Field(default="", max_length=500)
    enabled: bool = True
    max_in_flight: MaxInFlight = 1


class WebhookEndpointUpdate(RequestModel):
    url: Url = Unset
    event_types: EventTypes = Unset
    description: str = Field(default=Unset, max_length=500)
    enabled: bool = Field(default=Unset, description="Re-enabling resumes the deliveries that waited")
    max_in_flight: MaxInFlight = Unset


class WebhookEndpointRead(ResourceRead):
    id: UUID
    url: str
    event_types: list[str]
    scopes: list[str] = Field(
        description="The scopes of the key that created it: it is delivered only the event types they may read "
        '(endpoints older than this field are recorded as `["admin"]`)'
    )
    description: str
    enabled: bool
    max_in_flight: MaxInFlight
    disabled_reason: str | None = Field(description="Why the service disabled it (410 Gone, 5 days failing)")
    failing_since: UtcDatetime | None
    created_by: Actor


class WebhookEndpointCreated(WebhookEndpointRead):
    secret: str = Field(description="Signing secret (`whsec_` + base64). Shown only in this response.")


class WebhookTestData(BaseModel):
    endpoint_id: UUID
    message: str


class DeliveryRead(BaseModel):
    id: UUID
    endpoint_id: UUID
    event_id: UUID
    event_type: str
    sequence: int
    status: str = Field(description="pending | succeeded | failed")
    attempts: int
    next_attempt_at: UtcDatetime | None
    last_attempt_at: UtcDatetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: UtcDatetime


class AttemptRead(BaseModel):
    attempted_at: UtcDatetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None


class DeliveryDetail(DeliveryRead):
    attempts_log: list[AttemptRead]


class ReplayRequest(RequestModel):
    since: UtcDatetime | None = Field(default=None, description="Replay events that occurred at or after this time")
    since_sequence: int | None = Field(default=None, ge=0, description="Replay events after this sequence number")


class ReplayResult(BaseModel):
    deliveries_created: int
