"""Marketing spend per acquisition channel and month, for CLV:CAC."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from app.schemas.common import Actor, Currency, RequestModel, ResourceRead, Unset, UtcDatetime
from app.schemas.customers.service_records import Money, _money

Channel = Annotated[
    str,
    Field(min_length=1, max_length=100, description="Lower-cased: the contacts' `acquisition_channel` (utm_source)"),
]
Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"], description="YYYY-MM")]


class AcquisitionCostCreate(RequestModel):
    channel: Channel
    month: Month
    spend: Money
    currency: Currency | None = Field(default=None, description="Defaults to the workspace's currency")
    notes: Annotated[str, Field(max_length=2000)] | None = None


class AcquisitionCostUpdate(RequestModel):
    channel: Channel = Unset
    month: Month = Unset
    spend: Money = Unset
    currency: Currency = Unset
    notes: Annotated[str, Field(max_length=2000)] | None = None


class AcquisitionCostRead(ResourceRead):
    id: UUID
    channel: str
    month: str
    spend: str
    currency: str
    notes: str | None
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor

    @model_validator(mode="before")
    @classmethod
    def _amounts(cls, row: Any) -> Any:
        return _money(row, "spend")


class AcquisitionCostFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived records")
    channel: str | None = Field(default=None, max_length=100)
    month: Month | None = None
