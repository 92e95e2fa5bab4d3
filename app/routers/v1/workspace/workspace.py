from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from app.routers.answers import Row
from app.routers.dependencies import IfMatch, require
from app.routers.route import CrmRoute
from app.schemas.workspace.workspaces import WorkspaceRead, WorkspaceUpdate
from app.services.context import Context
from app.services.workspace import workspaces

router = APIRouter(prefix="/v1/workspace", tags=["Workspace"], route_class=CrmRoute)


@router.get(
    "",
    summary="Get the workspace of the calling key",
    response_model=WorkspaceRead,
    openapi_extra={"x-conditional": True},
)
async def get_workspace(ctx: Annotated[Context, require("workspace:read")]) -> Row:
    return await workspaces.get(ctx)


@router.patch(
    "", summary="Update the workspace's name, phone region, time zone or currency", response_model=WorkspaceRead
)
async def update_workspace(
    body: WorkspaceUpdate, ctx: Annotated[Context, require("workspace:write")], if_match: IfMatch = None
) -> Row:
    return await workspaces.update(ctx, body.model_dump(exclude_unset=True), if_match=if_match)
