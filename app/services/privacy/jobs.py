"""The jobs that answer privacy requests.

`privacy.export`: every record of the person, read place by place, into one JSON document grouped
by resource, kept gzipped on the request until it expires.

`privacy.erase`: the person's data anonymised everywhere it lives, in this order, each step in
transactions of a page:
1. their emails and phones suppressed as `erased` (keyed hashes, no address): the request did it
   in its own transaction, so nothing is sent to them from the moment it is asked and a capture
   from then on is a new person; the job suppresses again what was lifted meanwhile;
2. a wait while an import of the workspace is still running (its stored upload may hold them);
3. every place that points at them (app/services/privacy/places.py: ERASED), rows rewritten by
   the rules of app/domain/privacy/erasure.py or deleted; the audit log's personal values;
4. in one final transaction, with their lead and contact rows locked: every place walked again
   (what a capture or sync added meanwhile), then the tombstones (same ids, personal fields
   nulled, `erased_at`), the refs forgotten and `erasure.completed` recorded.
A retry after a crash walks again: rules change nothing twice, so counts only add what is new."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from app import jsonio
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.events import events as types
from app.domain.privacy import erasure as rules
from app.ids import utcnow
from app.schemas.privacy.requests import ErasureCompleted
from app.services.audit import audit
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events
from app.services.privacy import places
from app.services.privacy import requests as privacy_requests

log = logging.getLogger("app.services.privacy")
Progress = Callable[..., Awaitable[None]]
IMPORT_WAIT_SECONDS = 2.0
IMPORT_WAIT_LIMIT = 600  # seconds an erasure waits for running imports before it goes on anyway

# Columns an export leaves out: the service's own lookup keys and bookkeeping, no one's data.
_INTERNAL = frozenset({"workspace_id", "search_text", "name_key", "company_key", "lease_until", "content_hash"})


def _context(uow: UnitOfWork, workspace_id: UUID) -> Context:
    return Context(uow, workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)


async def _load(database: Database, workspace_id: UUID, request_id: UUID, kind: str) -> dict[str, Any]:
    async with UnitOfWork(database, write=True) as uow:
        ctx = _context(uow, workspace_id)
        row = await ctx.privacy_requests.get(request_id, kind)
        if row is None:
            raise LookupError("the privacy request is gone")
        if row["status"] == "pending":
            row = await ctx.privacy_requests.set(request_id, {"status": "running", **ctx.audit_change()}) or row
        await uow.commit()
    return row


def _person(row: Mapping[str, Any]) -> tuple[list[UUID], list[UUID]]:
    matched = row.get("matched") or []
    leads = [UUID(m["id"]) for m in matched if m["resource"] == "leads"]
    contacts = [UUID(m["id"]) for m in matched if m["resource"] == "contacts"]
    return leads, contacts


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if k not in _INTERNAL}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


async def run_export(database: Database, workspace_id: UUID, params: Mapping[str, Any]) -> dict[str, Any]:
    """`privacy.export`: the document, stored on the request (`ready`), with how many records of
    each resource it holds."""
    from app.schemas.workspace.settings import RetentionSettings
    from app.services.workspace import settings

    request_id = UUID(params["request_id"])
    row = await _load(database, workspace_id, request_id, privacy_requests.EXPORT)
    lead_ids, contact_ids = _person(row)
    subjects = row["subjects"].get("refs", [])
    resources: dict[str, list[Any]] = {}
    async with UnitOfWork(database, write=False) as uow:
        ctx = _context(uow, workspace_id)
        ids = places.Ids.start(lead_ids, contact_ids, await places.ref_keys(ctx, subjects))

        async def keep(place: str, rows: list[dict[str, Any]]) -> None:
            resources.setdefault(place, []).extend(jsonable(rows))

        for place in places.EXPORTED:
            await places.read(ctx, place, ids, keep)
        pairs = [(e["channel"], e["address_hash"]) for e in row["subjects"].get("suppressions", [])]
        if suppressed := await ctx.personal_data.suppressions(pairs):
            resources["suppressions"] = jsonable(suppressed)
        retention = (await settings.get(ctx, "retention", RetentionSettings))["values"]
    now = utcnow()
    document = {
        "request_id": str(request_id),
        "generated_at": now.isoformat(),
        "matched": row.get("matched") or [],
        "resources": resources,
    }
    body = gzip.compress(jsonio.dump_bytes(document))
    counts = {place: len(rows) for place, rows in resources.items() if rows}
    async with UnitOfWork(database, write=True) as uow:
        ctx = _context(uow, workspace_id)
        await ctx.personal_data.lock_people(lead_ids, contact_ids)
        if await _erased(ctx, lead_ids, contact_ids):
            # an erasure of the person finished while the document was gathered: it is not kept
            problem = {"title": "The person was erased while the export was made", "status": 409}
            await ctx.privacy_requests.set(request_id, {"status": "failed", "problem": problem, **ctx.audit_change()})
            await uow.commit()
            return {"request_id": str(request_id), "erased": True}
        await ctx.privacy_requests.set(
            request_id,
            {
                "status": "ready",
                "document": body,
                "document_bytes": len(body),
                "counts": counts,
                "expires_at": privacy_requests.export_expiry(ctx, retention.get("privacy_export_days")),
                "completed_at": now,
                **ctx.audit_change(),
            },
        )
        # an erasure of any of them later deletes this document too
        await ctx.personal_refs.add_now(subjects, "privacy_requests", str(request_id))
        await uow.commit()
    return {"request_id": str(request_id), "counts": counts}


async def run_erasure(
    database: Database, workspace_id: UUID, params: Mapping[str, Any], progress: Progress
) -> dict[str, Any]:
    """`privacy.erase` (the module's docstring): the counts per table, also kept on the request."""
    request_id = UUID(params["request_id"])
    row = await _load(database, workspace_id, request_id, privacy_requests.ERASURE)
    if row["status"] == "completed":
        return {"request_id": str(request_id), "counts": row.get("counts") or {}}
    lead_ids, contact_ids = _person(row)
    subjects: dict[str, Any] = row["subjects"]
    counts: dict[str, int] = dict(row.get("counts") or {})  # the request's own suppressions

    def add(place: str, n: int) -> None:
        if n:
            counts[place] = counts.get(place, 0) + n

    # 1. do not contact (the request did; an entry lifted or changed since is suppressed again)
    async with UnitOfWork(database, write=True) as uow:
        add(
            "suppressions",
            await privacy_requests.suppress(_context(uow, workspace_id), subjects.get("suppressions", [])),
        )
        await uow.commit()
    await progress(step="suppressed", counts=counts)
    # 2. no import half-way through its upload
    waited = 0.0
    while waited < IMPORT_WAIT_LIMIT:
        async with UnitOfWork(database, write=False) as uow:
            running = await _context(uow, workspace_id).personal_data.running_imports()
        if not running:
            break
        await asyncio.sleep(IMPORT_WAIT_SECONDS)
        waited += IMPORT_WAIT_SECONDS
        await progress(step="waiting_for_imports", counts=counts)
    # 3. everything that points at them, a page a transaction
    pattern = await _pattern(database, workspace_id, lead_ids, contact_ids)
    ids = await _walk(database, workspace_id, lead_ids, contact_ids, subjects, pattern, add)
    await progress(step="rows", counts=counts)
    # 4. again under lock, then the tombstones; 5. once more after they committed: a sync that
    # found them before (its foreign keys waiting on the lock, then linking a shop identity or an
    # order to the tombstone) has ended by the time the lock is taken again, and is undone
    seen = ids
    for last in (False, True):
        async with UnitOfWork(database, write=True) as uow:
            ctx = _context(uow, workspace_id)
            await ctx.personal_data.lock_people(lead_ids, contact_ids)
            walked = await _walk_in(ctx, lead_ids, contact_ids, subjects, pattern, add)
            for place in places.TOMBSTONES:
                await _erase_place(ctx, place, walked, pattern, add)
            seen.merge(walked)
            if not last:
                await uow.commit()
                continue
            ids = seen
            add("import_chunks", await ctx.personal_data.drop_ended_uploads(_import_ids(ids)))
            # the audit log's entries about any of their records keep their chained, masked diffs
            for resource in places.EVENT_RESOURCES:
                add(
                    "audit_log",
                    await audit.erase_personal_of(ctx, resource, sorted(ids.sets.get(resource, ()), key=str)),
                )
            made = sorted(ids.sets.get("accounts_made", ()), key=str)
            add("audit_log", await audit.erase_personal_of(ctx, "accounts", made))
            suppression_ids = await ctx.personal_data.suppression_ids(
                [(s["channel"], s["address_hash"]) for s in subjects.get("suppressions", [])]
            )
            for suppression_id in suppression_ids:
                while (n := await events.redact(ctx, str(suppression_id), places.PAGE)) > 0:
                    add("events", n)
            await ctx.personal_refs.forget(subjects.get("refs", []))
            now = ctx.now
            final = dict(sorted(counts.items()))
            await ctx.privacy_requests.set(
                request_id,
                {
                    "status": "completed",
                    "counts": final,
                    "completed_at": now,
                    # what it found them by is no longer needed: only what it was given stays, hashed
                    "subjects": {"given": subjects.get("given", {})},
                    **ctx.audit_change(),
                },
            )
            await events.record(
                ctx, types.ERASURE_COMPLETED, ErasureCompleted(id=request_id, counts=final, completed_at=now)
            )
            await uow.commit()
    return {"request_id": str(request_id), "counts": final}


async def _records(ctx: Context, lead_ids: list[UUID], contact_ids: list[UUID]) -> list[dict[str, Any]]:
    """The person's lead and contact rows as they are now (their identifiers, `erased_at`)."""
    repo = ctx.personal_data
    records = await repo.leads_matching(ids=lead_ids, email_keys=[], phones=[], contact_ids=[])
    return records + await repo.contacts_matching(ids=contact_ids, email_keys=[], phones=[], lead_ids=[])


async def _erased(ctx: Context, lead_ids: list[UUID], contact_ids: list[UUID]) -> bool:
    return any(r["erased_at"] is not None for r in await _records(ctx, lead_ids, contact_ids))


async def _pattern(database: Database, workspace_id: UUID, lead_ids: list[UUID], contact_ids: list[UUID]) -> Any:
    """The identifiers free text may name the person by, from their records as they are now."""
    async with UnitOfWork(database, write=False) as uow:
        records = await _records(_context(uow, workspace_id), lead_ids, contact_ids)
    return rules.Identifiers.of(records).pattern()


def _import_ids(ids: places.Ids) -> list[UUID]:
    found: set[UUID] = set()
    for key in ids.sets.get("import_errors_refs", ()):
        try:
            found.add(UUID(str(key).partition(":")[0]))
        except ValueError:
            continue
    return sorted(found)


async def _walk(
    database: Database,
    workspace_id: UUID,
    lead_ids: list[UUID],
    contact_ids: list[UUID],
    subjects: Mapping[str, Any],
    pattern: Any,
    add: Callable[[str, int], None],
) -> places.Ids:
    """Step 3: each place's pages in transactions of their own."""
    async with UnitOfWork(database, write=False) as uow:
        ids = places.Ids.start(
            lead_ids, contact_ids, await places.ref_keys(_context(uow, workspace_id), subjects.get("refs", []))
        )
    for place in places.ERASED:
        key = places.primary_key_of(place)
        after: tuple[Any, ...] | None = None
        while True:
            async with UnitOfWork(database, write=True) as uow:
                ctx = _context(uow, workspace_id)
                rows = await ctx.personal_data.rows(place, ids.view(), after=after, limit=places.PAGE)
                ids.met(place, rows)
                await _apply(ctx, place, rows, pattern, add, ids)
                await uow.commit()
            if len(rows) < places.PAGE:
                break
            after = tuple(rows[-1][k] for k in key)
    return ids


async def _walk_in(
    ctx: Context,
    lead_ids: list[UUID],
    contact_ids: list[UUID],
    subjects: Mapping[str, Any],
    pattern: Any,
    add: Callable[[str, int], None],
) -> places.Ids:
    """Step 4's walk, inside the final transaction."""
    ids = places.Ids.start(lead_ids, contact_ids, await places.ref_keys(ctx, subjects.get("refs", [])))
    for place in places.ERASED:
        await _erase_place(ctx, place, ids, pattern, add)
    return ids


async def _erase_place(
    ctx: Context, place: str, ids: places.Ids, pattern: Any, add: Callable[[str, int], None]
) -> None:
    async def apply(name: str, rows: list[dict[str, Any]]) -> None:
        await _apply(ctx, name, rows, pattern, add, ids)

    await places.read(ctx, place, ids, apply)


async def _apply(
    ctx: Context,
    place: str,
    rows: list[dict[str, Any]],
    pattern: Any,
    add: Callable[[str, int], None],
    ids: places.Ids,
) -> None:
    erasing = rules.Erasing(ctx.now, pattern, ids.person_ids())
    rewrites, deletes = places.changes(place, rows, erasing)
    if place == "accounts_made":
        for row, _ in rewrites:
            ids.erased_account(row["id"])
    add(place, await ctx.personal_data.rewrite(place, rewrites))
    add(place, await ctx.personal_data.remove(place, deletes))


async def fail(database: Database, workspace_id: UUID, params: Mapping[str, Any], problem: dict[str, Any]) -> None:
    """The request of a job that failed for good: `failed`, with the job's problem."""
    async with UnitOfWork(database, write=True) as uow:
        await fail_in(_context(uow, workspace_id), params, problem)
        await uow.commit()


async def fail_in(ctx: Context, params: Mapping[str, Any], problem: dict[str, Any]) -> None:
    """`fail` inside a transaction of the caller's (a lost job failed by the next claim). An erasure
    that got past its first step keeps what it did: its request is failed, a new one finishes it."""
    try:
        request_id = UUID(str(params.get("request_id")))
    except ValueError:
        return
    values = {"status": "failed", "problem": problem, **ctx.audit_change()}
    await ctx.privacy_requests.set(request_id, values, unfinished=True)  # a finished one stays finished


SHOP_PAGE = 100


async def run_shop_redact(
    database: Database, workspace_id: UUID, params: Mapping[str, Any], progress: Progress
) -> dict[str, Any]:
    """`privacy.shop_redact` (a shop's `shop/redact`, 48 hours after it uninstalled the app): every
    contact that came only from that shop (known to it, made by its integration, from no lead,
    known to no other source) erased, each by an erasure request of its own (origin
    `<platform>:shop/redact`) run here one after the other; a retry goes on from its progress."""
    from app.services.context import Actor

    integration_id = UUID(params["integration_id"])
    source, actor = params["platform"], str(Actor("integration", str(integration_id)))
    saved = params.get("after")
    after = UUID(saved) if isinstance(saved, str) else None
    erased = int(params.get("erased") or 0)
    skipped = int(params.get("skipped") or 0)
    while True:
        async with UnitOfWork(database, write=False) as uow:
            page = await _context(uow, workspace_id).personal_data.shop_only_contacts(
                source, actor, after=after, limit=SHOP_PAGE
            )
        if not page:
            return {"integration_id": str(integration_id), "erased": erased, "skipped": skipped}
        for contact_id in page:
            if await _erase_shop_contact(database, workspace_id, contact_id, source):
                erased += 1
            else:
                skipped += 1
            after = contact_id
            await progress(after=str(after), erased=erased, skipped=skipped)


async def _erase_shop_contact(database: Database, workspace_id: UUID, contact_id: UUID, source: str) -> bool:
    """One contact of a shop/redact, by an erasure request of its own; False (nothing done) when the
    person is more than that contact (the same email or phone on a lead or another contact: data
    that did not come only from the shop) or cannot be resolved. A failing erasure fails its
    request and the job goes on with the next contact."""
    from app.domain.errors import DomainError

    try:
        async with UnitOfWork(database, write=True) as uow:
            ctx = _context(uow, workspace_id)
            row = await privacy_requests.create(
                ctx,
                privacy_requests.ERASURE,
                {"contact_id": contact_id},
                reason=f"{source} shop/redact",
                origin=f"{source}:shop/redact",
                enqueue=False,
                alone=True,
            )
            if row is None:
                return False
            await uow.commit()
    except DomainError:
        log.warning("shop/redact: contact %s of workspace %s could not be resolved; skipped", contact_id, workspace_id)
        return False
    try:
        await run_erasure(database, workspace_id, {"request_id": str(row["id"])}, _quiet)
    except Exception:
        log.exception("shop/redact: the erasure of contact %s (request %s) failed", contact_id, row["id"])
        await fail(
            database, workspace_id, {"request_id": str(row["id"])}, {"title": "The erasure failed", "status": 500}
        )
        return False
    return True


async def _quiet(**values: Any) -> None:
    return None
