"""What accounts, contacts, opportunities and tasks share: get, create, change, archive and list
one kind of record, with its events. Each kind's own rules live in its service (`prepare`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic
from uuid import UUID

from pydantic import BaseModel

from app.db.repositories.base import Page, RecordRepository
from app.db.repositories.registry import BoundRepositories
from app.domain.concurrency import check_if_match, lost_update
from app.domain.errors import Conflict, ErrorList, NotFound
from app.domain.money import to_minor
from app.domain.pagination import Sort
from app.ids import new_id
from app.services.context import Context, RowT, changed_fields, write_changes
from app.services.events import events
from app.services.workspace import workspaces

# (ctx, values asked for, the current row or None on create) -> column values, or raise InvalidInput
Prepare = Callable[[Context, dict[str, Any], RowT | None], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Kind(Generic[RowT]):
    """A kind of record; `RowT` is its rows' type (`Kind[AccountRow]`)."""

    name: str  # "account": events are "<name>.created" etc.
    repository: Callable[[BoundRepositories], RecordRepository[RowT]]  # the kind's repository among the workspace's
    read: type[BaseModel]
    prepare: Prepare[RowT]

    def repo(self, ctx: Context) -> RecordRepository[RowT]:
        return self.repository(ctx)


async def get(ctx: Context, kind: Kind[RowT], record_id: UUID) -> RowT:
    row = await kind.repo(ctx).get(record_id)
    if row is None:
        raise NotFound(f"no {kind.name} with this id")
    return row


async def create(ctx: Context, kind: Kind[RowT], values: dict[str, Any]) -> RowT:
    prepared = await kind.prepare(ctx, values, None)
    row = await kind.repo(ctx).create({"id": new_id(), **prepared, **ctx.audit_new()})
    await events.record(ctx, f"{kind.name}.created", kind.read.model_validate(row))
    return row


async def update(
    ctx: Context,
    kind: Kind[RowT],
    record_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
    read_version: int | None = None,
) -> tuple[RowT, RowT]:
    """(before, after); after is before when nothing really changed. `read_version`: the version
    of the row the caller decided its changes on; a concurrent writer moved it since, so the
    request runs again on a fresh read (LostUpdate)."""
    row = await get(ctx, kind, record_id)
    check_if_match(if_match, row["version"])
    if read_version is not None and row["version"] != read_version:
        raise lost_update(None)
    if row.get("archived_at") is not None:
        raise Conflict(f"the {kind.name} is archived")
    values = changed_fields(row, await kind.prepare(ctx, changes, row))
    if not values:
        return row, row
    updated = await write_changes(ctx, row, values, partial(kind.repo(ctx).update, record_id), if_match=if_match)
    await events.record(
        ctx, f"{kind.name}.updated", kind.read.model_validate(updated), previous=kind.read.model_validate(row)
    )
    return row, updated


async def archive(ctx: Context, kind: Kind[RowT], record_id: UUID, *, if_match: str | None) -> RowT:
    row = await get(ctx, kind, record_id)
    check_if_match(if_match, row["version"])
    if row["archived_at"] is not None:
        return row
    updated = await write_changes(
        ctx, row, {"archived_at": ctx.now}, partial(kind.repo(ctx).update, record_id), if_match=if_match
    )
    await events.record(
        ctx, f"{kind.name}.archived", kind.read.model_validate(updated), previous=kind.read.model_validate(row)
    )
    return updated


async def list_records(
    ctx: Context, kind: Kind[RowT], *, sort: Sort, cursor: str | None, limit: int, **filters: Any
) -> Page[RowT]:
    return await kind.repo(ctx).list(sort=sort, cursor=cursor, limit=limit, **filters)


async def check_links(ctx: Context, values: dict[str, Any], errors: ErrorList) -> None:
    """Every `<record>_id` given names a live record of this workspace."""
    members = ctx.members
    for field in ("owner_id", "assignee_id", "member_id"):
        if values.get(field) is not None and values[field] not in await members.by_ids([values[field]]):
            errors.add(field, "no member with this id in the workspace")
    for field, repo in (
        ("account_id", ctx.accounts),
        ("contact_id", ctx.contacts),
        ("opportunity_id", ctx.opportunities),
        ("lead_id", None),
    ):
        value = values.get(field)
        if value is None:
            continue
        exists = await ctx.leads.exists(value) if repo is None else value in await repo.existing([value])
        if not exists:
            errors.add(field, f"no {field.removesuffix('_id')} with this id in the workspace")


async def money_field(
    ctx: Context,
    name: str,
    values: dict[str, Any],
    current: Mapping[str, Any] | None,
    prepared: dict[str, Any],
    errors: ErrorList,
) -> None:
    """`<name>` (a decimal string) and `currency` into `<name>_minor` in `prepared`: the currency
    given, else the record's, else the workspace's; a new currency needs the amount in it too."""
    amount = prepared.pop(name, None)
    if prepared.get("currency") is None:
        prepared["currency"] = (current or {}).get("currency") or (await workspaces.get(ctx))["currency"]
    if name in values or current is None:
        try:
            prepared[f"{name}_minor"] = to_minor(amount, prepared["currency"]) if amount is not None else None
        except ValueError as exc:
            errors.add(name, str(exc))
    elif (
        "currency" in values
        and current is not None
        and current[f"{name}_minor"] is not None
        and values["currency"] != current["currency"]
    ):
        errors.add("currency", f"changing the currency needs the {name} in it too")
