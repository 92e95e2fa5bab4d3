"""The dashboard overview's answer."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import UtcDatetime
from app.schemas.reports.common import ReportQuery


class OwnerCount(BaseModel):
    owner_id: UUID | None = Field(description="The member (null: unassigned)")
    name: str | None
    count: int


class LeadCounts(BaseModel):
    by_status: dict[str, int] = Field(description="Open leads per status (new, contacted, nurturing)")
    by_stage: dict[str, int] = Field(description="Per stage (ial, mql, sql; `none`: no stage yet)")
    by_temperature: dict[str, int]
    by_owner: list[OwnerCount] = Field(description="The largest first")
    by_source: dict[str, int]


class SlaCounts(BaseModel):
    open_clocks: int = Field(description="Open leads whose first response is pending and not yet due")
    breached_today: int = Field(description="Leads whose first-response deadline passed today unanswered by then")


class TaskCounts(BaseModel):
    due_today: int = Field(description="Open tasks due within today (local day), passed or not")
    overdue: int = Field(description="Open tasks due before now")


class ChurnAlertCounts(BaseModel):
    open: int = Field(description="Churn alerts without an outcome")


class RevenueToDate(BaseModel):
    currency: str = Field(description="The reporting currency")
    month_to_date: str = Field(
        description="Net revenue of the purchases placed this month so far", examples=["1250.00"]
    )
    previous_month_to_date: str = Field(description="The same for the previous month up to the same point")
    change: float | None = Field(description="(this - previous) / previous, four decimals; null when previous is 0")
    month_start: UtcDatetime = Field(description="This month's first instant, in the workspace's calendar")
    previous_month_start: UtcDatetime
    previous_month_end: UtcDatetime = Field(description="Where the previous month's stretch ends (exclusive)")


class Overview(BaseModel):
    as_of: UtcDatetime = Field(description="When the counts were taken")
    date: dt.date = Field(description="Today, in the workspace's time zone")
    leads: LeadCounts | None = Field(description="Open leads (`leads:read`; null: withheld)")
    sla: SlaCounts | None = Field(description="First-response clocks (`leads:read`)")
    tasks: TaskCounts | None = Field(description="`tasks:read`")
    churn_alerts: ChurnAlertCounts | None = Field(description="`analytics:read`")
    revenue: RevenueToDate | None = Field(description="`orders:read`")
    withheld: list[str] = Field(description="The sections the key may not read (null above)")
    filtered: list[str] = Field(
        description="The sections the filters given narrowed (of leads, sla, tasks; churn alerts and revenue never "
        "are); empty without a filter"
    )


class OverviewParams(ReportQuery):
    """The overview's digest takes the reports' filters (narrowing its leads, SLA and tasks
    sections) but no interval: it is the counts at the occurrence."""

    interval: None = Field(default=None, description="Not a parameter of this report")
