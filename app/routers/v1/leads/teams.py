from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.leads.routing import TeamCreate, TeamRead, TeamUpdate
from app.services.context import Context
from app.services.leads import teams

router = APIRouter(prefix="/v1/teams", tags=["Teams"], route_class=CrmRoute)
TeamSort = sort_enum("TeamSort", "created_at")


@router.post("", status_code=201, summary="Create a team (members in round-robin order)", response_model=TeamRead)
async def create_team(body: TeamCreate, ctx: Annotated[Context, require_idempotent("members:write")]) -> Answer:
    row = await teams.create(ctx, body.model_dump())
    return Answer(row, location=f"/v1/teams/{row['id']}")


@router.get("", summary="List teams", response_model=Page[TeamRead])
async def list_teams(
    ctx: Annotated[Context, require("members:read")], page: Annotated[Paging, paging(TeamSort)]
) -> RowPage:
    return await teams.list_teams(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.get("/{team_id}", summary="Get a team", response_model=TeamRead, openapi_extra={"x-conditional": True})
async def get_team(team_id: UUID, ctx: Annotated[Context, require("members:read")]) -> Row:
    return await teams.get(ctx, team_id)


@router.patch("/{team_id}", summary="Rename a team or change its members (the turn restarts)", response_model=TeamRead)
async def update_team(
    team_id: UUID, body: TeamUpdate, ctx: Annotated[Context, require("members:write")], if_match: IfMatch = None
) -> Row:
    return await teams.update(ctx, team_id, body.model_dump(exclude_unset=True), if_match=if_match)


@router.delete("/{team_id}", summary="Delete a team (409 while routing settings use it)", response_model=TeamRead)
async def delete_team(
    team_id: UUID, ctx: Annotated[Context, require("members:write")], if_match: IfMatch = None
) -> Row:
    return await teams.delete(ctx, team_id, if_match=if_match)
