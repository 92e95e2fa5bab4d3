"""The win/loss report's answer (its shape is part of the contract: frontends chart it)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.reports.common import PeriodRead, ReportQuery

Outcome = Literal["won", "lost", "disqualified"]


class ClosedDeals(BaseModel):
    count: int = Field(description="Opportunities closed so in the range (every currency)")
    amount: str = Field(
        description="Their amounts in the reporting currency, a decimal string (no amount counts as 0; another "
        "currency's converted at the rate of the day it closed)",
        examples=["12500.00"],
    )
    other_currency_count: int = Field(description="How many of them have an amount in another currency")
    unconverted_count: int = Field(
        description="How many of those had no exchange rate for the day they closed: counted, their amounts not in "
        "`amount`"
    )


class Disqualified(BaseModel):
    count: int = Field(description="Leads disqualified in the range")


class ReasonRow(BaseModel):
    outcome: Outcome
    reason: str | None = Field(description="The close reason, or the disqualification reason")
    count: int
    amount: str | None = Field(description="In the reporting currency; null for disqualified leads")


class Figures(BaseModel):
    won: ClosedDeals
    lost: ClosedDeals
    win_rate: float | None = Field(description="won / (won + lost), 4 places; null when nothing closed")
    disqualified: Disqualified


class OwnerRow(Figures):
    owner_id: str | None = Field(description="The opportunity's or the lead's owner (null: none)")
    name: str | None = Field(description="The member's name")


class SourceRow(Figures):
    source: str | None = Field(description="The lead's source (an opportunity without a lead: null)")


class WinLossPeriod(PeriodRead):
    model_config = ConfigDict(extra="forbid")

    won: int
    lost: int
    won_amount: str
    lost_amount: str
    win_rate: float | None
    disqualified: int


class WinLossReport(Figures):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)  # answers "from"

    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    interval: str
    currency: str = Field(description="The workspace's reporting currency: every amount is in it")
    by_reason: list[ReasonRow] = Field(description="Won reasons, then lost, then disqualification reasons")
    by_owner: list[OwnerRow] = Field(description="The owners with the most outcomes first")
    by_source: list[SourceRow] = Field(description="The sources with the most outcomes first")
    periods: list[WinLossPeriod]


class WinLossParams(ReportQuery):
    """`GET /v1/reports/win-loss`'s parameters as a scheduled digest stores them: every report
    filter."""
