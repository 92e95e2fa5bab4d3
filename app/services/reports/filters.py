"""The filters every report takes, named as on the lists (`owner_id`, `team_id`, `source`,
`form_id`, `utm_campaign`, `campaign_id`): the ids they name must be the workspace's, and the
members a team filter stands for where a report counts by member."""

from __future__ import annotations

from uuid import UUID

from app.domain.errors import ErrorList, InvalidInput
from app.domain.reports.scope import ReportFilters
from app.services.context import Context

UNKNOWN = {
    "owner_id": "no member with this id in the workspace",
    "team_id": "no team with this id in the workspace",
    "form_id": "no form with this id in the workspace",
    "campaign_id": "no campaign with this id in the workspace",
}


async def check(ctx: Context, filters: ReportFilters) -> None:
    """422 naming each filter whose id the workspace has not (a member, a team not deleted, a
    form, a campaign)."""
    unknown = await ctx.report_filters.unknown(filters)
    errors = ErrorList()
    for name in unknown:
        errors.add(name, UNKNOWN[name], location="query")
    errors.raise_if_any()


async def team_members(ctx: Context, team_id: UUID) -> list[UUID]:
    """The members of a team (its current `member_ids`); 422 naming `team_id` when the workspace has
    no such team (or it was deleted)."""
    team = await ctx.teams.get(team_id)
    if team is None:
        raise InvalidInput.field("team_id", UNKNOWN["team_id"], location="query")
    return [UUID(str(m)) for m in team["member_ids"]]


async def chosen_members(ctx: Context, team_id: UUID | None, owner_id: UUID | None) -> list[UUID] | None:
    """Whose work (or deals) a report counts: the team's members, the one member, both (the member
    when in the team, else no one), or everyone (None)."""
    members = await team_members(ctx, team_id) if team_id is not None else None
    if owner_id is not None:
        members = [owner_id] if members is None or owner_id in members else []
    return members
