"""CSV imports of leads, contacts and orders.

The upload streams into the database in chunks (a short transaction each: never the whole file in
memory, on local disk, or in one long transaction holding SQLite's write lock), counted and checked
as it passes; then a job applies it in batches of `BATCH_ROWS` through the same use cases as the
API's batches (the same validation and duplicate rules), each batch in one transaction with the
import's progress, so a worker that dies resumes after the last batch it committed. Failed rows
are kept with their values and errors (`/errors`, `/errors.csv`). Per-row created/updated events
are replaced by one `import.completed`; events that matter one by one (`customer.converted`,
`lead.qualified`, `lead.assigned`) are still emitted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from app.db.repositories.base import Page, Row
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.csv_stream import CsvError, CsvStream, unescape_formula
from app.domain.customers import imports as rules
from app.domain.errors import Conflict, DomainError, ErrorList, InvalidInput, LimitExceeded, NotFound
from app.domain.events import events as types
from app.domain.events.jobs import failure_problem
from app.domain.leads import sensitive as sensitive_rules
from app.domain.leads.contact import contact_details, parse_email, parse_phone
from app.domain.pagination import Sort
from app.ids import new_id, utcnow
from app.schemas.common import invalid_input
from app.schemas.customers.imports import ImportRead
from app.schemas.customers.orders import OrderIn
from app.schemas.customers.relationships import ContactCreate
from app.schemas.leads.leads import LeadCreate
from app.services.analytics import analytics
from app.services.batches import item_error, problem_of
from app.services.context import SERVICE_SCOPES, Actor, Context
from app.services.customers import orders
from app.services.customers.relationships import create_contact
from app.services.events import events, jobs
from app.services.leads import custom_fields, duplicates, leads, sensitive
from app.services.outreach import suppressions
from app.services.privacy import subjects
from app.services.reports import sales_forecast
from app.services.workspace import workspaces

log = logging.getLogger("app.imports")
JOB = "imports.run"
CHUNK_BYTES = 1 << 20  # stored upload pieces
BATCH_ROWS = 500
DRY_RUN_ROWS = 100
# Replaced by one import.completed (the rows carry `import_id`, a list filter).
QUIET = frozenset({
    types.LEAD_CREATED, types.LEAD_UPDATED, types.LEAD_SCORE_CHANGED, types.LEAD_TEMPERATURE_CHANGED,
    types.LEAD_STAGE_CHANGED, types.LEAD_MQL_CANDIDATE_FLAGGED, types.CONTACT_CREATED, types.CONTACT_UPDATED,
    types.CUSTOMER_CREATED, types.LEAD_MERGED,
    types.ORDER_CREATED, types.ORDER_UPDATED, types.ORDER_REFUNDED, types.PRODUCT_CREATED,
})  # fmt: skip


@dataclass(frozen=True)
class Entity:
    name: str
    targets: tuple[str, ...]
    lists: frozenset[str] = frozenset()
    json_fields: frozenset[str] = frozenset()


ENTITIES = {
    "leads": Entity("leads", tuple(LeadCreate.model_fields), frozenset({"tags"}), frozenset({"custom_fields"})),
    "contacts": Entity(
        "contacts", tuple(ContactCreate.model_fields), frozenset({"tags", "interests"}), frozenset({"addresses"})
    ),
    "orders": Entity("orders", rules.ORDER_TARGETS, json_fields=frozenset({"line_items"})),
}


@dataclass(frozen=True)
class UploadLimits:
    """The operator's caps on one workspace's uploads (IMPORT_UPLOADS_PER_WORKSPACE,
    IMPORT_STORED_BYTES_PER_WORKSPACE): uploads streaming at once, and bytes kept stored."""

    uploads: int
    stored_bytes: int


# An upload that has stored no piece for this long is not counted as streaming (its server died;
# the nightly `discard-abandoned-uploads` removes it), so a crash does not block a workspace's
# uploads for a day. Its stored pieces still count against the bytes quota until then.
STALLED_UPLOAD = timedelta(minutes=15)


@dataclass
class Options:
    entity: str
    mapping: dict[str, str] | None = None
    delimiter: str | None = None
    default_source: str | None = None
    file_name: str | None = None
    # Leads: what a row whose email or phone an open lead has becomes (the workspace's deduplication
    # `on_duplicate` when the file is uploaded, kept with the import so it applies to every batch).
    on_duplicate: str | None = None

    def json(self) -> dict[str, Any]:
        kept = {"delimiter": self.delimiter, "default_source": self.default_source}
        return kept if self.on_duplicate is None else {**kept, "on_duplicate": self.on_duplicate}


@dataclass
class Outcome:
    """What became of one CSV row."""

    row_number: int
    values: dict[str, str]
    status: str = "error"  # created | updated | unchanged | merged | error
    id: Any = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def _defaults(entity: str, options: dict[str, Any]) -> dict[str, Any]:
    source = options.get("default_source")
    if entity == "leads":
        return {"source": source or "import"}
    if entity == "orders":
        return {"source": source or "import"}
    return {}


async def _custom_keys(ctx: Context, entity: str) -> list[str]:
    if entity != "leads":
        return []
    return [d.key for d in await custom_fields.definitions(ctx)]


async def _sensitive_columns(ctx: Context, entity: str, resolved: rules.ColumnMap, header: list[str]) -> frozenset[str]:
    """The columns of a lead import's file that carry sensitive custom field values."""
    if entity != "leads":
        return frozenset()
    hidden = await sensitive.keys(ctx)
    return sensitive_rules.sensitive_columns({f: header[i] for f, i in resolved.columns.items()}, hidden)


def _problem_errors(problem: dict[str, Any]) -> list[dict[str, Any]]:
    listed = [{"field": e.get("field"), "message": e.get("message")} for e in problem.get("errors") or []]
    return listed or [{"field": None, "message": problem.get("detail")}]


def _error_of(exc: DomainError | ValidationError | ValueError) -> list[dict[str, Any]]:
    if isinstance(exc, ValidationError):
        exc = invalid_input(exc)
    if isinstance(exc, DomainError):
        return _problem_errors(problem_of(exc)["problem"])
    message = str(exc)
    name, _, rest = message.partition(": ")
    return [{"field": name, "message": rest}] if rest else [{"field": None, "message": message}]


# -- upload -------------------------------------------------------------------------------------------


async def upload(
    database: Database,
    workspace_id: UUID,
    actor: Actor,
    options: Options,
    chunks: AsyncIterator[bytes],
    late_fields: Callable[[], dict[str, str]],
    *,
    limits: UploadLimits,
    scopes: frozenset[str],
) -> Row:
    """Store the upload as it streams in and queue the import job; the import (status `queued`).
    Anything invalid (not UTF-8, no header, a mapping that does not fit) is a 422 and leaves
    nothing behind; so is an upload past the workspace's caps (409 limit-exceeded): too many
    uploads streaming at once (before any byte is read), or a piece that would take the stored
    bytes past the quota (the upload stops there). `late_fields`: form fields sent after the file
    (read at the end)."""
    import_id = new_id()
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, workspace_id, actor, utcnow(), scopes=scopes)
        repo = WorkspaceRepositories(uow, workspace_id).imports
        if options.entity == "leads":
            options.on_duplicate = await _on_duplicate(ctx)
        await repo.lock_uploads()
        if await repo.streaming(since=ctx.now - STALLED_UPLOAD) >= limits.uploads:
            raise LimitExceeded(
                f"this workspace already has {limits.uploads} uploads streaming in; "
                "send this one when one of them has finished",
                limit="IMPORT_UPLOADS_PER_WORKSPACE",
                value=limits.uploads,
            )
        await repo.create({
            "id": import_id, "entity": options.entity, "status": "uploading", "file_name": options.file_name,
            "mapping": {}, "options": options.json(), "columns": [], **ctx.audit_new(),
        })  # fmt: skip
        await uow.commit()
    try:
        return await _store(database, workspace_id, actor, import_id, options, chunks, late_fields, limits, scopes)
    except BaseException:
        # nothing half-written, even when the request is cancelled (the client went away)
        await asyncio.shield(_discard(database, workspace_id, import_id))
        raise


async def _on_duplicate(ctx: Context) -> str:
    return str((await duplicates.policy(ctx))["on_duplicate"])


async def _discard(database: Database, workspace_id: UUID, import_id: UUID) -> None:
    async with UnitOfWork(database) as uow:
        await WorkspaceRepositories(uow, workspace_id).imports.drop_chunks(import_id)
        await WorkspaceRepositories(uow, workspace_id).imports.remove(import_id)
        await uow.commit()


async def _store(
    database: Database,
    workspace_id: UUID,
    actor: Actor,
    import_id: UUID,
    options: Options,
    chunks: AsyncIterator[bytes],
    late_fields: Callable[[], dict[str, str]],
    limits: UploadLimits,
    scopes: frozenset[str],
) -> Row:
    stream = CsvStream(options.delimiter)
    header: list[str] | None = None
    rows = size = seq = 0
    pending: list[bytes] = []
    pending_size = 0

    async def flush() -> None:
        """Store the next piece, counted in `imports.bytes` in the same transaction; refused when
        the workspace's stored bytes would pass the quota (under the workspace's upload lock, so
        concurrent uploads cannot pass it together)."""
        nonlocal seq, pending, pending_size
        if pending:
            piece = b"".join(pending)
            async with UnitOfWork(database) as uow:
                repo = WorkspaceRepositories(uow, workspace_id).imports
                await repo.lock_uploads()
                if await repo.stored_bytes() + len(piece) > limits.stored_bytes:
                    raise LimitExceeded(
                        f"this upload would take the workspace's stored uploads past {limits.stored_bytes} bytes; "
                        "send it when earlier imports have finished (their stored pieces are deleted then)",
                        limit="IMPORT_STORED_BYTES_PER_WORKSPACE",
                        value=limits.stored_bytes,
                    )
                await repo.add_chunk(import_id, seq, piece, utcnow())
                await uow.commit()
            seq, pending, pending_size = seq + 1, [], 0

    def count(records: list[list[str]]) -> None:
        nonlocal header, rows
        for record in records:
            if header is None:
                header = [unescape_formula(name) for name in record]  # as written in our own CSVs
            else:
                rows += 1

    try:
        async for data in chunks:
            size += len(data)
            count(stream.feed(data))
            pending.append(data)
            pending_size += len(data)
            if pending_size >= CHUNK_BYTES:
                await flush()
        count(stream.close())
    except CsvError as exc:
        raise InvalidInput.field("file", str(exc)) from exc
    await flush()
    if header is None:
        raise InvalidInput.field("file", "the file is empty: send a header row and data rows")
    mapping = options.mapping if options.mapping is not None else _mapping_field(late_fields())
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, workspace_id, actor, utcnow(), scopes=scopes)
        resolved = rules.resolve_mapping(header, mapping, ENTITIES[options.entity].targets,
                                         custom_keys=await _custom_keys(ctx, options.entity))  # fmt: skip
        job = await jobs.enqueue(ctx, JOB, {"import_id": str(import_id)})
        values = {
            "status": "queued", "columns": header, "bytes": size, "chunks": seq, "rows_total": rows,
            "file_name": options.file_name,
            "mapping": {f: header[i] for f, i in resolved.columns.items()},
            "options": {**options.json(), "delimiter": stream.delimiter}, "job_id": job["id"],
            "updated_at": ctx.now,
        }  # fmt: skip
        repo = WorkspaceRepositories(uow, workspace_id).imports
        await repo.set(import_id, values)
        row = await repo.get(import_id)
        assert row is not None
        await uow.commit()
    return row


def _mapping_field(fields: dict[str, str]) -> dict[str, str] | None:
    raw = fields.get("mapping")
    return parse_mapping(raw) if raw else None


def parse_mapping(raw: str) -> dict[str, str]:
    """The `mapping` parameter: a JSON object {field: column name}."""
    import json

    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput.field("mapping", "not a JSON object {field: column name}") from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidInput.field("mapping", "not a JSON object {field: column name}")
    return value


# -- dry run ------------------------------------------------------------------------------------------


async def dry_run(
    database: Database,
    workspace_id: UUID,
    actor: Actor,
    options: Options,
    chunks: AsyncIterator[bytes],
    late_fields: Callable[[], dict[str, str]],
    *,
    scopes: frozenset[str],
) -> dict[str, Any]:
    """Check the first `DRY_RUN_ROWS` rows without writing anything: per-row errors, as the import
    would report them (validation, and duplicates of what is stored or earlier in the file unless
    leads are merged into their open lead: deduplication `on_duplicate` merge)."""
    stream = CsvStream(options.delimiter)
    records: list[list[str]] = []
    try:
        async for data in chunks:
            records += stream.feed(data)[: DRY_RUN_ROWS + 1 - len(records)]  # the rest is read, not kept
            if len(records) > DRY_RUN_ROWS and (options.mapping is not None or late_fields().get("mapping")):
                break  # no need to read on: the mapping came first
        else:
            records += stream.close()[: DRY_RUN_ROWS + 1 - len(records)]
    except CsvError as exc:
        raise InvalidInput.field("file", str(exc)) from exc
    if not records:
        raise InvalidInput.field("file", "the file is empty: send a header row and data rows")
    header, data_rows = [unescape_formula(name) for name in records[0]], records[1 : DRY_RUN_ROWS + 1]
    mapping = options.mapping if options.mapping is not None else _mapping_field(late_fields())
    entity = ENTITIES[options.entity]
    async with UnitOfWork(database, write=False) as uow:  # reads only: a dry run writes nothing
        ctx = Context(uow, workspace_id, actor, utcnow(), scopes=scopes)
        keys = await _custom_keys(ctx, entity.name)
        resolved = rules.resolve_mapping(header, mapping, entity.targets, custom_keys=keys)
        outcomes = await _check(ctx, entity, resolved, header, data_rows, _defaults(entity.name, options.json()))
    failed = [o for o in outcomes if o.errors]
    return {
        "entity": entity.name,
        "columns": header,
        "mapping": {f: header[i] for f, i in resolved.columns.items()},
        "ignored_columns": resolved.ignored,
        "warnings": _warnings(entity.name, resolved.ignored),
        "delimiter": stream.delimiter,
        "rows_checked": len(outcomes),
        "rows_failed": len(failed),
        "errors": [{"row_number": o.row_number, "errors": o.errors, "values": o.values} for o in failed],
    }


def _warnings(entity: str, ignored: list[str]) -> list[str]:
    warning = rules.unknown_columns_warning(ignored, ENTITIES[entity].targets)
    return [warning] if warning else []


def with_warnings(imp: Row) -> dict[str, Any]:
    """The import as answered: with the columns of its file that no field reads, and the warning
    naming them (what the dry run said, kept with the import)."""
    read = set((imp["mapping"] or {}).values())
    ignored = [name for name in imp["columns"] or [] if name not in read] if imp["mapping"] else []
    return {**imp, "ignored_columns": ignored, "warnings": _warnings(imp["entity"], ignored)}


async def _check(
    ctx: Context,
    entity: Entity,
    resolved: rules.ColumnMap,
    header: list[str],
    data_rows: list[list[str]],
    defaults: dict[str, Any],
) -> list[Outcome]:
    region = await workspaces.default_region(ctx)
    merge = entity.name == "leads" and await _on_duplicate(ctx) == leads.MERGE
    seen: set[str] = set()
    outcomes = []
    hidden = await _sensitive_columns(ctx, entity.name, resolved, header)
    groups = _build(entity, resolved, header, list(enumerate(data_rows, start=1)), defaults, hidden)
    locale = await orders.locale(ctx) if entity.name == "orders" else None
    for outcome_rows, item in groups:
        errors: list[dict[str, Any]] = []
        if isinstance(item, ValueError):
            errors = _error_of(item)
        else:
            try:
                if entity.name == "orders":
                    assert locale is not None
                    orders.prepare(0, orders.command(OrderIn.model_validate(item)), locale)
                else:
                    model = LeadCreate if entity.name == "leads" else ContactCreate
                    model.model_validate(item)
                    problems = ErrorList()
                    details = contact_details(item.get("email"), item.get("phone"), region, problems)
                    problems.raise_if_any()
                    # (merging: a row for someone with an open lead, or on an earlier row, merges into it)
                    if not merge and any(k in seen for k in details.identity_keys):
                        raise Conflict("the same email or phone is on an earlier row of this file")
                    seen.update(details.identity_keys)
                    existing = None if merge else await _existing(ctx, entity.name, details.email_key,
                                                                  details.phone_e164)  # fmt: skip
                    if existing is not None:
                        raise Conflict(f"a {entity.name[:-1]} with this email or phone exists ({existing})")
            except (ValidationError, DomainError) as exc:
                errors = _error_of(exc)
        for outcome in outcome_rows:
            outcome.errors = errors
            outcomes.append(outcome)
    return outcomes


async def _existing(ctx: Context, entity: str, email_key: str | None, phone: str | None) -> UUID | None:
    if entity == "leads":
        lead, _ = await ctx.leads.identity_match(email_key, phone)
        return lead["id"] if lead is not None else None
    row = await ctx.contacts.by_email_or_phone(email_key, phone)
    return row["id"] if row is not None else None


def _build(
    entity: Entity,
    resolved: rules.ColumnMap,
    header: list[str],
    numbered: list[tuple[int, list[str]]],
    defaults: dict[str, Any],
    hidden: frozenset[str] = frozenset(),
) -> list[tuple[list[Outcome], dict[str, Any] | ValueError]]:
    """Rows as items: one per row; for orders, consecutive rows of one order make one item. A
    row's `values` (kept if it fails) leave out the `hidden` columns (sensitive values)."""
    built: list[tuple[list[Outcome], dict[str, Any] | ValueError]] = []
    order_rows: list[tuple[Outcome, dict[str, Any]]] = []

    def close_order() -> None:
        if order_rows:
            built.append(([o for o, _ in order_rows], rules.order_from_rows([v for _, v in order_rows])))
            order_rows.clear()

    for number, row in numbered:
        outcome = Outcome(
            number, {name: row[i] if i < len(row) else "" for i, name in enumerate(header) if name not in hidden}
        )
        try:
            values = rules.item(row, resolved, lists=entity.lists, json_fields=entity.json_fields, defaults=defaults)
        except ValueError as exc:
            if entity.name == "orders":
                close_order()
            built.append(([outcome], exc))
            continue
        if entity.name != "orders":
            built.append(([outcome], values))
        else:
            key = rules.order_key(values)
            if order_rows and (key is None or rules.order_key(order_rows[-1][1]) != key):
                close_order()
            order_rows.append((outcome, values))
    close_order()
    return built


# -- the job ------------------------------------------------------------------------------------------


async def run_job(
    database: Database, workspace_id: UUID, import_id: UUID, progress: Callable[..., Awaitable[None]]
) -> dict[str, Any]:
    """Apply a stored upload, batch by batch, from where the last committed batch left off."""
    async with UnitOfWork(database, write=False) as uow:
        imp = await WorkspaceRepositories(uow, workspace_id).imports.get(import_id)
    if imp is None:
        raise LookupError("the import is gone")
    if imp["status"] in ("completed", "failed"):
        return _summary(imp)
    entity = ENTITIES[imp["entity"]]
    # The job writes in the name of the member or key that uploaded, whose scopes were checked
    # then (and are not kept): it is the service's own work, with SERVICE_SCOPES.
    actor = Actor.parse(imp["created_by"])
    async with UnitOfWork(database) as uow:
        await WorkspaceRepositories(uow, workspace_id).imports.set(
            import_id, {"status": "running", "started_at": imp["started_at"] or utcnow()}
        )
        await uow.commit()
    header = imp["columns"]
    async with UnitOfWork(database, write=False) as uow:
        ctx = Context(uow, workspace_id, actor, utcnow(), scopes=SERVICE_SCOPES)
        resolved = rules.resolve_mapping(header, imp["mapping"], entity.targets,
                                         custom_keys=await _custom_keys(ctx, entity.name))  # fmt: skip
    defaults = _defaults(entity.name, imp["options"])
    stream = CsvStream(imp["options"].get("delimiter"))
    done = imp["rows_done"]
    state = {"number": 0, "header": False, "done": done}
    batch: list[tuple[int, list[str]]] = []

    async def apply(final: bool) -> None:
        nonlocal batch
        if not batch:
            return
        cut = len(batch)
        if entity.name == "orders" and not final:
            cut = _order_boundary(batch, resolved, defaults)  # never split an order between batches
            if cut == 0:
                return
        part, batch = batch[:cut], batch[cut:]
        before = state["done"]
        state["done"] = await _apply_batch(database, workspace_id, actor, imp, entity, resolved, header, part,
                                           defaults, before)  # fmt: skip
        if _analyze_after(before, state["done"]):
            async with UnitOfWork(database) as uow:
                await WorkspaceRepositories(uow, workspace_id).imports.refresh_statistics(entity.name)
                await uow.commit()
        await progress(done=state["done"], total=imp["rows_total"])

    async def take(records: list[list[str]]) -> None:
        for record in records:
            if not state["header"]:
                state["header"] = True
                continue
            state["number"] += 1
            if state["number"] <= done:
                continue  # applied by an earlier run
            batch.append((state["number"], record))
            if len(batch) >= BATCH_ROWS:
                await apply(final=False)

    for seq in range(imp["chunks"]):
        async with UnitOfWork(database, write=False) as uow:
            data = await WorkspaceRepositories(uow, workspace_id).imports.chunk(import_id, seq)
        if data is None:
            raise LookupError(f"piece {seq} of the upload is missing")
        await take(stream.feed(data))
    await take(stream.close())
    while batch:
        await apply(final=True)
    async with UnitOfWork(database) as uow:
        repo = WorkspaceRepositories(uow, workspace_id).imports
        now = utcnow()
        finished = await repo.finish(import_id, {"status": "completed", "finished_at": now, "updated_at": now})
        final = await repo.get(import_id)
        assert final is not None
        if finished:  # only the runner that ended it announces it (a job taken over runs twice)
            await repo.drop_chunks(import_id)
            ctx = Context(uow, workspace_id, actor, now, scopes=SERVICE_SCOPES)
            await events.record(ctx, types.IMPORT_COMPLETED, ImportRead.model_validate(final))
            await analytics.after_import(ctx, final["entity"], final["rows_created"] + final["rows_updated"])
            await sales_forecast.after_import(ctx, final["entity"], final["rows_created"] + final["rows_updated"])
        await uow.commit()
    return _summary(final)


async def fail(database: Database, workspace_id: UUID, import_id: UUID, job_id: UUID) -> None:
    """The import failed as a whole (its rows applied so far stay: each batch was complete). Its
    problem is generic and names the job; the cause is in the job's log record."""
    async with UnitOfWork(database) as uow:
        if await fail_in(uow, workspace_id, import_id, job_id, utcnow()):
            await uow.commit()


async def fail_in(
    uow: UnitOfWork, workspace_id: UUID, import_id: UUID, job_id: UUID, now: datetime, *, drop_chunks: bool = True
) -> bool:
    """`fail` within the caller's unit of work (the job's own failure is recorded in the same
    transaction); whether the import was marked failed (not if it had ended already). With
    `drop_chunks` False its stored upload is left for the caller to delete in a transaction of its
    own (`drop_upload`: a large upload's deletion must not hold a claim's transaction)."""
    repo = WorkspaceRepositories(uow, workspace_id).imports
    row = await repo.get(import_id)
    if row is None or row["status"] in ("completed", "failed"):
        return False
    problem = failure_problem(job_id, subject="import")
    if not await repo.finish(import_id, {"status": "failed", "problem": problem, "finished_at": now,
                                         "updated_at": now}):  # fmt: skip
        return False
    if drop_chunks:
        await repo.drop_chunks(import_id)
    final = await repo.get(import_id)
    assert final is not None
    ctx = Context(uow, workspace_id, Actor.parse(row["created_by"]), now, scopes=SERVICE_SCOPES)
    await events.record(ctx, types.IMPORT_FAILED, ImportRead.model_validate(final))
    return True


async def drop_upload(database: Database, workspace_id: UUID, import_id: UUID) -> None:
    """Delete an ended import's stored upload (its pieces), in a transaction of its own."""
    async with UnitOfWork(database, write=True) as uow:
        await WorkspaceRepositories(uow, workspace_id).imports.drop_chunks(import_id)
        await uow.commit()


def _analyze_after(before: int, after: int) -> bool:
    """Fresh statistics after the first batch, then each time the import has grown the table 4 times
    (500, 2,000, 8,000, 32,000 … rows): a handful of ANALYZEs however large the file."""
    mark = BATCH_ROWS
    while mark <= after:
        if before < mark <= after:
            return True
        mark *= 4
    return False


def _order_boundary(batch: list[tuple[int, list[str]]], resolved: rules.ColumnMap, defaults: dict[str, Any]) -> int:
    """How many rows of `batch` end with a whole order (its last rows may continue in the next piece)."""

    def key(row: list[str]) -> tuple[str, str] | None:
        try:
            return rules.order_key(rules.item(row, resolved, defaults=defaults))
        except ValueError:
            return None

    last = key(batch[-1][1])
    if last is None:
        return len(batch)  # a row without an external_id is an order of its own
    cut = len(batch)
    while cut > 0 and key(batch[cut - 1][1]) == last:
        cut -= 1
    if cut == 0 and len(batch) > rules.MAX_ORDER_ROWS:
        return len(batch)  # more rows than an order may have: applied (and refused) as they are
    return cut


def _summary(imp: Row) -> dict[str, Any]:
    return {k: imp[k] for k in ("rows_total", "rows_done", "rows_created", "rows_updated", "rows_unchanged",
                                "rows_merged", "rows_failed")}  # fmt: skip


async def _apply_batch(
    database: Database,
    workspace_id: UUID,
    actor: Actor,
    imp: Row,
    entity: Entity,
    resolved: rules.ColumnMap,
    header: list[str],
    part: list[tuple[int, list[str]]],
    defaults: dict[str, Any],
    done: int,
) -> int:
    async with UnitOfWork(database) as uow:
        # Plans for the tables as they are now: an import grows a fresh workspace's tables from
        # nothing, and plans cached while they were empty would scan them (each row slower as the
        # tables grow; benchmarks/README.md).
        await uow.plan_each_statement()
        ctx = Context(uow, workspace_id, actor, utcnow(), quiet=QUIET, scopes=SERVICE_SCOPES)
        on_duplicate = imp["options"].get("on_duplicate") or leads.REJECT  # (imports queued before merging: reject)
        hidden = await _sensitive_columns(ctx, entity.name, resolved, header)
        outcomes = await _write(ctx, entity, _build(entity, resolved, header, part, defaults, hidden), on_duplicate)
        await uow.flush()  # rows written behind exist now: tag them
        repo = WorkspaceRepositories(uow, workspace_id).imports
        await repo.tag(entity.name, imp["id"], list({o.id for o in outcomes if o.status == "created" and o.id}))
        failed = [o for o in outcomes if o.errors]
        await repo.add_errors(imp["id"], [
            {"row_number": o.row_number, "errors": o.errors, "values": o.values} for o in failed
        ])  # fmt: skip
        await _refer_failed_rows(ctx, entity, resolved, header, imp["id"], failed)
        counts = {"rows_done": len(outcomes)}
        for status in ("created", "updated", "unchanged", "merged"):
            counts[f"rows_{status}"] = sum(1 for o in outcomes if o.status == status)
        counts["rows_failed"] = sum(1 for o in outcomes if o.status == "error")
        if not await repo.advance(imp["id"], done, counts, ctx.now):
            raise Conflict("another worker is applying this import")
        await uow.commit()
    return done + len(outcomes)


# The fields a row names its person by: a failed row's refs (`personal_refs`) are digests of them.
_IDENTITY_FIELDS = {
    "leads": ("email", "phone"),
    "contacts": ("email", "phone"),
    "orders": ("customer_email", "customer_phone"),
}


async def _refer_failed_rows(
    ctx: Context, entity: Entity, resolved: rules.ColumnMap, header: list[str], import_id: UUID,
    failed: list[Outcome],
) -> None:  # fmt: skip
    """Refs to the failed rows kept (`import_errors`), by the person's email and phone as the API
    would normalise them (the digest of the email's key, of the E.164 number): an erasure of that
    person finds the rows without reading every import's. A value that does not parse gives no
    subject: such a row is found only through its import."""
    if not failed:
        return
    email_field, phone_field = _IDENTITY_FIELDS[entity.name]
    columns = [
        header[index] if index is not None and index < len(header) else None
        for index in (resolved.columns.get(email_field), resolved.columns.get(phone_field))
    ]
    if columns == [None, None]:
        return
    region = await workspaces.default_region(ctx) if columns[1] is not None else None
    for outcome in failed:
        email, phone = (unescape_formula(outcome.values.get(c, "").strip()) if c else "" for c in columns)
        found = []
        if email:
            key = _email_key(email)
            if key is not None:
                found.append(subjects.email_subject(key))
        if phone:
            e164 = parse_phone(phone, region).e164
            if e164 is not None:
                found.append(subjects.phone_subject(e164))
        ctx.personal_refs.add(found, subjects.IMPORT_ERRORS, f"{import_id}:{outcome.row_number}")


def _email_key(email: str) -> str | None:
    try:
        return parse_email(email).key
    except ValueError:
        return None


async def _write(
    ctx: Context,
    entity: Entity,
    groups: list[tuple[list[Outcome], dict[str, Any] | ValueError]],
    on_duplicate: str = "reject",
) -> list[Outcome]:
    items = [(rows, item) for rows, item in groups if not isinstance(item, ValueError)]
    outcomes: list[Outcome] = []
    for rows, item in groups:
        if isinstance(item, ValueError):
            for outcome in rows:
                outcome.errors = _error_of(item)
            outcomes += rows
    if entity.name == "contacts":
        erased = await _erased(ctx, [item for _, item in items])
        results = [await _create_contact(ctx, item, erased) for _, item in items]
    elif entity.name == "leads":
        results = await leads.batch_upsert(ctx, [item for _, item in items], on_duplicate=on_duplicate)
    else:
        results = await orders.batch_upsert(ctx, [item for _, item in items])
    for (rows, _), result in zip(items, results, strict=True):
        for outcome in rows:
            outcome.status = result["status"]
            outcome.id = result.get("id")
            if result["status"] == "error":
                outcome.errors = _problem_errors(result["problem"])
        outcomes += rows
    return sorted(outcomes, key=lambda o: o.row_number)


async def _erased(ctx: Context, items: list[dict[str, Any]]) -> suppressions.Erased:
    """The rows' addresses an erasure suppressed, looked up at once (a row whose email or phone
    does not parse names no address)."""
    region = await workspaces.default_region(ctx)
    addresses = []
    for item in items:
        email, phone = item.get("email"), item.get("phone")
        details = contact_details(
            email if isinstance(email, str) else None, phone if isinstance(phone, str) else None, region, ErrorList()
        )
        addresses.append((details.email_key, details.phone_e164))
    return await suppressions.erased(ctx, addresses)


async def _create_contact(ctx: Context, item: dict[str, Any], erased: suppressions.Erased) -> dict[str, Any]:
    """A contact from a row: the API's rules, and a row whose email or phone a live contact has
    already is reported (never a second contact for one person)."""

    try:
        values = ContactCreate.model_validate(item).model_dump()
        problems = ErrorList()
        details = contact_details(
            values.get("email"), values.get("phone"), await workspaces.default_region(ctx), problems
        )
        problems.raise_if_any()
        existing = await _existing(ctx, "contacts", details.email_key, details.phone_e164)
        if existing is not None:
            raise Conflict("a contact with this email or phone exists", extensions={"existing_id": str(existing)})
        async with ctx.uow.savepoint():
            row = await create_contact(ctx, values, erased=erased)
        return {"index": 0, "status": "created", "id": row["id"]}
    except ValidationError as exc:
        return item_error(0, invalid_input(exc))
    except DomainError as exc:
        return item_error(0, exc)


# -- reading ------------------------------------------------------------------------------------------


async def get(ctx: Context, import_id: UUID) -> Row:
    row = await ctx.imports.get(import_id)
    if row is None:
        raise NotFound("no import with this id")
    return row


async def list_imports(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, entities: list[str], **filters: Any
) -> Page:
    """Imports of the entities the caller may read."""
    conditions = [ctx.imports.table.c.entity.in_(entities or ["-"])]
    return await ctx.imports.list(
        sort=sort, cursor=cursor, limit=limit, archived=None, conditions=conditions, **filters
    )


async def errors(ctx: Context, import_id: UUID, *, after: int, limit: int) -> list[Row]:
    """Failed rows as kept, without the columns of sensitive custom fields (also those marked
    sensitive after the import ran), whatever the caller's scopes."""
    imp = await get(ctx, import_id)
    rows = await ctx.imports.errors(import_id, after=after, limit=limit)
    if imp["entity"] != "leads" or not rows:
        return rows
    hidden = sensitive_rules.sensitive_columns(imp["mapping"] or {}, await sensitive.keys(ctx))
    if not hidden:
        return rows
    return [{**r, "values": {k: v for k, v in (r["values"] or {}).items() if k not in hidden}} for r in rows]
