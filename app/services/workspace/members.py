"""Members: the people of a workspace who own leads and log work."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.concurrency import check_if_match
from app.domain.errors import InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.pagination import Sort
from app.domain.workspace.members import manager_cycle
from app.ids import new_id
from app.schemas.workspace.members import MemberRead
from app.services.context import Context, changed_fields, write_changes
from app.services.events import events
from app.services.workspace.api_keys import KeyResolver


async def get(ctx: Context, member_id: UUID) -> Row:
    row = await ctx.members.get(member_id)
    if row is None:
        raise NotFound("no member with this id")
    return row


async def by_ids(ctx: Context, member_ids: list[UUID]) -> dict[UUID, Row]:
    """The workspace's members among these ids (others' and unknown ids left out)."""
    return await ctx.members.by_ids(member_ids) if member_ids else {}


async def _check_manager(ctx: Context, member_id: UUID, manager_id: UUID) -> None:
    repo = ctx.members
    chain = await repo.managers_chain(manager_id)
    if manager_id not in chain:
        raise InvalidInput.field("manager_id", "no member with this id in the workspace")
    as_str = {str(k): (str(v) if v else None) for k, v in chain.items()}
    if manager_cycle(str(member_id), str(manager_id), as_str):
        raise InvalidInput.field("manager_id", "a member cannot report to themselves, directly or indirectly")


async def create(ctx: Context, values: dict[str, Any]) -> Row:
    member_id = new_id()
    if values.get("manager_id") is not None:
        await _check_manager(ctx, member_id, values["manager_id"])
    row = await ctx.members.create({"id": member_id, **values, **ctx.audit_new()})
    await events.record(ctx, types.MEMBER_CREATED, MemberRead.model_validate(row))
    return row


async def update(
    ctx: Context, member_id: UUID, changes: dict[str, Any], *, if_match: str | None, resolver: KeyResolver | None = None
) -> Row:
    """Deactivating a member (`active: false`) stops every key bound to them (at once in this
    process, within API_KEY_CACHE_SECONDS in others); reactivating lets those keys that were not
    revoked and have not expired work again."""
    row = await get(ctx, member_id)
    check_if_match(if_match, row["version"])
    changes = changed_fields(row, changes)
    if not changes:
        return row
    if changes.get("manager_id") is not None:
        await _check_manager(ctx, member_id, changes["manager_id"])
    updated = await write_changes(ctx, row, changes, partial(ctx.members.update, member_id), if_match=if_match)
    await events.record(
        ctx, types.MEMBER_UPDATED, MemberRead.model_validate(updated), previous=MemberRead.model_validate(row)
    )
    if resolver is not None and "active" in changes:
        if updated["active"]:
            resolver.member_reactivated(member_id)
        else:
            resolver.member_deactivated(member_id)
    return updated


async def list_members(ctx: Context, *, sort: Sort, cursor: str | None, limit: int, **filters: Any) -> Page:
    return await ctx.members.list(sort=sort, cursor=cursor, limit=limit, **filters)
