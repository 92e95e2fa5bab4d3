from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from app.schemas.common import Country, Currency, Name, RequestModel, ResourceRead, TimeZone, Unset


class WorkspaceRead(ResourceRead):
    id: UUID
    name: str
    default_region: str | None = Field(description="Phone region (ISO 3166-1 alpha-2) for numbers without +")
    timezone: str = Field(description="IANA time zone for schedules and reports")
    currency: str = Field(description="Reporting currency (ISO 4217)")
    calendar: Literal["gregorian", "jalali"] = Field(
        description="How reports cut and name periods (months, quarters, years; weeks start on the region's first "
        "day). Dates are stored Gregorian whatever it is. New workspaces in Iran: jalali"
    )
    locale: Literal["en", "fa"] = Field(description="The language of reports' display labels and digests (Iran: fa)")


class WorkspaceUpdate(RequestModel):
    """Send only what changes; `default_region` may be null, the others may not. Changing
    `default_region` changes neither `calendar` nor `locale`."""

    name: Name = Unset
    default_region: Country | None = None
    timezone: TimeZone = Unset
    currency: Currency = Unset
    calendar: Literal["gregorian", "jalali"] = Unset
    locale: Literal["en", "fa"] = Unset
