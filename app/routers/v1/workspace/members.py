from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from app.domain.workspace.members import Role
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.workspace.members import MemberCreate, MemberRead, MemberUpdate
from app.services.context import Context
from app.services.workspace import members

router = APIRouter(prefix="/v1/members", tags=["Members"], route_class=CrmRoute)
MemberSort = sort_enum("MemberSort", "created_at", "name", "email")


@router.post("", status_code=201, summary="Add a member", response_model=MemberRead)
async def create_member(body: MemberCreate, ctx: Annotated[Context, require_idempotent("members:write")]) -> Answer:
    row = await members.create(ctx, body.model_dump())
    return Answer(row, location=f"/v1/members/{row['id']}")


@router.get("", summary="List members", response_model=Page[MemberRead])
async def list_members(
    ctx: Annotated[Context, require("members:read")],
    page: Annotated[Paging, paging(MemberSort)],
    role: Annotated[Role | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    manager_id: Annotated[UUID | None, Query()] = None,
) -> RowPage:
    return await members.list_members(
        ctx,
        sort=page.sort,
        cursor=page.cursor,
        limit=page.limit,
        role=role,
        active=active,
        email=email.lower() if email else None,
        manager_id=manager_id,
    )


@router.get("/{member_id}", summary="Get a member", response_model=MemberRead, openapi_extra={"x-conditional": True})
async def get_member(member_id: UUID, ctx: Annotated[Context, require("members:read")]) -> Row:
    return await members.get(ctx, member_id)


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
) -> Row:
    return await members.update(
        ctx, member_id, body.model_dump(exclude_unset=True), if_match=if_match, resolver=request.app.state.keys
    )
