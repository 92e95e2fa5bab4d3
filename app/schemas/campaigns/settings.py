"""The `campaigns` settings section: how many approvals, from how many review groups, a campaign
needs before launch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import RequestModel, ResourceRead


class CampaignSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required_approvals: int = Field(
        default=3, ge=1, le=100, description="Members (other than the author) whose approval a campaign needs"
    )
    require_distinct_review_groups: int = Field(
        default=0, ge=0, le=100, description="Distinct review groups those approving members must come from"
    )
    approvals_apply_to_journeys: bool = Field(
        default=False,
        description="A journey draft that sends marketing (a `send` step with purpose `marketing`) needs the same "
        "approvals before it is published",
    )
    min_sample: int = Field(
        default=100, ge=1, le=10_000_000, description="Recipients per variant before a variant is called a winner"
    )


class CampaignSettingsUpdate(RequestModel):
    required_approvals: int = Field(default=None, ge=1, le=100)  # type: ignore[assignment]
    require_distinct_review_groups: int = Field(default=None, ge=0, le=100)  # type: ignore[assignment]
    approvals_apply_to_journeys: bool = Field(default=None)  # type: ignore[assignment]
    min_sample: int = Field(default=None, ge=1, le=10_000_000)  # type: ignore[assignment]


class CampaignSettingsRead(CampaignSettings, ResourceRead):
    pass
