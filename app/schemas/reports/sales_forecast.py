"""The sales forecast's answer (its shape is part of the contract: frontends chart it). Values are
strings: revenue a decimal amount in the reporting currency, orders a whole number."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.reports.forecast import HORIZON_DEFAULT, HORIZON_MAX
from app.domain.reports.periods import Interval
from app.schemas.common import UtcDatetime
from app.schemas.reports.common import PeriodRead, ReportQuery


class HistoryPoint(PeriodRead):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(
        description="Revenue (decimal string) or orders (whole number as a string)", examples=["1250.00"]
    )


class ForecastPoint(PeriodRead):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="The forecast")
    lower: str = Field(description="Its 80% interval's lower end (P10), never below 0")
    upper: str = Field(description="Its upper end (P90)")


class BacktestRead(BaseModel):
    metric: Literal["smape"] = Field(description="sMAPE: mean of 2|F - A| / (|A| + |F|), a fraction from 0 to 2")
    model_error: float | None = Field(description="The chosen model's rolling-origin error (null: no backtest)")
    seasonal_naive_error: float | None = Field(
        description="Seasonal naive's on the same origins; null when no seasonal-naive forecast is possible (no "
        "season, or no full season before the first origin: the baseline is then naive)"
    )
    origins: int = Field(description="Forecast origins, one period apart, ending `horizon` periods before the end")
    horizon: int = Field(description="Periods each origin forecasts")
    baseline: str | None = Field(
        description="The model a candidate must beat: seasonal_naive, or naive when no season fits (null: no backtest)"
    )
    baseline_error: float | None = Field(description="The baseline's error on the same origins (null: no backtest)")


class ForecastBlock(BaseModel):
    history: list[HistoryPoint]
    forecast: list[ForecastPoint]
    model: str = Field(description="seasonal_naive, naive, ets, holt_damped, sarimax or mean; none: too little history",
                       examples=["ets"])  # fmt: skip
    note: str | None = Field(description="Why a simpler model family was tried (the history's shortfall), or null")
    backtest: BacktestRead
    candidates: dict[str, float | None] = Field(description="Each model tried and its backtest error (null: failed)")
    exogenous: list[str] = Field(description="The inputs the chosen regression used (occasions, exchange_rate)")


class CategoryForecast(ForecastBlock):
    category: str | None = Field(description="The product category (null: lines without one)")


class SalesForecastReport(ForecastBlock):
    interval: str
    metric: Literal["revenue", "orders"]
    as_of: date = Field(description="The history's horizon: no later order is read")
    horizon: int = Field(description="How many periods are forecast (the `periods` parameter)", examples=[6])
    by: Literal["category"] | None
    currency: str | None = Field(description="Revenue's reporting currency (null for orders)")
    exchange_rate_currency: str | None = Field(
        description="The currency whose rate into the reporting currency was offered to the model (null: none)"
    )
    unconverted_orders: int = Field(description="Orders in the history left out of revenue for want of a rate")
    categories: list[CategoryForecast] | None = Field(
        default=None, description="by=category: the ten categories with the most history, each forecast"
    )
    computed_at: UtcDatetime = Field(description="When this forecast was computed (answers come from a cache)")


class SalesForecastParams(ReportQuery):
    """`GET /v1/reports/sales-forecast`'s parameters as a scheduled digest stores them: `metric`,
    `interval` (default month), `periods` and `by`; no `as_of` (a digest's is the day before its
    occurrence) and none of the leads' filters."""

    interval: Interval | None = Field(default=None, description="Periods in the workspace's calendar; default: month")
    metric: Literal["revenue", "orders"] = Field(default="revenue", description="What is forecast")
    periods: int = Field(default=HORIZON_DEFAULT, ge=1, le=HORIZON_MAX, description="How many periods ahead")
    by: Literal["category"] | None = Field(default=None, description="category: per product category too")
    owner_id: None = Field(default=None, description="Not a filter of this report")
    team_id: None = Field(default=None, description="Not a filter of this report")
    source: None = Field(default=None, description="Not a filter of this report")
    form_id: None = Field(default=None, description="Not a filter of this report")
    utm_campaign: None = Field(default=None, description="Not a filter of this report")
    campaign_id: None = Field(default=None, description="Not a filter of this report")
