"""The `messaging` settings section: the workspace's messaging policy."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import RequestModel, ResourceRead
from app.schemas.weekdays import LocalTime

Keyword = Annotated[str, Field(min_length=1, max_length=50)]


class QuietHoursSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: LocalTime = Field(default=time(21, 0), description="Local time quiet hours begin (quiet from then)")
    end: LocalTime = Field(
        default=time(9, 0),
        description="Local time they end (no longer quiet then); before `start`: the window spans midnight",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHoursSettings:
        if self.start == self.end:
            raise ValueError("end must differ from start (null turns quiet hours off)")
        return self


class FrequencyCapSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marketing_per_7_days: int = Field(
        default=3, ge=1, le=100, description="At most this many marketing messages to one person in any 7 days"
    )


FrequencyCapAction = Literal["wait", "skip"]


class MessagingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marketing_requires_opt_in: bool = Field(
        default=True,
        description="A marketing message goes only to a person opted in on its channel; false: also to one whose "
        "consent is unknown (an opt-out, a suppression or a pending confirmation still block it)",
    )
    quiet_hours: QuietHoursSettings | None = Field(
        default_factory=QuietHoursSettings,
        description="No marketing message between these local times in the recipient's time zone (theirs, else "
        "the workspace's); it waits until they end. null: none",
    )
    frequency_cap: FrequencyCapSettings | None = Field(
        default_factory=FrequencyCapSettings, description="Marketing messages per person and 7 days; null: no cap"
    )
    frequency_cap_action: FrequencyCapAction = Field(
        default="wait", description="A message over the cap waits until it fits (`wait`) or is blocked (`skip`)"
    )
    tracking: bool = Field(default=True, description="Track email opens and link clicks")
    double_opt_in: bool = Field(
        default=True,
        description="An opt-in from a form is `pending_confirmation` until the person confirms it",
    )
    opt_out_keywords: list[Keyword] = Field(
        default_factory=list,
        max_length=50,
        description="Replies that opt a person out besides the standard ones (STOP, STOPALL, UNSUBSCRIBE, CANCEL, "
        "END, QUIT, REVOKE, OPTOUT and Persian لغو); the whole reply must be the keyword (case, spaces, punctuation "
        "at either end, ZWNJ and Arabic yeh/kaf forms ignored)",
    )


class MessagingSettingsUpdate(RequestModel):
    marketing_requires_opt_in: bool = None  # type: ignore[assignment]
    quiet_hours: QuietHoursSettings | None = None
    frequency_cap: FrequencyCapSettings | None = None
    frequency_cap_action: FrequencyCapAction = None  # type: ignore[assignment]
    tracking: bool = None  # type: ignore[assignment]
    double_opt_in: bool = None  # type: ignore[assignment]
    opt_out_keywords: list[Keyword] = Field(default=None, max_length=50)  # type: ignore[assignment]


class MessagingSettingsRead(MessagingSettings, ResourceRead):
    pass
