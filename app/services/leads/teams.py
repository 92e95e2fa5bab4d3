"""Teams: named, ordered groups of members that leads are routed to in turn."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.concurrency import check_if_match
from app.domain.errors import Conflict, ErrorList, NotFound
from app.domain.events import events as types
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.leads.routing import TeamRead
from app.services.context import Context, changed_fields, write_changes
from app.services.events import events
from app.services.leads import lookups, routing


async def _check_members(ctx: Context, member_ids: list[UUID]) -> list[str]:
    errors = ErrorList()
    if len(set(member_ids)) != len(member_ids):
        errors.add("member_ids", "a member appears twice")
    known = await ctx.members.by_ids(member_ids)
    for index, member_id in enumerate(member_ids):
        if member_id not in known:
            errors.add(f"member_ids.{index}", "no member with this id in the workspace")
    errors.raise_if_any()
    return [str(m) for m in member_ids]


async def get(ctx: Context, team_id: UUID) -> Row:
    row = await ctx.teams.get(team_id)
    if row is None:
        raise NotFound("no team with this id")
    return row


async def create(ctx: Context, values: dict[str, Any]) -> Row:
    values["member_ids"] = await _check_members(ctx, values.get("member_ids") or [])
    row = await ctx.teams.create({"id": new_id(), "rr_position": 0, **values, **ctx.audit_new()})
    await events.record(ctx, types.TEAM_CREATED, TeamRead.model_validate(row))
    return row


async def update(ctx: Context, team_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> Row:
    row = await get(ctx, team_id)
    check_if_match(if_match, row["version"])
    if changes.get("member_ids") is not None:
        changes["member_ids"] = await _check_members(ctx, changes["member_ids"])
        changes["rr_position"] = 0  # a new order starts from its first member
    changes = changed_fields(row, {k: v for k, v in changes.items() if v is not None})
    if not changes:
        return row
    repo = ctx.teams
    updated = await write_changes(ctx, row, changes, partial(repo.update, team_id), if_match=if_match)
    await events.record(
        ctx, types.TEAM_UPDATED, TeamRead.model_validate(updated), previous=TeamRead.model_validate(row)
    )
    return updated


async def delete(ctx: Context, team_id: UUID, *, if_match: str | None) -> Row:
    """Deleted teams take no more leads; rules naming them must be changed first."""
    row = await get(ctx, team_id)
    check_if_match(if_match, row["version"])
    table = await routing.rules(ctx)
    if table.hot_team_id == team_id or any(r.to.team_id == team_id for r in table.rules):
        raise Conflict("routing settings send leads to this team: change them first")
    repo = ctx.teams
    updated = await write_changes(ctx, row, {"deleted_at": ctx.now}, partial(repo.update, team_id), if_match=if_match)
    lookups.forget(("routing", ctx.workspace_id))
    await events.record(ctx, types.TEAM_DELETED, TeamRead.model_validate(updated))
    return updated


async def list_teams(ctx: Context, *, sort: Sort, cursor: str | None, limit: int) -> Page:
    return await ctx.teams.list(sort=sort, cursor=cursor, limit=limit)
