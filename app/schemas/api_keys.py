from __future__ import annotations

from uuid import UUID

from pydantic import AliasChoices, Field

from app.domain.api_keys import KeyKind
from app.schemas.common import Actor, Name, RequestModel, ResourceRead, UtcDatetime


class ApiKeyCreate(RequestModel):
    name: Name
    kind: KeyKind = KeyKind.SECRET
    scopes: list[str] = Field(
        default_factory=list,
        description="Secret keys: `<resource>:read`, `<resource>:write` or `admin` (implies every scope). "
        "Publishable keys take none.",
        examples=[["members:read", "members:write"]],
    )
    member_id: UUID | None = Field(default=None, description="Member the key acts as (its writes are theirs)")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Publishable keys only: origins allowed to submit forms; empty = no restriction",
        examples=[["https://www.example.com"]],
    )


class ApiKeyRead(ResourceRead):
    id: UUID
    name: str
    kind: KeyKind
    redacted_key: str = Field(examples=["sk_…9f3a"], validation_alias=AliasChoices("redacted_key", "redacted"))
    scopes: list[str]
    allowed_origins: list[str]
    member_id: UUID | None
    last_used_at: UtcDatetime | None = Field(description="Updated at most once a minute")
    revoked_at: UtcDatetime | None
    created_by: Actor


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself. Shown only in this response: store it now.")
