"""`/v1/audit-log`: read the workspace's audit log and verify its chain. Append-only: no route
changes or deletes an entry (their methods answer 405)."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Row, RowPage
from app.routers.dependencies import Paging, paging, require, sort_enum
from app.routers.route import CrmRoute
from app.schemas.audit.audit import AuditEntryRead, AuditVerification
from app.schemas.common import Page
from app.services.audit import audit
from app.services.context import Context

router = APIRouter(prefix="/v1/audit-log", tags=["Audit log"], route_class=CrmRoute)
AuditSort = sort_enum("AuditSort", "occurred_at")
READ = "audit:read"


@router.get(
    "",
    summary="List the audit log: every write and every CSV export, newest first",
    description="One entry per write request made with a secret key (and per CSV export), written in the "
    "request's own transaction: who (member and key), what (resource, id, action, the changed fields before and "
    "after, secrets and personal values masked), when and from where (address, user agent, request id).",
    response_model=Page[AuditEntryRead],
)
async def list_audit_log(
    ctx: Annotated[Context, require(READ)],
    page: Annotated[Paging, paging(AuditSort, default="-occurred_at")],
    member_id: Annotated[UUID | None, Query(description="Entries of keys acting as this member")] = None,
    key_id: Annotated[UUID | None, Query(description="Entries of requests made with this key")] = None,
    resource: Annotated[str | None, Query(max_length=64, description="e.g. `leads`, `api_keys`, `settings`")] = None,
    resource_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100, description="e.g. `create`, `update`, `export`")] = None,
    occurred_after: Annotated[datetime | None, Query(description="At or after this time")] = None,
    occurred_before: Annotated[datetime | None, Query(description="Before this time")] = None,
) -> RowPage:
    return await audit.list_entries(
        ctx,
        sort=page.sort,
        cursor=page.cursor,
        limit=page.limit,
        member_id=member_id,
        key_id=key_id,
        resource=resource,
        resource_id=resource_id,
        action=action,
        occurred_after=occurred_after,
        occurred_before=occurred_before,
    )


@router.get(
    "/verify",
    summary="Verify the audit log's chain (tamper evidence)",
    description="Walks the workspace's chained entries from the last one retention purged: each must hold the "
    "digest of its fields and follow the entry before it. An entry changed or removed in the database breaks the "
    "chain there (`first_break`); entries not chained yet (the last second or so) are not checked, and erased "
    "personal values are no break.",
    response_model=AuditVerification,
)
async def verify_audit_log(ctx: Annotated[Context, require(READ)]) -> AuditVerification:
    return AuditVerification.model_validate(await audit.verify(ctx))


@router.get("/{entry_id}", summary="Get an audit log entry", response_model=AuditEntryRead)
async def get_audit_log_entry(entry_id: UUID, ctx: Annotated[Context, require(READ)]) -> Row:
    return await audit.get(ctx, entry_id)
