"""CSV imports (upload streamed into the database, applied by a job) and CSV exports (streamed
from keyset pages, in constant memory, with the list endpoints' filters)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from app.domain.csv_stream import DELIMITERS, write_rows
from app.domain.customers.orders import OrderFilters
from app.domain.errors import InvalidInput
from app.ids import utcnow
from app.routers.answers import JSON, Answer, Row, RowPage
from app.routers.dependencies import Paging, paging, require, require_any, sort_enum
from app.routers.route import CrmRoute, problem_doc, writes
from app.routers.uploads import Upload
from app.routers.v1.customers.orders import OrderQuery
from app.routers.v1.leads.leads import LeadFiltersQuery
from app.schemas.common import Page
from app.schemas.customers.imports import DryRunResult, ImportErrorPage, ImportRead
from app.schemas.customers.orders import OrderRead
from app.schemas.customers.relationships import ContactFilters, ContactRead
from app.schemas.leads.leads import LeadRead
from app.services.context import Context
from app.services.customers import exports, imports, orders, relationships
from app.services.leads import leads

router = APIRouter(prefix="/v1/imports", tags=["Imports and exports"], route_class=CrmRoute)
export_router = APIRouter(prefix="/v1/exports", tags=["Imports and exports"], route_class=CrmRoute)
ImportSort = sort_enum("ImportSort", "created_at")
Entity = Literal["leads", "contacts", "orders"]
CSV = "text/csv; charset=utf-8"

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "The CSV (UTF-8, with or "
                             "without BOM; comma or semicolon separated)"},
                    "mapping": {"type": "string", "description": "JSON object {field: column name} (send it "
                                "before `file`); without one, columns named like fields are read"},
                },
            }
        },
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
    },
}  # fmt: skip


@router.post(
    "",
    status_code=202,
    summary="Import leads, contacts or orders from a CSV (or check it first with dry_run=true)",
    description="The upload streams into the database (never held whole in memory or on disk) and a job applies "
    "it in batches with the same rules as the API's batches: poll `GET /v1/imports/{id}` for progress. "
    "`dry_run=true` answers 200 with the errors of the first 100 rows and writes nothing. Orders: one row per "
    "order with `line_items` as JSON, or one row per line item (`line_sku`, `line_quantity`, `line_unit_price`"
    ", ...) with the order's columns repeated on consecutive rows. Imported leads are exempt from the "
    "first-response SLA; per-row created/updated events are replaced by one `import.completed`. Operator caps per "
    "workspace: uploads streaming at once (`IMPORT_UPLOADS_PER_WORKSPACE`) and bytes of uploads kept until their "
    "imports end (`IMPORT_STORED_BYTES_PER_WORKSPACE`); past either, a 409 `/problems/limit-exceeded` naming it.",
    response_model=ImportRead,
    responses={
        200: {
            "description": "Dry run: the errors of the first rows",
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/DryRunResult"}}},
        },
        409: problem_doc(
            "A request with this Idempotency-Key is still in progress; or limit-exceeded: the workspace already "
            "has IMPORT_UPLOADS_PER_WORKSPACE uploads streaming in, or this upload would take its stored "
            "uploads past IMPORT_STORED_BYTES_PER_WORKSPACE (nothing is kept)"
        ),
        413: problem_doc("The upload is larger than IMPORT_MAX_BYTES"),
        415: problem_doc("Neither multipart/form-data nor text/csv"),
    },
    openapi_extra={"x-streamed-body": True, "requestBody": _UPLOAD_BODY},
)
async def create_import(
    request: Request,
    ctx: Annotated[Context, require_any("leads:write", "contacts:write", "orders:write")],
    entity: Annotated[Entity, Query(description="What the rows are")],
    dry_run: Annotated[bool, Query(description="Check the first 100 rows; write nothing")] = False,
    mapping: Annotated[
        str | None, Query(max_length=20_000, description="JSON {field: column name} (or a `mapping` form field)")
    ] = None,
    delimiter: Annotated[str | None, Query(description="`,` or `;` (sniffed from the header when omitted)")] = None,
    default_source: Annotated[
        str | None,
        Query(max_length=32, description="Leads: `source` of rows without one (import); orders: their `source`"),
    ] = None,
) -> Answer:
    request.state.caller.require(f"{entity}:write")
    if delimiter is not None and delimiter not in DELIMITERS:
        raise InvalidInput.field("delimiter", "use , or ;", location="query")
    upload = Upload(request, max_bytes=request.app.state.settings.import_max_bytes)
    options = imports.Options(
        entity=entity,
        mapping=imports.parse_mapping(mapping) if mapping else None,
        delimiter=delimiter,
        default_source=default_source,
    )

    def late_fields() -> dict[str, str]:
        return upload.fields

    if dry_run:
        database = request.app.state.database
        result = await imports.dry_run(
            database, ctx.workspace_id, ctx.actor, options, upload.chunks(), late_fields, scopes=ctx.scopes
        )
        return Answer(DryRunResult.model_validate(result), status_code=200)

    async def named_chunks() -> AsyncIterator[bytes]:
        async for piece in upload.chunks():
            options.file_name = options.file_name or upload.filename
            yield piece

    settings = request.app.state.settings
    limits = imports.UploadLimits(
        uploads=settings.import_uploads_per_workspace, stored_bytes=settings.import_stored_bytes_per_workspace
    )
    database = request.app.state.database
    row = await imports.upload(
        database, ctx.workspace_id, ctx.actor, options, named_chunks(), late_fields, limits=limits, scopes=ctx.scopes
    )
    return Answer(imports.with_warnings(row), location=f"/v1/imports/{row['id']}")


READERS = ("leads:read", "contacts:read", "orders:read")


async def _readable(request: Request, ctx: Context, import_id: UUID) -> dict[str, Any]:
    """The import, when the key may read what it imports."""
    imp = await imports.get(ctx, import_id)
    request.state.caller.require(f"{imp['entity']}:read")
    return imp


@router.get("", summary="List imports", response_model=Page[ImportRead])
async def list_imports(
    request: Request,
    ctx: Annotated[Context, require_any(*READERS)],
    page: Annotated[Paging, paging(ImportSort)],
    entity: Annotated[Entity | None, Query()] = None,
    status: Annotated[str | None, Query(pattern="^(uploading|queued|running|completed|failed)$")] = None,
) -> RowPage:
    if entity is not None:
        request.state.caller.require(f"{entity}:read")
    readable = [e for e in ("leads", "contacts", "orders") if request.state.caller.allows(f"{e}:read")]
    result = await imports.list_imports(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, entity=entity, status=status, entities=readable
    )
    return RowPage([imports.with_warnings(row) for row in result.rows], result.next_cursor)


@router.get(
    "/{import_id}",
    summary="Get an import: status and progress (rows done, created, updated, unchanged, failed)",
    response_model=ImportRead,
    openapi_extra={"x-conditional": True},
)
async def get_import(request: Request, import_id: UUID, ctx: Annotated[Context, require_any(*READERS)]) -> Row:
    return imports.with_warnings(await _readable(request, ctx, import_id))


@router.get("/{import_id}/errors", summary="The rows that failed, with why", response_model=ImportErrorPage)
async def list_import_errors(
    request: Request,
    import_id: UUID,
    ctx: Annotated[Context, require_any(*READERS)],
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ImportErrorPage:
    await _readable(request, ctx, import_id)
    after = int(cursor) if cursor and cursor.isdigit() else 0
    rows = await imports.errors(ctx, import_id, after=after, limit=limit + 1)
    next_cursor = str(rows[limit - 1]["row_number"]) if len(rows) > limit else None
    return ImportErrorPage.model_validate({"data": rows[:limit], "next_cursor": next_cursor})


@router.get(
    "/{import_id}/errors.csv",
    summary="Download the failed rows as CSV (row number, errors, then the row as it was)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The failed rows"}},
)
async def download_import_errors(
    request: Request, import_id: UUID, ctx: Annotated[Context, require_any(*READERS)]
) -> Response:
    imp = await _readable(request, ctx, import_id)
    database = request.app.state.database
    delimiter = (imp["options"] or {}).get("delimiter") or ","

    async def body() -> AsyncIterator[str]:
        yield "\ufeff" + write_rows([["row_number", "errors", *imp["columns"]]], delimiter)
        async for page in exports.import_errors(database, ctx, import_id):
            yield write_rows(
                [[r["row_number"], "; ".join(f"{e['field'] or 'row'}: {e['message']}" for e in r["errors"]),
                  *(r["values"].get(c, "") for c in imp["columns"])] for r in page],
                delimiter,
            )  # fmt: skip

    name = f"import-{import_id}-errors.csv"
    return StreamingResponse(body(), media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- exports ----------------------------------------------------------------------------------------


LEAD_COLUMNS = [c for c in LeadRead.model_fields if c not in ("email_key", "created_by", "updated_by")]
CONTACT_COLUMNS = [c for c in ContactRead.model_fields if c not in ("created_by", "updated_by")]
ORDER_COLUMNS = [
    "id", "source", "external_id", "status", "currency", "subtotal", "discount", "tax", "shipping", "total",
    "refunded_total", "cost", "reporting_total", "reporting_currency", "placed_at", "source_updated_at", "coupon",
    "sales_channel", "customer_external_id", "customer_email", "customer_phone", "customer_first_name",
    "customer_last_name", "line_items", "contact_id", "created_at", "updated_at",
]  # fmt: skip


def _cell(value: Any) -> Any:
    """A value's CSV text (write_rows escapes formulas in the final text of every cell)."""
    import json

    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def _export(
    request: Request,
    ctx: Context,
    name: str,
    columns: list[str],
    fetch: Callable[[Context, str | None], Awaitable[Any]],
    shape: Callable[[dict[str, Any]], dict[str, Any]],
) -> StreamingResponse:
    database = request.app.state.database
    # The first page before the response starts: a bad filter is a 422, not a broken download.
    first = await fetch(ctx, None)
    # Audited as it starts: the entry commits with the request's unit of work, before any byte goes out.
    await exports.record(ctx, name, {k: v for k, v in request.query_params.items() if k not in ("cursor", "limit")})

    def rows(page: list[dict[str, Any]]) -> str:
        return write_rows([[_cell(shape(r).get(c)) for c in columns] for r in page])

    async def body() -> AsyncIterator[str]:
        yield "\ufeff" + write_rows([columns]) + rows(first.rows)  # a BOM: spreadsheets read UTF-8 (Persian)
        if first.next_cursor is not None:
            async for page in exports.pages(database, ctx, fetch, cursor=first.next_cursor):
                yield rows(page)

    filename = f"{name}-{utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        body(), media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


_CSV_RESPONSE = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, UTF-8 with BOM"}}


@export_router.get(
    "/leads.csv",
    summary="Export leads as CSV (the list's filters; streamed)",
    response_class=StreamingResponse,
    responses=_CSV_RESPONSE,
)
@writes  # its audit entry
async def export_leads(
    request: Request, ctx: Annotated[Context, require("leads:read")], filters: LeadFiltersQuery
) -> Response:
    async def fetch(c: Context, cursor: str | None) -> Any:
        from app.domain.pagination import Sort

        return await leads.list_leads(c, filters, sort=Sort.parse("created_at"), cursor=cursor, limit=exports.PAGE)

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        return LeadRead.model_validate(row).model_dump(mode="json")

    return await _export(request, ctx, "leads", LEAD_COLUMNS, fetch, shape)


@export_router.get(
    "/contacts.csv",
    summary="Export contacts as CSV (the list's filters; streamed)",
    response_class=StreamingResponse,
    responses=_CSV_RESPONSE,
)
@writes  # its audit entry
async def export_contacts(
    request: Request,
    ctx: Annotated[Context, require("contacts:read")],
    filters: Annotated[ContactFilters, Query()],
) -> Response:
    values = filters.model_dump()  # `email` compared by its key, as the list does

    async def fetch(c: Context, cursor: str | None) -> Any:
        from app.domain.pagination import Sort

        return await relationships.list_contacts(c, sort=Sort.parse("created_at"), cursor=cursor, limit=exports.PAGE,
                                                 **values)  # fmt: skip

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        return ContactRead.model_validate(row).model_dump(mode="json")

    return await _export(request, ctx, "contacts", CONTACT_COLUMNS, fetch, shape)


@export_router.get(
    "/orders.csv",
    summary="Export orders as CSV, one row per order, line items as JSON (the list's filters; streamed)",
    response_class=StreamingResponse,
    responses=_CSV_RESPONSE,
)
@writes  # its audit entry
async def export_orders(
    request: Request,
    ctx: Annotated[Context, require("orders:read")],
    filters: Annotated[OrderQuery, Query()],
) -> Response:
    asked = OrderFilters(**filters.model_dump())

    async def fetch(c: Context, cursor: str | None) -> Any:
        from app.domain.pagination import Sort

        return await orders.list_orders(c, asked, sort=Sort.parse("created_at"), cursor=cursor, limit=exports.PAGE)

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        order = OrderRead.model_validate(orders.view(row)).model_dump(mode="json")
        customer = order.get("customer") or {}
        for key in ("external_id", "email", "phone", "first_name", "last_name"):
            order[f"customer_{key}"] = customer.get(key)
        order["line_items"] = [
            {
                k: line[k]
                for k in ("sku", "name", "category", "quantity", "unit_price", "total")
                if line.get(k) is not None
            }
            for line in order["line_items"]
        ]
        return order

    return await _export(request, ctx, "orders", ORDER_COLUMNS, fetch, shape)
