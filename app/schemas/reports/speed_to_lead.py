"""The speed-to-lead report's answer."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import UtcDatetime


class SpeedStats(BaseModel):
    key: str | None = Field(description="The owner id, team id or source; null for leads without one")
    leads: int = Field(description="Leads the SLA applied to, captured in the range")
    responded: int
    p50_seconds: float | None = Field(
        description="Median first-response time (working seconds) of responded leads (nearest rank)"
    )
    p90_seconds: float | None = Field(description="Its 90th percentile (nearest rank)")
    within_sla_share: float | None = Field(description="Share of the judged leads (met or breached) that met it (0-1)")
    breached: int
    pending: int
    buckets: dict[str, int] = Field(
        description="Leads by first-response time: under_5m, 5m_30m, 30m_60m, 1h_24h, over_24h, never"
    )
    conversion: dict[str, float | None] | None = Field(
        default=None,
        description="With `conversion`: per bucket, the share of its leads that converted (0-1; null: no leads)",
    )


class SpeedToLeadReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)  # answers "from"

    from_: date | None = Field(
        alias="from",
        serialization_alias="from",
        description="First local day of the range (null when `created_after`/`created_before` set it)",
    )
    to: date | None = Field(description="Last local day of the range, inclusive (null as `from`)")
    created_after: UtcDatetime | None = Field(description="Leads captured at or after (the range's start in UTC)")
    created_before: UtcDatetime | None = Field(description="Leads captured before (the range's end in UTC)")
    group_by: str | None
    conversion: str | None = Field(default=None, description="What counts as converted: qualified, won or customer")
    overall: SpeedStats
    groups: list[SpeedStats]
