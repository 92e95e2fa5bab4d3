"""Lead routing and assignment: rules and round-robin for new leads, manual assignment, and the
assignment history (every change of owner, with its reason, and a `lead.assigned` event)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import time
from typing import Any
from uuid import UUID

from app.db.repositories.base import Row
from app.db.repositories.leads.rows import LeadRow
from app.domain.errors import ErrorList, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.leads import routing
from app.domain.leads.routing import Condition, Decision, Routing, Rule, Target
from app.ids import new_id
from app.schemas.leads.leads import LeadRead
from app.schemas.leads.routing import AssignmentRead
from app.schemas.weekdays import numbers
from app.schemas.workspace.settings import RoutingSettings
from app.services.context import Context
from app.services.events import events
from app.services.leads import lookups
from app.services.workspace import settings

MANUAL, RULE, HOT_LEAD, SLA_ESCALATION = "manual", "rule", "hot_lead", "sla_escalation"


def _from_settings(values: Mapping[str, Any]) -> Routing:
    rules = []
    for raw in values["rules"]:
        when = raw["when"]
        rules.append(
            Rule(
                Condition(
                    countries=frozenset(c.upper() for c in when["countries"]),
                    provinces=frozenset(p.casefold() for p in when["provinces"]),
                    sources=frozenset(when["sources"]),
                    temperatures=frozenset(when["temperatures"]),
                    stages=frozenset(when["stages"]),
                    score_min=when["score_min"],
                    score_max=when["score_max"],
                    tags_any=frozenset(when["tags_any"]),
                    custom_fields=dict(when["custom_fields"]),
                ),
                Target(_uuid(raw["member_id"]), _uuid(raw["team_id"])),
                raw["name"],
            )
        )
    return Routing(tuple(rules), _uuid(values["hot_team_id"]))


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value is not None else None


async def rules(ctx: Context) -> Routing:
    async def load() -> Routing:
        return _from_settings((await settings.get(ctx, "routing", RoutingSettings))["values"])

    return await lookups.cached(("routing", ctx.workspace_id), load)


async def _check_settings(ctx: Context, values: dict[str, Any]) -> None:
    """Rules must name members and teams of this workspace."""
    errors = ErrorList()
    member_ids = {_uuid(r["member_id"]) for r in values["rules"]} - {None}
    team_ids = {_uuid(r["team_id"]) for r in values["rules"]} | {_uuid(values["hot_team_id"])}
    team_ids.discard(None)
    members = await ctx.members.by_ids([m for m in member_ids if m])
    teams = await ctx.teams.existing([t for t in team_ids if t])
    for index, rule in enumerate(values["rules"]):
        if rule["member_id"] is not None and _uuid(rule["member_id"]) not in members:
            errors.add(f"rules.{index}.member_id", "no member with this id in the workspace")
        if rule["team_id"] is not None and _uuid(rule["team_id"]) not in teams:
            errors.add(f"rules.{index}.team_id", "no team with this id in the workspace")
    if values["hot_team_id"] is not None and _uuid(values["hot_team_id"]) not in teams:
        errors.add("hot_team_id", "no team with this id in the workspace")
    errors.raise_if_any()


async def _after_settings_change(ctx: Context, values: dict[str, Any]) -> None:
    lookups.forget(("routing", ctx.workspace_id))


settings.CHECKS["routing"] = _check_settings
settings.AFTER_CHANGE["routing"] = _after_settings_change


def _hours(row: Mapping[str, Any], workspace_timezone: str) -> routing.WorkingHours | None:
    hours = row.get("working_hours")
    if not hours:
        return None
    return routing.WorkingHours(
        row.get("timezone") or workspace_timezone,
        numbers(hours["days"]),
        time.fromisoformat(str(hours["start"])),
        time.fromisoformat(str(hours["end"])),
    )


async def _candidates(ctx: Context, member_ids: Sequence[UUID]) -> dict[UUID, routing.Member]:
    rows = await ctx.members.by_ids(member_ids)
    counts = await ctx.leads.open_counts(list(rows))
    zone = (await ctx.workspaces.get() or {}).get("timezone") or "UTC"
    return {
        member_id: routing.Member(
            member_id,
            bool(row["active"]),
            bool(row["available"]),
            counts.get(member_id, 0),
            row["capacity"],
            _hours(row, zone),
        )
        for member_id, row in rows.items()
    }


async def next_in_team(ctx: Context, team_id: UUID, *, skip: UUID | None = None) -> UUID | None:
    """Take the team's round-robin turn: the next member who can take a lead (None: nobody can)."""
    teams = ctx.teams
    team = await teams.lock(team_id)
    if team is None:
        return None
    order = [UUID(str(m)) for m in team["member_ids"]]
    if not order:
        return None
    chosen, position = routing.round_robin(
        order, team["rr_position"], await _candidates(ctx, order), ctx.now, skip=skip
    )
    if chosen is not None and position != team["rr_position"]:
        await teams.set_position(team_id, position)
    return chosen


async def route_new(ctx: Context, lead: Mapping[str, Any]) -> dict[str, Any] | None:
    """Owner, team and assignment time for a new lead (None: no owner given and no rule matched);
    the caller records the assignment with `record` once the lead exists."""
    if lead.get("owner_id") is not None:
        return {"owner_id": lead["owner_id"], "team_id": None, "assigned_at": ctx.now, "_reason": MANUAL}
    table = await rules(ctx)
    if table.empty:
        return None
    decision: Decision | None = routing.route(table, lead, lead.get("tags") or ())
    if decision is None:
        return None
    member_id = decision.to.member_id
    if decision.to.team_id is not None:
        member_id = await next_in_team(ctx, decision.to.team_id)
    if member_id is None and decision.to.team_id is None:
        return None
    return {
        "owner_id": member_id,
        "team_id": decision.to.team_id,
        "assigned_at": ctx.now if member_id is not None else None,
        "_reason": HOT_LEAD if decision.reason == "hot_lead" else RULE,
        "_rule_index": decision.rule_index,
    }


async def record(
    ctx: Context,
    lead_id: UUID,
    previous_owner: UUID | None,
    owner: UUID | None,
    team_id: UUID | None,
    reason: str,
    rule_index: int | None = None,
) -> None:
    """The history row and the `lead.assigned` event of an assignment."""
    values = {
        "id": new_id(),
        "lead_id": lead_id,
        "from_member_id": previous_owner,
        "to_member_id": owner,
        "team_id": team_id,
        "reason": reason,
        "rule_index": rule_index,
        "assigned_at": ctx.now,
        "assigned_by": str(ctx.actor),
    }
    ctx.assignments.add(values)
    await events.record(ctx, types.LEAD_ASSIGNED, AssignmentRead.model_validate(values), resource_id=lead_id)


async def assign(
    ctx: Context, lead: LeadRow, *, member_id: UUID | None, team_id: UUID | None, reason: str = MANUAL
) -> LeadRow:
    """Give the lead to a member, or to the member whose turn it is in a team."""
    if (member_id is None) == (team_id is None):
        raise InvalidInput.field("member_id", "give exactly one of member_id and team_id")
    if team_id is not None:
        if await ctx.teams.get(team_id) is None:
            raise InvalidInput.field("team_id", "no team with this id in the workspace")
        member_id = await next_in_team(ctx, team_id, skip=lead["owner_id"] if reason == SLA_ESCALATION else None)
        if member_id is None:
            raise InvalidInput.field("team_id", "nobody in this team can take a lead now (inactive, away or full)")
    elif await ctx.members.get(member_id) is None:  # type: ignore[arg-type]
        raise InvalidInput.field("member_id", "no member with this id in the workspace")
    updated = await ctx.leads.set_columns(
        lead["id"], {"owner_id": member_id, "team_id": team_id, "assigned_at": ctx.now, "updated_at": ctx.now}
    )
    if updated is None:
        raise NotFound("no lead with this id")
    await record(ctx, lead["id"], lead["owner_id"], member_id, team_id, reason)
    await events.record(
        ctx, types.LEAD_UPDATED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(lead)
    )
    return updated


async def _lead(ctx: Context, lead_id: UUID) -> LeadRow:
    row = await ctx.leads.get(lead_id)
    if row is None:
        raise NotFound("no lead with this id")
    return row


async def assign_lead(ctx: Context, lead_id: UUID, *, member_id: UUID | None, team_id: UUID | None) -> LeadRow:
    return await assign(ctx, await _lead(ctx, lead_id), member_id=member_id, team_id=team_id)


async def history(ctx: Context, lead_id: UUID) -> list[Row]:
    await _lead(ctx, lead_id)
    return await ctx.assignments.of_lead(lead_id)
