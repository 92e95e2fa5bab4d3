"""An audit log entry and the answer of a verification (`/v1/audit-log`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import Actor, UtcDatetime


class AuditEntryRead(BaseModel):
    id: UUID
    occurred_at: UtcDatetime
    actor: Actor = Field(description="The member the key acts as, else the key; `system` for the service's own work")
    member_id: UUID | None = Field(description="The member the calling key is bound to")
    key_id: UUID | None = Field(description="The API key the request was made with")
    resource: str = Field(
        examples=["leads"],
        description="What was written or read: the path's first segment after /v1 (`api_keys`, `settings`, `leads`)",
    )
    resource_id: str | None = Field(
        description="The resource's id (the path's first id, or what the request created); a settings section's name"
    )
    action: str = Field(
        examples=["update"],
        description="`create`, `update`, `delete`, or what the route names (`qualify`, `batch`, `consents.update`); "
        "`revoke` for API keys, `export` for CSV exports",
    )
    route: str | None = Field(examples=["PATCH /v1/leads/{lead_id}"], description="The method and route template")
    ip: str | None = Field(description="The client's address")
    user_agent: str | None = None
    request_id: str | None = Field(description="The request's X-Request-ID")
    changes: dict[str, Any] | None = Field(
        description='`{field: {"before": …, "after": …}}` of the fields the request changed; secrets and personal '
        'values read `"***"` (personal ones are in `personal`)'
    )
    detail: dict[str, Any] | None = Field(
        description="What else the action names (an export's `filters`), masked like `changes`"
    )
    personal: dict[str, Any] | None = Field(
        description="The personal values masked in `changes` and `detail`, by their path (`changes.email.after`); "
        "null when there were none or they were erased"
    )
    digest: str = Field(description="SHA-256 of the entry's other fields (`personal` by its own digest), hex")
    seq: int | None = Field(description="Its place in the workspace's chain; null until the worker chained it (~1 s)")
    chain_hash: str | None = Field(description="SHA-256 of the previous entry's chain hash and this digest, hex")


class AuditVerification(BaseModel):
    ok: bool = Field(description="Every chained entry holds its digest and follows the one before it")
    checked: int = Field(description="How many chained entries were checked")
    first_break: UUID | None = Field(
        description="The first entry that does not hold (changed, or following a removed one; the last entry "
        "chained when entries were cut off the end); null when ok"
    )
    anchor_seq: int = Field(description="Where the walk started: the last entry purged by retention (0: none)")
    last_seq: int | None = Field(description="The last entry checked")
    last_chain_hash: str | None = Field(
        description="Its chain hash: kept elsewhere, it shows later that nothing up to it was rewritten"
    )
