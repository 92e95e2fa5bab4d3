"""`/v1/privacy/exports` and `/v1/privacy/erasures`: everything about one person given back, or
erased everywhere, each request answered by a job (admin keys only)."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import Paging, paging, require, sort_enum
from app.routers.route import CrmRoute, problem_doc, writes
from app.schemas.common import Page
from app.schemas.privacy.requests import ErasureIn, PersonIn, PrivacyRequestRead
from app.services.context import Context
from app.services.privacy import requests

router = APIRouter(prefix="/v1/privacy", tags=["Privacy"], route_class=CrmRoute)
ADMIN = "admin"
PrivacySort = sort_enum("PrivacySort", "created_at")
ExportStatus = Literal["pending", "running", "ready", "failed", "expired"]
ErasureStatus = Literal["pending", "running", "completed", "failed"]
_MATCHING = (
    "The person is every lead and contact matched by any identity key the service uses (the normalised email, "
    "the E.164 phone, the lead and contact ids, shops' customer ids), grown through the records found (a lead's "
    "contact, the emails and phones those carry); `matched` names each and the keys that found it. The request "
    "keeps keyed digests of the identifiers it was given, never the identifiers."
)


@router.post(
    "/exports",
    status_code=202,
    summary="Export everything about one person (a data access request)",
    description="Queues a job that gathers every record about the person into one JSON document grouped by "
    "resource: leads and their state history, contacts and their accounts, form submissions (fields, IP, user "
    "agent), engagements, activities, tasks, messages and their status history, consents with proof, orders and "
    "refunds, tickets, invoices, payments, loyalty entries, journey enrolments, and the events that carry their "
    "data. Follow it with `GET /v1/privacy/exports/{id}`; download it once `ready`, until it expires "
    "(`retention.privacy_export_days`, 7 days when kept). " + _MATCHING,
    response_model=PrivacyRequestRead,
    responses={422: problem_doc("No identifier given, or an email or phone that is not one (the field named)")},
)
async def create_export(body: PersonIn, ctx: Annotated[Context, require(ADMIN)]) -> Answer:
    row = await requests.create(ctx, requests.EXPORT, body.model_dump())
    assert row is not None  # only a shop-wide erasure asks for `alone`
    return Answer(row, status_code=202, location=f"/v1/privacy/exports/{row['id']}")


@router.get(
    "/exports",
    summary="List privacy exports, newest first",
    response_model=Page[PrivacyRequestRead],
)
async def list_exports(
    ctx: Annotated[Context, require(ADMIN)],
    page: Annotated[Paging, paging(PrivacySort, default="-created_at")],
    status: Annotated[ExportStatus | None, Query()] = None,
) -> RowPage:
    return await requests.list_requests(
        ctx, requests.EXPORT, sort=page.sort, cursor=page.cursor, limit=page.limit, status=status
    )


@router.get("/exports/{export_id}", summary="Get a privacy export", response_model=PrivacyRequestRead)
async def get_export(export_id: UUID, ctx: Annotated[Context, require(ADMIN)]) -> Row:
    return await requests.get(ctx, requests.EXPORT, export_id)


@router.get(
    "/exports/{export_id}/download",
    summary="Download a privacy export's document (JSON)",
    description="The document once the export is `ready`: `{request_id, generated_at, matched, resources: "
    "{resource: [records]}}`, gzip-encoded to a client that accepts it (`Accept-Encoding: gzip`). Each download is "
    "audited (`privacy_exports` `download`).",
    response_class=Response,
    responses={
        200: {"description": "The document", "content": {"application/json": {"schema": {"type": "object"}}}},
        409: problem_doc("The export is not ready (pending, running or failed)"),
        410: problem_doc("The export's document expired and was purged"),
    },
)
@writes
async def download_export(export_id: UUID, request: Request, ctx: Annotated[Context, require(ADMIN)]) -> Response:
    gzipped = "gzip" in request.headers.get("accept-encoding", "").lower()
    body = await requests.download(ctx, export_id, gzipped=gzipped)
    headers = {
        "Content-Disposition": f'attachment; filename="privacy-export-{export_id}.json"',
        "Cache-Control": "no-store",
        "Vary": "Accept-Encoding",
    }
    if gzipped:  # stored compressed: sent as it is
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


@router.post(
    "/erasures",
    status_code=202,
    summary="Erase one person everywhere (or count what would change with dry_run=true)",
    description="Irreversible. Queues a job that anonymises the person's data in every place it lives: lead and "
    "contact fields, custom field values and addresses; form submissions' fields, IP and user agent; message "
    "bodies and addresses; engagement metadata; free text that names them (activity notes, task titles: their "
    "known identifiers replaced); the payloads of events about them and their webhook deliveries' response "
    "excerpts; stored idempotent answers; failed import rows; failed shop payloads; export documents; journey "
    "histories; consent proofs (the fact of consent stays, its IP and text go); the audit log's personal values. "
    "Their leads and contacts stay as tombstones (same ids, `erased_at`); orders keep their amounts and dates, so "
    "revenue, CLV, RFM and reports do not shift. Their emails and phones stay suppressed with reason `erased`, as "
    "keyed hashes only: a later capture of the same address is a new person whose marketing consent starts "
    "`opted_out`. `erasure.completed` (no personal data: the request's id and counts) follows. `dry_run=true` "
    "answers 200 with the rows it would change per table and changes nothing. " + _MATCHING,
    response_model=PrivacyRequestRead,
    responses={
        200: {
            "description": "Dry run: the rows the erasure would change per table",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PrivacyRequestRead"}}},
        },
        422: problem_doc("No identifier given, an email or phone that is not one, or no reason"),
    },
)
async def create_erasure(
    body: ErasureIn,
    ctx: Annotated[Context, require(ADMIN)],
    dry_run: Annotated[bool, Query(description="Count what it would change; change nothing")] = False,
) -> Answer:
    values = body.model_dump(exclude={"reason"})
    row = await requests.create(ctx, requests.ERASURE, values, reason=body.reason, dry_run=dry_run)
    assert row is not None  # only a shop-wide erasure asks for `alone`
    if dry_run:
        return Answer(row, status_code=200)
    return Answer(row, status_code=202, location=f"/v1/privacy/erasures/{row['id']}")


@router.get("/erasures", summary="List privacy erasures, newest first", response_model=Page[PrivacyRequestRead])
async def list_erasures(
    ctx: Annotated[Context, require(ADMIN)],
    page: Annotated[Paging, paging(PrivacySort, default="-created_at")],
    status: Annotated[ErasureStatus | None, Query()] = None,
) -> RowPage:
    return await requests.list_requests(
        ctx, requests.ERASURE, sort=page.sort, cursor=page.cursor, limit=page.limit, status=status
    )


@router.get("/erasures/{erasure_id}", summary="Get a privacy erasure", response_model=PrivacyRequestRead)
async def get_erasure(erasure_id: UUID, ctx: Annotated[Context, require(ADMIN)]) -> Row:
    return await requests.get(ctx, requests.ERASURE, erasure_id)
