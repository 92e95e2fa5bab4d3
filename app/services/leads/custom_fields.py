"""Custom field definitions of a workspace's leads."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.base import Row
from app.domain.concurrency import check_if_match
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.leads.custom_fields import FieldDefinition, FieldType
from app.ids import new_id
from app.services.context import Context, changed_fields, write_changes
from app.services.leads import lookups


def definition(row: Row) -> FieldDefinition:
    return FieldDefinition(
        row["key"], FieldType(row["type"]), row["required"], tuple(row["options"]), bool(row["sensitive"])
    )


async def definitions(ctx: Context) -> list[FieldDefinition]:
    async def load() -> list[FieldDefinition]:
        return [definition(r) for r in await ctx.custom_fields.all()]

    return await lookups.cached(("custom_fields", ctx.workspace_id), load)


def _check_options(field_type: str, options: list[str]) -> None:
    if field_type == FieldType.ENUM and not options:
        raise InvalidInput.field("options", "an enum field needs at least one option")
    if field_type != FieldType.ENUM and options:
        raise InvalidInput.field("options", "only enum fields have options")


async def create(ctx: Context, values: dict[str, Any]) -> Row:
    _check_options(values["type"], values["options"])
    lookups.forget(("custom_fields", ctx.workspace_id))
    row = await ctx.custom_fields.create({"id": new_id(), **values, **ctx.audit_new()})
    if row is None:
        raise Conflict(f"a custom field with key {values['key']!r} exists already")
    return row


async def get(ctx: Context, field_id: UUID) -> Row:
    row = await ctx.custom_fields.get(field_id)
    if row is None:
        raise NotFound("no custom field with this id")
    return row


async def list_all(ctx: Context) -> list[Row]:
    return await ctx.custom_fields.all()


async def update(ctx: Context, field_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> Row:
    row = await get(ctx, field_id)
    check_if_match(if_match, row["version"])
    if "options" in changes:
        _check_options(row["type"], changes["options"])
    changes = changed_fields(row, changes)
    if not changes:
        return row
    lookups.forget(("custom_fields", ctx.workspace_id))
    return await write_changes(ctx, row, changes, partial(ctx.custom_fields.update, field_id), if_match=if_match)


async def delete(ctx: Context, field_id: UUID) -> None:
    """The definition goes; values already stored on leads stay in their `custom_fields`. A
    sensitive field's definition stays (409): without it its stored values would show everywhere."""
    row = await get(ctx, field_id)
    if row["sensitive"]:
        raise Conflict(
            f"custom field {row['key']!r} is sensitive: without its definition the values stored on leads would "
            "show in every list, export, event and webhook. Erase its values first, or unmark it "
            "(PATCH sensitive: false) knowing they will show"
        )
    lookups.forget(("custom_fields", ctx.workspace_id))
    await ctx.custom_fields.delete(field_id)
