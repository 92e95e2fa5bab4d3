"""Loyalty points on the wire."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.domain.customers.loyalty import EntryKind
from app.schemas.common import Actor, RequestModel, UtcDatetime


class LoyaltyEntryCreate(RequestModel):
    kind: EntryKind
    points: int = Field(
        description="How many points: positive for earn, redeem and expire; signed for adjust", examples=[120]
    )
    reason: Annotated[str, Field(max_length=500)] | None = None
    reference: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None,
        description="Your id for this entry (an order, a reward): recorded once per contact; sending it again "
        "answers the recorded entry (200) and changes nothing",
    )
    order_id: UUID | None = Field(default=None, description="The order it is for, if any")


class LoyaltyEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    contact_id: UUID
    kind: EntryKind
    points: int = Field(description="What it did to the balance (signed)")
    balance_after: int
    reason: str | None
    reference: str | None
    order_id: UUID | None
    created_at: UtcDatetime
    created_by: Actor
