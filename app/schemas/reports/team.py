"""The team report's answer (its shape is part of the contract: frontends chart it)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.reports.common import PeriodRead, ReportQuery


class MemberFigures(BaseModel):
    member_id: UUID
    name: str
    leads_assigned: int = Field(description="Leads assigned to the member in the range (assignment history)")
    first_response_median_seconds: float | None = Field(
        description="Median first-response time of those leads (nearest rank; not counting leads the member "
        "only got by an SLA escalation)"
    )
    first_response_p90_seconds: float | None = Field(description="Its 90th percentile (nearest rank)")
    sla_met_rate: float | None = Field(description="met / (met + breached) among the same leads")
    activities: dict[str, int] = Field(description="Activities the member logged in the range, per type")
    tasks_done: int = Field(description="Their tasks completed in the range")
    tasks_overdue: int = Field(description="Their open tasks due before now (whatever the range)")
    leads_qualified: int = Field(description="Leads they own qualified in the range")
    opportunities_won: int = Field(description="Opportunities they own won in the range")
    won_amount: str = Field(
        description="Their amounts in the reporting currency, a decimal string (another currency's converted at "
        "the rate of the day it closed)"
    )
    won_other_currency_count: int = Field(description="Won opportunities with an amount in another currency")
    won_unconverted_count: int = Field(
        description="Those of them without an exchange rate for the day they closed: not in won_amount"
    )
    conversion_rate: float | None = Field(description="leads_qualified / leads_assigned (null: none assigned)")


class TeamMedian(BaseModel):
    """Each figure's median over the members listed (nearest rank; null: no member has a value)."""

    leads_assigned: int | None
    first_response_median_seconds: float | None
    first_response_p90_seconds: float | None
    sla_met_rate: float | None
    activities: dict[str, int | None]
    tasks_done: int | None
    tasks_overdue: int | None
    leads_qualified: int | None
    opportunities_won: int | None
    won_amount: str | None
    won_other_currency_count: int | None
    won_unconverted_count: int | None
    conversion_rate: float | None


class TeamPeriod(PeriodRead):
    model_config = ConfigDict(extra="forbid")

    leads_assigned: int
    leads_qualified: int
    opportunities_won: int
    won_amount: str
    tasks_done: int
    activities: int = Field(description="Activities of every type")


class TeamReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)  # answers "from"

    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    interval: str
    currency: str = Field(description="The workspace's reporting currency: every amount is in it")
    members: list[MemberFigures] = Field(description="By name")
    team_median: TeamMedian
    periods: list[TeamPeriod] = Field(description="The listed members' totals")


class TeamParams(ReportQuery):
    """`GET /v1/reports/team`'s parameters as a scheduled digest stores them: every report filter
    (`team_id` and `owner_id` choose the members listed)."""
