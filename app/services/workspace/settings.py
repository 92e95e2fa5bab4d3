"""Per-feature settings sections: defaults until a workspace changes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from app.domain.audit.entries import diff
from app.domain.concurrency import check_if_match, lost_update
from app.domain.events import events as types
from app.schemas.common import invalid_input
from app.schemas.events.events import SettingsChange
from app.services.audit import audit
from app.services.context import SYSTEM, Context
from app.services.events import events

# Checks a section needs beyond its schema (they may read the workspace, e.g. its custom fields);
# they raise InvalidInput naming the field. Registered by the feature's service.
CHECKS: dict[str, Callable[[Context, dict[str, Any]], Awaitable[None]]] = {}
# What follows a change, in the same transaction (e.g. scoring enqueues a rescore of every lead).
AFTER_CHANGE: dict[str, Callable[[Context, dict[str, Any]], Awaitable[None]]] = {}


def _defaults(model: type[BaseModel], ctx: Context) -> dict[str, Any]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return {
        "values": model().model_dump(mode="json"),
        "version": 0,
        "created_at": epoch,
        "updated_at": epoch,
        "created_by": str(SYSTEM),
        "updated_by": str(SYSTEM),
    }


async def get(ctx: Context, section: str, model: type[BaseModel]) -> dict[str, Any]:
    """The section's values (defaults filled in) with version and timestamps; version 0 = never set."""
    row = await ctx.settings.get(section)
    if row is None:
        return _defaults(model, ctx)
    stored = model.model_validate({**model().model_dump(mode="json"), **row["values"]})
    return {**row, "values": stored.model_dump(mode="json")}


async def update(
    ctx: Context, section: str, model: type[BaseModel], changes: dict[str, Any], *, if_match: str | None
) -> dict[str, Any]:
    current = await get(ctx, section, model)
    check_if_match(if_match, current["version"])
    try:
        merged = model.model_validate({**current["values"], **changes}).model_dump(mode="json")
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    check = CHECKS.get(section)
    if check is not None:
        await check(ctx, merged)
    if merged == current["values"]:
        audit.record(ctx, resource="settings", action="update", resource_id=section)
        return current
    repo = ctx.settings
    if current["version"] == 0:
        row = await repo.create({"section": section, "values": merged, **ctx.audit_new()})
    else:
        row = await repo.update(section, current["version"], {"values": merged, **ctx.audit_change()})
    if row is None:
        raise lost_update(if_match)
    await events.record(
        ctx,
        types.SETTINGS_UPDATED,
        SettingsChange(section=section, values=merged),
        resource_id=section,
        previous=SettingsChange(section=section, values=current["values"]),
    )
    changes = diff(current["values"], merged)
    audit.record(ctx, resource="settings", action="update", resource_id=section, changes=changes)
    after = AFTER_CHANGE.get(section)
    if after is not None:
        await after(ctx, merged)
    return row


async def retention_hours(ctx: Context) -> int:
    from app.schemas.workspace.settings import RetentionSettings

    values = await get(ctx, "retention", RetentionSettings)
    return int(values["values"]["idempotency_key_hours"])
