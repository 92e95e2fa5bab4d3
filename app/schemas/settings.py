"""Per-feature settings sections (`/v1/settings/{section}`); later issues add theirs here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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


# section name -> (stored model, update model, read model)
SECTIONS: dict[str, tuple[type[BaseModel], type[BaseModel], type[ResourceRead]]] = {
    "retention": (RetentionSettings, RetentionSettingsUpdate, RetentionSettingsRead),
}
