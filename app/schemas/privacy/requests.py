"""Privacy requests (`/v1/privacy/exports`, `/v1/privacy/erasures`): what a request is given, and
the request as it is followed."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import Actor, RequestModel, UtcDatetime


class PersonIn(RequestModel):
    """Who the request is about: at least one identity key. The person is every lead and contact
    any of them matches, grown through the records found (a lead's contact, the emails and phones
    those carry)."""

    email: str | None = Field(default=None, max_length=320, examples=["sara@example.com"])
    phone: str | None = Field(default=None, max_length=64, examples=["+989121234567"])
    lead_id: UUID | None = None
    contact_id: UUID | None = None


class ErasureIn(PersonIn):
    reason: str = Field(
        min_length=1,
        max_length=500,
        examples=["The person asked to be erased (ticket 4411)"],
        description="Why: kept on the request (write no personal data here)",
    )


class Matched(BaseModel):
    resource: Literal["leads", "contacts"]
    id: UUID
    keys: list[str] = Field(
        description="The identity keys that found it: `email`, `phone`, `lead_id`, `contact_id`, "
        "`shop_customer_id`; a record reached only through another (a lead's contact) names the other's key"
    )


class PrivacyRequestRead(BaseModel):
    id: UUID | None = Field(description="Null on a dry run (nothing is stored)")
    kind: Literal["export", "erasure"]
    status: Literal["pending", "running", "ready", "completed", "failed", "expired"] = Field(
        description="An export: pending → running → ready (its document can be downloaded) → expired (purged after "
        "`retention.privacy_export_days`); an erasure: pending → running → completed. failed: see `problem`"
    )
    dry_run: bool = False
    job_id: UUID | None = Field(description="The job doing the work (`GET /v1/jobs/{id}`)")
    matched: list[Matched] = Field(description="The records found, and by which key")
    counts: dict[str, int] | None = Field(
        description="An erasure: rows changed (a dry run: rows it would change) per table; an export: records per "
        "resource"
    )
    reason: str | None = None
    origin: str = Field(
        examples=["api"], description="`api`, or the shop topic that asked (`shopify:customers/redact`)"
    )
    subjects: dict[str, object] = Field(
        description="Keyed digests (HMAC-SHA256) of the identifiers given: a request never keeps them in the clear"
    )
    document_bytes: int | None = Field(description="An export: the size of its document")
    expires_at: UtcDatetime | None = Field(description="An export: when its document is purged")
    problem: dict[str, object] | None = None
    created_at: UtcDatetime | None
    created_by: Actor | None
    completed_at: UtcDatetime | None


class ErasureCompleted(BaseModel):
    """`erasure.completed`: which request finished and what it changed; nothing about the person."""

    id: UUID = Field(description="The erasure request (`GET /v1/privacy/erasures/{id}`)")
    counts: dict[str, int] = Field(description="Rows changed per table")
    completed_at: UtcDatetime
