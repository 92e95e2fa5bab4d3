from __future__ import annotations

from uuid import UUID

from pydantic import Field

from app.schemas.common import Country, Currency, Name, RequestModel, ResourceRead, TimeZone, Unset


class WorkspaceRead(ResourceRead):
    id: UUID
    name: str
    default_region: str | None = Field(description="Phone region (ISO 3166-1 alpha-2) for numbers without +")
    timezone: str = Field(description="IANA time zone for schedules and reports")
    currency: str = Field(description="Reporting currency (ISO 4217)")


class WorkspaceUpdate(RequestModel):
    """Send only what changes; `default_region` may be null, the others may not."""

    name: Name = Unset
    default_region: Country | None = None
    timezone: TimeZone = Unset
    currency: Currency = Unset
