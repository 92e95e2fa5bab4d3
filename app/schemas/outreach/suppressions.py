"""Suppressions: addresses no message goes to."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.domain.outreach.vocabulary import ChannelType, SuppressionReason
from app.schemas.common import Actor, RequestModel, UtcDatetime


class SuppressionCreate(RequestModel):
    channel: ChannelType
    address: str = Field(
        min_length=1,
        max_length=320,
        description="An email, or a phone number (E.164, or national in the workspace's default region)",
    )
    reason: Literal["manual", "bounced", "complained"] = "manual"
    note: str | None = Field(default=None, max_length=500)


class SuppressionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    channel: ChannelType
    address: str | None = Field(description="Normalised: a case-folded email or an E.164 phone; null once erased")
    address_hash: str = Field(
        description="A keyed hash of the normalised address (HMAC-SHA-256 under the service's secrets key): what "
        "is matched before every send, and all that is kept once the person is erased"
    )
    reason: SuppressionReason
    note: str | None
    message_id: UUID | None = Field(description="The message whose bounce or complaint added it")
    created_at: UtcDatetime
    created_by: Actor
