"""The audit log's use cases. An entry is recorded in the transaction of the change it describes
(one INSERT, written behind with the request's other rows): it exists iff the change committed.
Nothing is chained here: the worker stamps entries later (app/services/audit/chain.py), so writers
never wait on one another.

Which entry a request gets:
- A use case that knows more than the route records its own, richer entry with `record` (API keys
  created and revoked, settings changed with each field before and after, CSV exports read, and
  later privacy requests); the request then gets no other.
- Every other write request (POST, PUT, PATCH, DELETE made with a secret key) gets one from the
  route class (`request_written`): resource and action from its route template and method, the
  resource id from its path (or the id it created), and the changed fields from the update events
  it recorded about that resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.audit import entries
from app.domain.errors import NotFound
from app.domain.pagination import Sort
from app.ids import new_id
from app.services.context import Context

# How a text field of an entry is cut to its column.
_LIMITS = {
    "resource": 64,
    "resource_id": 200,
    "action": 100,
    "route": 300,
    "ip": 64,
    "user_agent": 512,
    "request_id": 128,
}
VERIFY_PAGE = 1000  # entries read at a time when walking the chain
PURGE_PAGE = 5000  # entries (seqs) deleted by one statement of a purge


def _cut(name: str, value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[: _LIMITS[name]]


def canonical_id(value: Any) -> str | None:
    """A resource id as entries keep it: a UUID in its canonical text (lower case, hyphenated),
    however the path spelled it, so filters, erasure and the events' ids all match; else as given."""
    if value is None:
        return None
    if isinstance(value, UUID):
        return str(value)
    text = str(value)
    try:
        return str(UUID(text))
    except ValueError:
        return text


def record(
    ctx: Context,
    *,
    resource: str,
    action: str,
    resource_id: Any = None,
    changes: Mapping[str, Mapping[str, Any]] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record an entry about this use case's change (or sensitive read) in its transaction: who
    (the context's actor, key and member), from where (the request's address, user agent and id),
    what (`resource`, `resource_id`, `action`; `changes` as `{field: {"before", "after"}}`, `detail`
    anything else worth keeping, e.g. an export's filters). Secrets in `changes` and `detail` are
    masked; personal values are masked there too and kept apart, where erasure can remove them."""
    personal: dict[str, Any] = {}
    masked_changes = entries.mask_changes(changes, resource) if changes else None
    if masked_changes is not None:
        personal.update(masked_changes.personal)
    masked_detail = entries.mask(dict(detail), "detail", resource, personal).value if detail else None
    document = entries.personal_document(personal)
    origin = ctx.origin
    row: dict[str, Any] = {
        "id": new_id(),
        "occurred_at": ctx.now,
        "actor": str(ctx.actor),
        "member_id": origin.member_id if origin else None,
        "key_id": origin.key_id if origin else None,
        "resource": _cut("resource", resource),
        "resource_id": _cut("resource_id", canonical_id(resource_id)),
        "action": _cut("action", action),
        "route": _cut("route", f"{origin.method} {origin.route}") if origin and origin.route else None,
        "ip": _cut("ip", origin.ip) if origin else None,
        "user_agent": _cut("user_agent", origin.user_agent) if origin else None,
        "request_id": _cut("request_id", origin.request_id) if origin else None,
        "changes": masked_changes.value if masked_changes is not None else None,
        "detail": masked_detail,
        "personal": document,
        "personal_digest": entries.personal_digest(document),
    }
    row["digest"] = entries.digest({**row, "workspace_id": ctx.workspace_id})
    ctx.audit.add(row)


def request_written(ctx: Context, path_params: Mapping[str, Any], created_id: Any = None) -> None:
    """The entry of a write request whose use case recorded none: called by the route class right
    before its commit, with the request's path parameters and the id of what it created."""
    origin = ctx.origin
    if ctx.uow.audited or origin is None or origin.method is None or origin.route is None:
        return
    resource, action = entries.describe(origin.method, origin.route)
    parameter = entries.first_parameter(origin.route)
    resource_id = canonical_id(path_params.get(parameter) if parameter else created_id)
    record(
        ctx,
        resource=resource,
        action=action,
        resource_id=resource_id,
        changes=_changes_from_events(ctx.uow.queued_events, resource_id),
    )


def _changes_from_events(events: Sequence[Mapping[str, Any]], resource_id: Any) -> dict[str, dict[str, Any]] | None:
    """Before and after of each field the request's update events about the resource changed (the
    first `before`, the last `after`); None when it recorded none."""
    if resource_id is None:
        return None
    wanted = str(resource_id)
    changes: dict[str, dict[str, Any]] = {}
    for event in events:
        previous = event.get("previous_attributes")
        data = event.get("data")
        if event.get("resource_id") != wanted or not isinstance(previous, dict) or not isinstance(data, dict):
            continue
        for field, before in previous.items():
            if field in changes:
                changes[field]["after"] = data.get(field)
            else:
                changes[field] = {"before": before, "after": data.get(field)}
    return changes or None


# -- reading -----------------------------------------------------------------------------------------


def view(row: Mapping[str, Any]) -> Row:
    """An entry as the API shows it: its personal values (null once erased) without their salt."""
    personal = row.get("personal")
    return {**row, "personal": personal.get("values") if isinstance(personal, dict) else None}


async def get(ctx: Context, entry_id: UUID) -> Row:
    row = await ctx.audit.get(entry_id)
    if row is None:
        raise NotFound("no audit log entry with this id")
    return view(row)


async def list_entries(
    ctx: Context,
    *,
    sort: Sort,
    cursor: str | None,
    limit: int,
    member_id: UUID | None = None,
    key_id: UUID | None = None,
    resource: str | None = None,
    resource_id: str | None = None,
    action: str | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> Page[Row]:
    page = await ctx.audit.list(
        sort=sort,
        cursor=cursor,
        limit=limit,
        member_id=member_id,
        key_id=key_id,
        resource=resource,
        resource_id=canonical_id(resource_id),
        action=action,
        occurred_after=occurred_after,
        occurred_before=occurred_before,
    )
    return Page([view(r) for r in page.rows], page.next_cursor)


async def verify(ctx: Context) -> dict[str, Any]:
    """Walk the workspace's chain from its anchor to the head the worker last recorded: `ok`, how
    many entries were `checked`, the id of the first that does not hold (`first_break`), and the
    last chain hash checked (kept elsewhere, it shows later that nothing before it was rewritten).
    Entries not stamped yet are not part of the chain, and not a break."""
    chain = await ctx.audit.chain()
    anchor_seq = int(chain["anchor_seq"]) if chain else 0
    head_seq = int(chain["head_seq"]) if chain else 0
    check = entries.ChainCheck(
        previous_hash=(chain or {}).get("anchor_hash") or entries.GENESIS, previous_seq=anchor_seq
    )
    after = anchor_seq
    while check.ok and after < head_seq:
        rows = await ctx.audit.chained(after, head_seq, VERIFY_PAGE)
        if not rows:
            break
        for row in rows:
            if not check.feed(row):
                break
        after = int(rows[-1]["seq"])
    if chain is not None:
        check.end(head_seq, chain["head_hash"], chain["head_id"])
    return {
        "ok": check.ok,
        "checked": check.checked,
        "first_break": check.first_break,
        "anchor_seq": anchor_seq,
        "last_seq": check.previous_seq if check.checked else None,
        "last_chain_hash": check.previous_hash if check.checked else None,
    }


# -- retention and erasure -----------------------------------------------------------------------------


async def purge(ctx: Context, before: datetime, page: int = PURGE_PAGE) -> int:
    """Delete the entries older than `before` from the start of the workspace's chain, and record
    the last one deleted as the anchor verification starts from. The cut is at the first entry kept
    (the chain is never cut in its middle); entries not stamped yet stay. How many were deleted.

    The entries go `page` seqs a statement, from the anchor up, each statement moving the anchor
    to its last entry: no statement deletes an unbounded range (a first purge of years of log),
    and the chain is whole after every one of them. They run in the caller's transaction (the
    nightly timer's), so the night's purge still commits, or not, as one."""
    chain = await ctx.audit.chain()
    if chain is None:
        return 0
    first_kept = await ctx.audit.first_kept(before)
    cut = first_kept - 1 if first_kept is not None else int(chain["head_seq"])
    anchor = int(chain["anchor_seq"])
    deleted = 0
    while anchor < cut:
        through = min(cut, anchor + page)
        chain_hash = await ctx.audit.chain_hash_at(through)
        if chain_hash is None:  # the entry is missing: verification names the break; purge no further
            break
        deleted += await ctx.audit.purge_through(through, chain_hash, ctx.now, after_seq=anchor)
        anchor = through
    return deleted


async def erase_personal(ctx: Context, resource: str, resource_id: str) -> int:
    """Erase the personal values of every entry about a resource (a privacy request): the chain
    still verifies. How many entries had some."""
    return await ctx.audit.erase_personal(resource, canonical_id(resource_id) or resource_id)


async def erase_personal_of(ctx: Context, resource: str, resource_ids: Sequence[Any]) -> int:
    """`erase_personal` for many resources of one kind (a page of anonymised leads), in a few
    statements rather than one a resource. How many entries had some."""
    ids = [i for i in (canonical_id(r) for r in resource_ids) if i is not None]
    return await ctx.audit.erase_personal_of(resource, ids) if ids else 0
