"""The funnel report's answer (its shape is part of the contract: frontends chart it)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.reports.common import PeriodRead, ReportQuery

Stage = Literal["lead", "mql", "sql", "opportunity", "won", "customer"]


class FunnelStage(BaseModel):
    stage: Stage
    count: int = Field(description="Leads that reached this stage or a later one")
    rate_from_previous: float | None = Field(description="count / the previous stage's count (null: none there)")
    median_seconds_from_previous: float | None = Field(
        description="Median time from the previous stage to this one, over leads with both (nearest rank)"
    )
    p90_seconds_from_previous: float | None = Field(description="Its 90th percentile (nearest rank)")


class GroupStage(BaseModel):
    stage: Stage
    count: int
    rate_from_previous: float | None


class FunnelPeriod(PeriodRead):
    model_config = ConfigDict(extra="forbid")

    lead: int
    mql: int
    sql: int
    opportunity: int
    won: int
    customer: int


class FunnelGroup(BaseModel):
    key: str | None = Field(description="The source, or the member, team, form or campaign id (null: none)")
    name: str | None = Field(description="The member's, team's, form's or campaign's name")
    stages: list[GroupStage]
    lead_to_customer_rate: float | None


class Conversion(BaseModel):
    rate: float | None = Field(description="Customers / leads over the range")
    typical: float = Field(description="The sources' figure for most businesses: under 5% of leads become customers")
    good_low: float = Field(description="With good lead management: 20%...")
    good_high: float = Field(description="...to 35%")
    standing: Literal["no_leads", "below_typical", "typical", "good", "above_good"]


class FunnelReport(BaseModel):
    mode: Literal["cohort", "activity"]
    interval: str
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    group_by: str | None
    stages: list[FunnelStage]
    conversion: Conversion
    periods: list[FunnelPeriod]
    groups: list[FunnelGroup]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)  # answers "from"


class FunnelParams(ReportQuery):
    """`GET /v1/reports/funnel`'s parameters, as a scheduled digest of the funnel stores them."""

    mode: Literal["cohort", "activity"] = Field(default="cohort", description="Who is counted")
    group_by: Literal["source", "owner", "team", "form", "campaign"] | None = Field(
        default=None, description="Groups beside the totals"
    )
