from __future__ import annotations

from uuid import UUID

from pydantic import AliasChoices, Field

from app.domain.workspace.api_keys import KeyKind
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
    member_id: UUID | None = Field(
        default=None,
        description="Member the key acts as (its writes are theirs). Must be active; the key answers 401 "
        "while the member is deactivated and works again when they are reactivated.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Publishable keys only: origins allowed to submit forms; empty = no restriction",
        examples=[["https://www.example.com"]],
    )
    expires_at: UtcDatetime | None = Field(
        default=None,
        description="When the key stops working (answered 401 like a revoked key from then on); must be in "
        "the future. Null: the key works until revoked.",
        examples=["2027-06-30T00:00:00Z"],
    )


class ApiKeyRead(ResourceRead):
    id: UUID
    name: str
    kind: KeyKind
    redacted_key: str = Field(examples=["sk_…9f3a"], validation_alias=AliasChoices("redacted_key", "redacted"))
    scopes: list[str]
    allowed_origins: list[str]
    member_id: UUID | None = Field(
        description="Member the key acts as; while that member is deactivated the key answers 401"
    )
    expires_at: UtcDatetime | None = Field(description="When the key stops working; null: until revoked")
    last_used_at: UtcDatetime | None = Field(description="Updated at most once a minute")
    revoked_at: UtcDatetime | None
    created_by: Actor


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself. Shown only in this response: store it now.")
