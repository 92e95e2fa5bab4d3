from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.domain.workspace.members import Role
from app.routers.dependencies import (
    IfMatch,
    Paging,
    page_response,
    paging,
    require,
    require_idempotent,
    resource_response,
    sort_enum,
)
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.workspace.members import MemberCreate, MemberRead, MemberUpdate
from app.services.context import Context
from app.services.workspace import members

router = APIRouter(prefix="/members", tags=["Members"], route_class=CrmRoute)
MemberSort = sort_enum("MemberSort", "created_at", "name", "email")


@router.post("", status_code=201, summary="Add a member", response_model=MemberRead)
async def create_member(
    request: Request, body: MemberCreate, ctx: Annotated[Context, require_idempotent("members:write")]
) -> Response:
    row = await members.create(ctx, body.model_dump())
    return resource_response(
        request, MemberRead.model_validate(row), status_code=201, location=f"/v1/members/{row['id']}"
    )


@router.get("", summary="List members", response_model=Page[MemberRead])
async def list_members(
    ctx: Annotated[Context, require("members:read")],
    page: Annotated[Paging, paging(MemberSort)],
    role: Annotated[Role | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    manager_id: Annotated[UUID | None, Query()] = None,
) -> Response:
    result = await members.list_members(
        ctx,
        sort=page.sort,
        cursor=page.cursor,
        limit=page.limit,
        role=role,
        active=active,
        email=email.lower() if email else None,
        manager_id=manager_id,
    )
    return page_response(MemberRead, result.rows, result.next_cursor)


@router.get("/{member_id}", summary="Get a member", response_model=MemberRead, openapi_extra={"x-conditional": True})
async def get_member(request: Request, member_id: UUID, ctx: Annotated[Context, require("members:read")]) -> Response:
    return resource_response(request, MemberRead.model_validate(await members.get(ctx, member_id)))


@router.patch(
    "/{member_id}",
    summary="Update a member (set active=false to deactivate: their API keys stop working)",
    response_model=MemberRead,
)
async def update_member(
    request: Request,
    member_id: UUID,
    body: MemberUpdate,
    ctx: Annotated[Context, require("members:write")],
    if_match: IfMatch = None,
) -> Response:
    row = await members.update(
        ctx, member_id, body.model_dump(exclude_unset=True), if_match=if_match, resolver=request.app.state.keys
    )
    return resource_response(request, MemberRead.model_validate(row))
