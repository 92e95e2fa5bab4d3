"""Per-feature settings sections (`/v1/settings/{section}`); later issues add theirs here."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.domain.leads import scoring
from app.domain.leads.scoring import EngagementType, Operator
from app.schemas.common import RequestModel, ResourceRead


class RetentionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key_hours: int = Field(
        default=24, ge=1, le=168, description="How long a POST's result is replayed for its Idempotency-Key"
    )
    webhook_response_excerpt_days: int = Field(
        default=30, ge=0, le=365, description="How long webhook delivery attempts keep the receiver's response excerpt"
    )


class RetentionSettingsUpdate(RequestModel):
    idempotency_key_hours: int = Field(default=None, ge=1, le=168)  # type: ignore[assignment]
    webhook_response_excerpt_days: int = Field(default=None, ge=0, le=365)  # type: ignore[assignment]


class RetentionSettingsRead(RetentionSettings, ResourceRead):
    pass


Points = Field(ge=-100, le=100, allow_inf_nan=False)
Weight = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]


class FitRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        max_length=80,
        description="industry, job_title, company, company_size, country, province, city, source, channel, tags, "
        "email, phone, referral (true for referral leads), or custom.<key>",
    )
    operator: Operator
    value: Any = Field(description="A value, a list (in, contains_any), a number (gte, lte) or a boolean (exists)")
    points: float = Points
    label: str | None = Field(default=None, max_length=100, description="How the rule reads in a score's explanation")


class TemperatureThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warm: float = Field(default=30, ge=0, le=100)
    hot: float = Field(default=60, ge=0, le=100)


class StageThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mql: float = Field(default=40, ge=0, le=100)
    sql: float = Field(default=70, ge=0, le=100)


class ScoringSettings(BaseModel):
    """Score = fit (capped) + behaviour (capped, each engagement's points halving every half-life),
    clamped to 0-100."""

    model_config = ConfigDict(extra="forbid")

    fit_rules: list[FitRule] = Field(
        default_factory=lambda: [FitRule.model_validate(r) for r in scoring.DEFAULT_FIT_RULES], max_length=200
    )
    behavior_weights: dict[EngagementType, Weight] = Field(
        default_factory=lambda: {EngagementType(k): v for k, v in scoring.DEFAULT_WEIGHTS.items()},
        description="Points one engagement of each type is worth when it happens (negative allowed)",
    )
    half_life_days: float = Field(default=30, gt=0, le=3650, description="Behaviour points halve every this many days")
    fit_cap: float = Field(default=50, ge=0, le=100)
    behavior_cap: float = Field(default=50, ge=0, le=100)
    temperature_thresholds: TemperatureThresholds = Field(default_factory=TemperatureThresholds)
    stage_thresholds: StageThresholds = Field(default_factory=StageThresholds)
    hot_intent: list[EngagementType] = Field(
        default_factory=lambda: [
            EngagementType.DEMO_REQUEST,
            EngagementType.PRICING_PAGE_VIEW,
            EngagementType.MEETING_BOOKED,
        ],
        description="Engagements that make a lead hot at once while recent (intent_days)",
    )
    sales_intent: list[EngagementType] = Field(
        default_factory=lambda: [EngagementType.DEMO_REQUEST, EngagementType.MEETING_BOOKED],
        description="Engagements that make a lead sales-qualified (SQL) at once while recent",
    )
    intent_days: float = Field(default=14, gt=0, le=365)


class ScoringSettingsUpdate(RequestModel):
    fit_rules: list[FitRule] = Field(default=None, max_length=200)  # type: ignore[assignment]
    behavior_weights: dict[EngagementType, Weight] = None  # type: ignore[assignment]
    half_life_days: float = Field(default=None, gt=0, le=3650)  # type: ignore[assignment]
    fit_cap: float = Field(default=None, ge=0, le=100)  # type: ignore[assignment]
    behavior_cap: float = Field(default=None, ge=0, le=100)  # type: ignore[assignment]
    temperature_thresholds: TemperatureThresholds = None  # type: ignore[assignment]
    stage_thresholds: StageThresholds = None  # type: ignore[assignment]
    hot_intent: list[EngagementType] = None  # type: ignore[assignment]
    sales_intent: list[EngagementType] = None  # type: ignore[assignment]
    intent_days: float = Field(default=None, gt=0, le=365)  # type: ignore[assignment]


class ScoringSettingsRead(ScoringSettings, ResourceRead):
    pass


# section name -> (stored model, update model, read model)
SECTIONS: dict[str, tuple[type[BaseModel], type[BaseModel], type[ResourceRead]]] = {
    "retention": (RetentionSettings, RetentionSettingsUpdate, RetentionSettingsRead),
    "scoring": (ScoringSettings, ScoringSettingsUpdate, ScoringSettingsRead),
}
