"""Privacy requests: everything about one person exported (`privacy.export`) or erased
(`privacy.erase`), each answered by a job. The request resolves the person when it is made (the
202 names what it matched); it keeps keyed digests of what it was given and of every identifier
the person's records carry (to find their rows in `personal_refs` and to suppress their addresses
as `erased`), never the identifiers themselves."""

from __future__ import annotations

import gzip
from datetime import timedelta
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.errors import Conflict, DomainError, NotFound
from app.domain.outreach.vocabulary import ChannelType
from app.domain.pagination import Sort
from app.domain.privacy import erasure as rules
from app.domain.workspace.retention import Swept, cursor
from app.ids import new_id
from app.services.audit import audit
from app.services.context import Context
from app.services.events import jobs
from app.services.outreach import suppressions
from app.services.privacy import people, places

EXPORT, ERASURE = "export", "erasure"
KINDS = {EXPORT: "privacy.export", ERASURE: "privacy.erase"}
RESOURCES = {EXPORT: "privacy_exports", ERASURE: "privacy_erasures"}
# When `retention.privacy_export_days` is null (kept), an export's document still expires: an
# export is a copy made for one person to take away, not the workspace's data.
DEFAULT_EXPORT_DAYS = 7


class Gone(DomainError):
    status = 410
    slug = "gone"
    title = "Gone"


def suppression_hashes(person: people.Person) -> list[dict[str, str]]:
    """The suppression entries an erasure leaves: every email on `email`, every phone on `sms` and
    `whatsapp`, by keyed hash."""
    out = []
    for email in sorted(person.email_keys):
        key = suppressions.lookup_key(ChannelType.EMAIL, email)
        out.append({"channel": "email", "address_hash": suppressions.address_hash(ChannelType.EMAIL, key)})
    for phone in sorted(person.phones):
        for channel in (ChannelType.SMS, ChannelType.WHATSAPP):
            out.append({"channel": channel.value, "address_hash": suppressions.address_hash(channel, phone)})
    return out


async def create(
    ctx: Context,
    kind: str,
    body: dict[str, Any],
    *,
    reason: str | None = None,
    origin: str = "api",
    shop_ids: tuple[tuple[str, str], ...] = (),
    dry_run: bool = False,
    enqueue: bool = True,
    alone: bool = False,
) -> Row | None:
    """Make a request (its job queued in the same transaction), or, for an erasure's dry run, answer
    the rows it would change per table without storing anything."""
    given = await people.given(ctx, body, shop_ids)
    person = await people.resolve(ctx, given)
    if alone and len(person.matched()) > 1:  # a shop's contact who is someone else's too: left alone
        return None
    subjects: dict[str, Any] = {
        "given": given.digests(),
        "refs": person.subjects(),
        "suppressions": suppression_hashes(person),
    }
    if dry_run:
        return {
            "id": None,
            "kind": kind,
            "status": "completed",
            "dry_run": True,
            "job_id": None,
            "matched": person.matched(),
            "counts": await count_erasure(ctx, person, subjects),
            "reason": reason,
            "origin": origin,
            "subjects": subjects["given"],
            "document_bytes": None,
            "expires_at": None,
            "problem": None,
            "created_at": ctx.now,
            "created_by": str(ctx.actor),
            "completed_at": ctx.now,
        }
    request_id = new_id()
    counts: dict[str, int] | None = None
    if kind == ERASURE:
        # Do not contact, from the moment it is asked: nothing is sent to them while the job waits
        # its turn, and a capture of their address from now on is a new person (opted out).
        counts = {"suppressions": n} if (n := await suppress(ctx, subjects["suppressions"])) else {}
        suppressions.erased_now(ctx.workspace_id)
    # a shop-wide erasure runs its people's erasures itself, one after the other
    job = await jobs.enqueue(ctx, KINDS[kind], {"request_id": str(request_id)}) if enqueue else None
    row = await ctx.privacy_requests.add(
        {
            "id": request_id,
            "kind": kind,
            "status": "pending",
            "subjects": subjects,
            "reason": reason,
            "origin": origin,
            "job_id": job["id"] if job is not None else None,
            "matched": person.matched(),
            "counts": counts,
            **ctx.audit_new(),
        }
    )
    audit.record(
        ctx,
        resource=RESOURCES[kind],
        action="create",
        resource_id=request_id,
        detail={"subjects": given.digests(), "matched": len(person.matched()), "origin": origin},
    )
    return view(row)


async def suppress(ctx: Context, entries: list[dict[str, str]]) -> int:
    """The person's addresses suppressed with reason `erased` (keyed hashes, no address); how many
    entries that changed or added."""
    changed = 0
    for entry in entries:
        values = {"id": new_id(), "created_at": ctx.now, "created_by": str(ctx.actor), "message_id": None}
        if await ctx.personal_data.suppress_erased(entry["channel"], entry["address_hash"], values):
            changed += 1
    return changed


async def count_erasure(ctx: Context, person: people.Person, subjects: dict[str, Any]) -> dict[str, int]:
    """The rows an erasure would change (or delete) per table, changing nothing."""
    people = frozenset(str(i) for i in (*person.lead_ids, *person.contact_ids))
    erasing = rules.Erasing(ctx.now, rules.Identifiers.of(person.records()).pattern(), people)
    ids = places.Ids.start(person.lead_ids, person.contact_ids, await places.ref_keys(ctx, subjects["refs"]))
    counts: dict[str, int] = {}

    async def count(place: str, rows: list[dict[str, Any]]) -> None:
        rewrites, deletes = places.changes(place, rows, erasing)
        if place == "accounts_made":
            for row, _ in rewrites:
                ids.erased_account(row["id"])
        if rewrites or deletes:
            counts[place] = counts.get(place, 0) + len(rewrites) + len(deletes)

    for place in (*places.TOMBSTONES, *places.ERASED):
        await places.read(ctx, place, ids, count)
    new = 0
    for entry in subjects["suppressions"]:
        existing = await ctx.suppressions.by_hash(entry["channel"], entry["address_hash"])
        if existing is None or existing["reason"] != "erased" or existing["address"] is not None:
            new += 1
    if new:
        counts["suppressions"] = new
    audit_entries = 0
    for resource in places.EVENT_RESOURCES:
        audit_entries += await ctx.audit.count_personal_of(resource, [str(i) for i in ids.sets.get(resource, ())])
    made = [str(i) for i in ids.sets.get("accounts_made", ())]
    audit_entries += await ctx.audit.count_personal_of("accounts", made)
    if audit_entries:
        counts["audit_log"] = audit_entries
    return dict(sorted(counts.items()))


def view(row: Row) -> Row:
    """A request as the API shows it: the digests it was given, not the ones it found."""
    subjects = row.get("subjects") or {}
    return {
        **row,
        "dry_run": False,
        "matched": row.get("matched") or [],
        "subjects": subjects.get("given", {}) if isinstance(subjects, dict) else {},
    }


async def get(ctx: Context, kind: str, request_id: UUID) -> Row:
    row = await ctx.privacy_requests.get(request_id, kind)
    if row is None:
        raise NotFound(f"no privacy {kind} with this id")
    return view(row)


async def list_requests(
    ctx: Context, kind: str, *, sort: Sort, cursor: str | None, limit: int, status: str | None
) -> Page:
    page = await ctx.privacy_requests.list(kind=kind, sort=sort, cursor=cursor, limit=limit, status=status)
    return Page([view(r) for r in page.rows], page.next_cursor)


async def download(ctx: Context, request_id: UUID, *, gzipped: bool = False) -> bytes:
    """An export's document (JSON; as stored, gzip, when `gzipped`), once ready and until it
    expires; the download is audited."""
    row = await ctx.privacy_requests.get(request_id, EXPORT)
    if row is None:
        raise NotFound("no privacy export with this id")
    if row["status"] == "expired" or (row["expires_at"] is not None and row["expires_at"] <= ctx.now):
        raise Gone("this export's document has expired and was purged; request a new export")
    if row["status"] != "ready" or row["document"] is None:
        raise Conflict(f"this export is {row['status']}: its document can be downloaded once it is ready")
    audit.record(ctx, resource=RESOURCES[EXPORT], action="download", resource_id=request_id)
    document: bytes = row["document"]
    return document if gzipped else gzip.decompress(document)


def export_expiry(ctx: Context, days: int | None) -> Any:
    return ctx.now + timedelta(days=days if days else DEFAULT_EXPORT_DAYS)


async def purge_expired(ctx: Context, moment: Any, after: tuple[Any, UUID] | None, limit: int) -> Swept:
    """A page of exports whose documents expired before `moment`: documents deleted (and the refs
    that pointed an erasure at them), requests `expired`; the retention pass's Swept."""
    rows = await ctx.privacy_requests.expired_exports(before=moment, after=after, limit=limit)
    if not rows:
        return Swept(0, None)
    for row in rows:
        await ctx.privacy_requests.set(
            row["id"], {"status": "expired", "document": None, "document_bytes": None, **ctx.audit_change()}
        )
    await ctx.personal_refs.forget_rows("privacy_requests", [str(r["id"]) for r in rows])
    last = rows[-1]
    return Swept(len(rows), cursor(last["expires_at"], last["id"]))
