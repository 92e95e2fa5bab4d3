"""What every report answers of its periods."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, Field

from app.domain.leads.lifecycle import Source
from app.domain.reports.periods import Interval
from app.domain.reports.scope import ReportFilters
from app.schemas.common import RequestModel, UtcDatetime


class PeriodRead(BaseModel):
    label: str = Field(
        description="Fixed and machine-readable: a day or week is the ISO date of its first day; a month YYYY-MM, "
        "a quarter YYYY-Qn, a year YYYY, numbered in the workspace's calendar (1404-09 is Azar 1404)",
        examples=["1404-09", "2026-12-05"],
    )
    display_label: str = Field(description="For people, in the workspace's locale", examples=["آذر ۱۴۰۴"])
    start: UtcDatetime = Field(description="The first instant (local midnight, in UTC)")
    end: UtcDatetime = Field(description="The first instant after it (exclusive)")
    start_date: date = Field(description="The first local day")
    end_date: date = Field(description="The last local day (inclusive); the range's bounds cut the outer periods")


class ReportQuery(RequestModel):
    """A report's query parameters as a schedule stores them (`params`): the names, types and
    rules of the report's query string, less `from` and `to` (a digest covers the days before
    each occurrence). Each report that can be scheduled extends it with its own parameters."""

    interval: Interval | None = Field(
        default=None, description="Periods in the workspace's calendar; a digest's default: day"
    )
    owner_id: UUID | None = Field(default=None, description="Leads owned by this member")
    team_id: UUID | None = Field(default=None, description="Leads of this team")
    source: Source | None = Field(default=None, description="Leads from this source")
    form_id: UUID | None = Field(default=None, description="Leads who submitted this form")
    utm_campaign: str | None = Field(default=None, max_length=200, description="Leads with this utm_campaign")
    campaign_id: UUID | None = Field(default=None, description="Leads this campaign messaged")

    def filters(self) -> ReportFilters:
        return ReportFilters(
            owner_id=self.owner_id,
            team_id=self.team_id,
            source=self.source.value if self.source is not None else None,
            form_id=self.form_id,
            utm_campaign=self.utm_campaign,
            campaign_id=self.campaign_id,
        )
