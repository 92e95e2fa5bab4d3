"""A person's consent per channel, its history, and what the event about a change carries."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, field_serializer, field_validator, model_validator

from app.domain.outreach.vocabulary import ChannelType, ConsentSource, ConsentStatus
from app.schemas.common import Actor, RequestModel, UtcDatetime

PROOF_EXTRA_KEYS = 20


def _storable(value: Any) -> None:
    """Text a database stores (the declared fields are checked by RequestModel; these are the
    workspace's own)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("contains a character that is not valid Unicode text") from exc


PROOF_MAX_BYTES = 16_384


class ConsentProof(RequestModel):
    """What shows the person agreed (or asked to stop): the named fields, and up to 20 more of the
    workspace's own (text, numbers or booleans); 16 KiB at most in all."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    submission_id: str | None = Field(default=None, max_length=100, description="The form submission it came with")
    ip: IPvAnyAddress | None = Field(default=None, description="The address the person agreed from")
    user_agent: str | None = Field(default=None, max_length=1000)
    text: str | None = Field(default=None, max_length=5000, description="The consent text the person was shown")

    @field_serializer("ip")
    def _ip(self, value: Any) -> str | None:
        return str(value) if value is not None else None

    @model_validator(mode="after")
    def _bounded(self) -> ConsentProof:
        extra = self.model_extra or {}
        if len(extra) > PROOF_EXTRA_KEYS:
            raise ValueError(f"at most {PROOF_EXTRA_KEYS} fields besides submission_id, ip, user_agent and text")
        for key, value in extra.items():
            _storable(key)
            _storable(value)
            if len(key) > 64:
                raise ValueError(f"field name {key[:64]!r}... is longer than 64 characters")
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise ValueError(f"{key}: only text, numbers, booleans or null")
            if isinstance(value, str) and len(value) > 1000:
                raise ValueError(f"{key}: at most 1000 characters")
        if len(json.dumps(self.model_dump(mode="json"), ensure_ascii=False).encode()) > PROOF_MAX_BYTES:
            raise ValueError(f"at most {PROOF_MAX_BYTES} bytes")
        return self


class ConsentWrite(RequestModel):
    status: ConsentStatus
    source: ConsentSource = Field(description="How it was captured (`erasure` is the service's own: not accepted)")
    proof: ConsentProof | None = None

    @field_validator("source")
    @classmethod
    def _not_erasure(cls, value: ConsentSource) -> ConsentSource:
        if value is ConsentSource.ERASURE:
            raise ValueError(
                "only the service sets `erasure`: the opt-out a new person at an erased address starts with"
            )
        return value


class ConsentRead(BaseModel):
    """One channel's consent; a channel never set is `unknown` with no source."""

    channel: ChannelType
    status: ConsentStatus
    source: ConsentSource | None
    captured_at: UtcDatetime | None
    proof: dict[str, Any] | None


class ConsentList(BaseModel):
    data: list[ConsentRead]


class ConsentChangeRead(BaseModel):
    id: UUID
    channel: ChannelType
    status: ConsentStatus
    previous_status: ConsentStatus
    source: ConsentSource
    captured_at: UtcDatetime
    proof: dict[str, Any] | None
    created_at: UtcDatetime
    created_by: Actor


class ConsentEvent(BaseModel):
    """`consent.updated`: one person's consent on one channel changed (`resource_id` = the person)."""

    lead_id: UUID | None = None
    contact_id: UUID | None = None
    channel: ChannelType
    status: ConsentStatus
    previous_status: ConsentStatus
    source: ConsentSource
    captured_at: UtcDatetime
    proof: dict[str, Any] | None
