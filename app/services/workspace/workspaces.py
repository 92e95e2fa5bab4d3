"""Workspaces: the tenant, its locale, and its first keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.repositories.base import Row
from app.db.unit_of_work import UnitOfWork
from app.domain.concurrency import check_if_match
from app.domain.errors import ErrorList, NotFound
from app.domain.events import events as types
from app.domain.reports import periods
from app.domain.workspace import api_keys as keys
from app.domain.workspace import workspaces as locale
from app.ids import new_id
from app.schemas.workspace.workspaces import WorkspaceRead
from app.services.context import SYSTEM, Context, changed_fields, write_changes
from app.services.events import events
from app.services.leads import lookups
from app.services.workspace import api_keys


@dataclass(frozen=True)
class NewWorkspace:
    workspace: Row
    secret_key: str
    publishable_key: str


async def create(
    uow: UnitOfWork,
    *,
    name: str,
    region: str | None = None,
    timezone: str = locale.DEFAULT_TIMEZONE,
    currency: str = locale.DEFAULT_CURRENCY,
    now: datetime,
) -> NewWorkspace:
    """A workspace with an admin secret key and an unrestricted publishable key. Its reports count in
    its region's calendar and speak its language (Iran: Jalali, Persian; elsewhere Gregorian,
    English), which the workspace may change."""
    errors = ErrorList()
    if not name.strip() or len(name) > 200:
        errors.add("name", "must be 1 to 200 characters")
    if region is not None and not locale.is_country(region):
        errors.add("region", "must be an ISO 3166-1 alpha-2 country code such as IR")
    if not locale.is_timezone(timezone):
        errors.add("timezone", "must be an IANA time zone such as Asia/Tehran")
    if not locale.is_currency(currency):
        errors.add("currency", "must be an ISO 4217 currency code such as IRR")
    errors.raise_if_any()
    workspace = await uow.system().create_workspace(
        {
            "id": new_id(),
            "name": name.strip(),
            "default_region": region,
            "timezone": timezone,
            "currency": currency,
            "calendar": periods.default_calendar(region),
            "locale": periods.default_locale(region),
            "created_at": now,
            "updated_at": now,
            "created_by": str(SYSTEM),
            "updated_by": str(SYSTEM),
        }
    )
    issued = []
    for key_name, spec in (
        ("Default secret key", keys.KeySpec(keys.KeyKind.SECRET, (keys.ADMIN,), ())),
        ("Default publishable key", keys.KeySpec(keys.KeyKind.PUBLISHABLE, (), ())),
    ):
        _, token = await api_keys.issue(
            uow, workspace["id"], name=key_name, spec=spec, member_id=None, actor=SYSTEM, now=now
        )
        issued.append(token)
    return NewWorkspace(workspace, issued[0], issued[1])


async def create_demo_if_empty(uow: UnitOfWork, *, now: datetime) -> NewWorkspace | None:
    if await uow.system().count_workspaces() > 0:
        return None
    return await create(uow, name="demo", now=now)


async def default_region(ctx: Context) -> str | None:
    """The phone region for national numbers (cached briefly: read on every lead)."""

    async def load() -> str | None:
        region: str | None = (await get(ctx))["default_region"]
        return region

    return await lookups.cached(("region", ctx.workspace_id), load)


async def get(ctx: Context) -> Row:
    row = await ctx.workspaces.get()
    if row is None:
        raise NotFound("workspace not found")
    return row


async def update(ctx: Context, changes: dict[str, Any], *, if_match: str | None) -> Row:
    row = await get(ctx)
    check_if_match(if_match, row["version"])
    changes = changed_fields(row, changes)
    if not changes:
        return row
    lookups.forget(("region", ctx.workspace_id))
    lookups.forget(("sla", ctx.workspace_id))  # the SLA's clock runs in the workspace's time zone and region
    updated = await write_changes(ctx, row, changes, ctx.workspaces.update, if_match=if_match)
    await events.record(
        ctx, types.WORKSPACE_UPDATED, WorkspaceRead.model_validate(updated), previous=WorkspaceRead.model_validate(row)
    )
    return updated
