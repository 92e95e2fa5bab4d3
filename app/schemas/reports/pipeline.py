"""The pipeline report's answer (its shape is part of the contract: frontends chart it). Amounts are
decimal strings in the workspace's reporting currency."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.domain.customers.opportunities import OpportunityType
from app.domain.reports.periods import Interval
from app.domain.reports.pipeline import SEED
from app.schemas.reports.common import PeriodRead, ReportQuery

Money = str


class PipelineStage(BaseModel):
    stage: Literal["prospecting", "qualification", "proposal", "negotiation"]
    count: int = Field(description="Open opportunities at this stage (every one: placed, undated or outside)")
    without_amount: int = Field(description="Of them, without an amount (counted as 0)")
    amount: Money = Field(description="Their amounts together: what they are worth if all are won")
    weighted_by_stage: Money = Field(description="Sum of amount x the opportunity's own probability / 100 (exact, "
                                     "rounded half-even once)")  # fmt: skip
    weighted_by_history: Money = Field(description="Sum of amount x `win_rate`")
    win_rate: float = Field(
        description="The stage's win rate the forecast uses: from history when at least 20 "
        "closed opportunities were ever at the stage, else the stage's default probability"
    )
    win_rate_source: Literal["history", "stage_probability"]
    default_probability: int = Field(description="The stage's default probability (0-100): the prior and fallback")
    closed: int = Field(description="Won or lost opportunities that were ever at this stage")
    won: int = Field(description="Of them, won")
    observed_win_rate: float | None = Field(description="won / closed (null: none closed)")


class PipelinePeriod(PeriodRead):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(description="Open opportunities expected to close in the period (overdue ones: today's)")
    overdue: int = Field(description="Of them, expected to close before today")
    amount: Money
    expected: Money = Field(description="The mean of won revenue (exact, not the draws')")
    p10: Money = Field(description="Won revenue: 10th percentile of the draws (the pessimistic one)")
    p50: Money
    p90: Money


class Unplaced(BaseModel):
    count: int
    amount: Money
    expected: Money


class PipelineTotal(BaseModel):
    count: int
    overdue: int
    amount: Money
    expected: Money
    p10: Money = Field(description="Of the periods' won revenue together (the same draws summed)")
    p50: Money
    p90: Money


class Unconverted(BaseModel):
    currency: str
    count: int = Field(description="Open opportunities in this currency without a recent rate: left out")
    amount: Money = Field(description="Their amounts, in their own currency")


class PipelineReport(BaseModel):
    from_: date = Field(alias="from")
    to: date
    interval: str
    today: date = Field(description="The workspace's local date: overdue deals are placed on it")
    currency: str = Field(description="The reporting currency of every amount")
    basis: Literal["calibrated", "stage_probability"]
    seed: int
    draws: int
    stages: list[PipelineStage]
    periods: list[PipelinePeriod]
    undated: Unplaced = Field(description="Open opportunities without an expected close date: not forecast")
    outside: Unplaced = Field(description="Those expected to close outside every period: not forecast")
    total: PipelineTotal
    unconverted: list[Unconverted]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class PipelineParams(ReportQuery):
    """`GET /v1/reports/pipeline`'s parameters as a scheduled digest stores them: the periods ahead
    from the occurrence's day (`interval`, default month: six of them), the forecast's `seed` and
    `basis`, the opportunities' filters `account_id` and `type`, and every report filter."""

    interval: Interval | None = Field(default=None, description="Periods ahead in the workspace's calendar; "
                                      "default: month")  # fmt: skip
    seed: int = Field(default=SEED, ge=0, le=2**63 - 1, description="The draws' seed")
    basis: Literal["calibrated", "stage_probability"] = Field(
        default="calibrated", description="The stage's win rate, or each deal's own probability"
    )
    account_id: UUID | None = Field(default=None, description="Opportunities of this account")
    type: OpportunityType | None = Field(default=None, description="Opportunities of this type")
