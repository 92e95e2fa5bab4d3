from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.routers.dependencies import IfMatch, require, resource_response
from app.routers.route import CrmRoute
from app.schemas.workspace.workspaces import WorkspaceRead, WorkspaceUpdate
from app.services.context import Context
from app.services.workspace import workspaces

router = APIRouter(prefix="/workspace", tags=["Workspace"], route_class=CrmRoute)


@router.get(
    "",
    summary="Get the workspace of the calling key",
    response_model=WorkspaceRead,
    openapi_extra={"x-conditional": True},
)
async def get_workspace(request: Request, ctx: Annotated[Context, require("workspace:read")]) -> Response:
    return resource_response(request, WorkspaceRead.model_validate(await workspaces.get(ctx)))


@router.patch(
    "", summary="Update the workspace's name, phone region, time zone or currency", response_model=WorkspaceRead
)
async def update_workspace(
    request: Request,
    body: WorkspaceUpdate,
    ctx: Annotated[Context, require("workspace:write")],
    if_match: IfMatch = None,
) -> Response:
    row = await workspaces.update(ctx, body.model_dump(exclude_unset=True), if_match=if_match)
    return resource_response(request, WorkspaceRead.model_validate(row))
