"""The first-response SLA: a deadline on every new lead the policy covers, the first qualifying
response measured in working time, breaches caught at the deadline by the worker (sweep), with
escalation, and the speed-to-lead report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.db.repositories.base import Row
from app.db.repositories.leads.rows import LeadRow
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.events import events as types
from app.domain.leads import sla
from app.domain.leads.sla import Escalation, SlaPolicy, SlaStatus
from app.schemas.leads.leads import LeadRead
from app.schemas.leads.routing import SlaEscalation
from app.schemas.workspace.settings import SlaSettings
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events
from app.services.leads import lookups, routing
from app.services.workspace import calendars, settings

SWEEP_BATCH = 500


def policy_from_settings(values: Mapping[str, Any], timezone: str, region: str | None) -> SlaPolicy | None:
    """The policy of the settings section (None when switched off), its clock in the workspace's
    business hours: `timezone` and `region` are the workspace's."""
    if not values["enabled"]:
        return None
    return SlaPolicy(
        values["target_seconds"],
        frozenset(values["sources"]) if values["sources"] is not None else None,
        frozenset(values["stages"]) if values["stages"] is not None else None,
        calendars.business_hours(values["business_hours"], timezone, region),
        Escalation(values["escalation"]),
    )


async def policy(ctx: Context) -> SlaPolicy | None:
    """The workspace's policy (None when switched off); cached like the capture path's lookups."""

    async def load() -> SlaPolicy | None:
        values = (await settings.get(ctx, "sla", SlaSettings))["values"]
        workspace = await ctx.workspaces.get() or {}
        region = workspace.get("default_region")
        if values["enabled"] and (values["business_hours"] or {}).get("region_holidays"):
            await calendars.prepare(region, ctx.now.year)
        return policy_from_settings(values, workspace.get("timezone") or "UTC", region)

    return await lookups.cached(("sla", ctx.workspace_id), load)


async def _after_settings_change(ctx: Context, values: dict[str, Any]) -> None:
    lookups.forget(("sla", ctx.workspace_id))


settings.AFTER_CHANGE["sla"] = _after_settings_change


async def columns_for_new(ctx: Context, lead: Mapping[str, Any], *, exempt: bool = False) -> dict[str, Any]:
    """The SLA columns of a lead being created now."""
    current = await policy(ctx)
    if exempt or current is None or not sla.applies(current, lead["source"], lead["stage"]):
        return {"sla_status": SlaStatus.NOT_APPLICABLE.value, "first_response_due_at": None}
    return {"sla_status": SlaStatus.PENDING.value, "first_response_due_at": sla.due_at(current, ctx.now)}


async def record_response(ctx: Context, lead: LeadRow, responded_at: datetime) -> LeadRow | None:
    """The lead's first qualifying response (None when it had one already): measured in working
    time, the SLA judged, `lead.first_responded` emitted. Atomic: of two responses racing, one wins."""
    if lead["first_responded_at"] is not None:
        return None
    current = await policy(ctx)
    fallback = SlaPolicy(0, None, None, None)
    outcome = sla.judge(
        current or fallback,
        SlaStatus(lead["sla_status"]),
        lead["created_at"],
        lead["first_response_due_at"],
        responded_at,
    )
    if current is None and lead["sla_status"] == SlaStatus.PENDING:  # switched off since: nothing to judge
        outcome = sla.Response(outcome.responded_at, outcome.seconds, SlaStatus.NOT_APPLICABLE)
    updated = await ctx.leads.record_first_response(
        lead["id"],
        {
            "first_responded_at": outcome.responded_at,
            "first_response_seconds": outcome.seconds,
            "sla_status": outcome.status.value,
        },
    )
    if updated is None:
        return None
    await events.record(
        ctx, types.LEAD_FIRST_RESPONDED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(lead)
    )
    return updated


async def sweep(database: Database, now: datetime, *, limit: int = SWEEP_BATCH) -> int:
    """Breach every pending lead whose deadline has passed (the worker's `sla` loop): status,
    `lead.sla_breached`, then the workspace's escalation, in one transaction per batch."""
    async with UnitOfWork(database, write=True) as uow:
        breached = await uow.timer_queue().breach_due(now, limit)
        for lead in breached:
            ctx = Context(uow, lead["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
            await events.record(ctx, types.LEAD_SLA_BREACHED, LeadRead.model_validate(lead))
            await _escalate(ctx, lead)
        await uow.commit()
    return len(breached)


async def _escalate(ctx: Context, lead: Row) -> None:
    current = await policy(ctx)
    if current is None or current.escalation == Escalation.NONE:
        return
    owner = lead["owner_id"]
    if current.escalation == Escalation.NOTIFY_MANAGER:
        member = await ctx.members.get(owner) if owner is not None else None
        manager = member["manager_id"] if member is not None else None
        payload = SlaEscalation(
            lead_id=lead["id"],
            action="notify_manager",
            owner_id=owner,
            manager_id=manager,
            to_member_id=None,
            team_id=lead["team_id"],
        )
        await events.record(ctx, types.LEAD_SLA_ESCALATED, payload, resource_id=lead["id"])
        return
    to = None
    if lead["team_id"] is not None:
        to = await routing.next_in_team(ctx, lead["team_id"], skip=owner)
        if to is not None:
            updated = await ctx.leads.set_columns(
                lead["id"], {"owner_id": to, "assigned_at": ctx.now, "updated_at": ctx.now}
            )
            await routing.record(ctx, lead["id"], owner, to, lead["team_id"], routing.SLA_ESCALATION)
            if updated is not None:
                await events.record(
                    ctx, types.LEAD_UPDATED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(lead)
                )
    payload = SlaEscalation(
        lead_id=lead["id"], action="reassign", owner_id=owner, manager_id=None, to_member_id=to, team_id=lead["team_id"]
    )
    await events.record(ctx, types.LEAD_SLA_ESCALATED, payload, resource_id=lead["id"])


async def next_due(database: Database) -> datetime | None:
    async with UnitOfWork(database, write=False) as uow:
        return await uow.timer_queue().next_sla_due()
