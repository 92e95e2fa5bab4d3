from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute, answers_secret
from app.schemas.common import Page
from app.schemas.workspace.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.services.context import Context
from app.services.workspace import api_keys

router = APIRouter(prefix="/v1/api-keys", tags=["API keys"], route_class=CrmRoute)
KeySort = sort_enum("ApiKeySort", "created_at")


@router.post(
    "",
    status_code=201,
    summary="Create an API key (the key is shown only in this response)",
    response_model=ApiKeyCreated,
)
@answers_secret
async def create_api_key(body: ApiKeyCreate, ctx: Annotated[Context, require_idempotent("admin")]) -> Answer:
    row, token = await api_keys.create(
        ctx,
        name=body.name,
        kind=body.kind,
        scopes=body.scopes,
        member_id=body.member_id,
        allowed_origins=body.allowed_origins,
        expires_at=body.expires_at,
    )
    return Answer({**row, "key": token}, location=f"/v1/api-keys/{row['id']}")


@router.get("", summary="List API keys", response_model=Page[ApiKeyRead])
async def list_api_keys(
    ctx: Annotated[Context, require("admin")],
    page: Annotated[Paging, paging(KeySort)],
    kind: Annotated[Literal["secret", "publishable"] | None, Query()] = None,
    revoked: Annotated[bool | None, Query(description="true: only revoked keys; false: only live ones")] = None,
) -> RowPage:
    return await api_keys.list_keys(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, kind=kind, revoked=revoked
    )


@router.get("/{key_id}", summary="Get an API key", response_model=ApiKeyRead, openapi_extra={"x-conditional": True})
async def get_api_key(key_id: UUID, ctx: Annotated[Context, require("admin")]) -> Row:
    return await api_keys.get(ctx, key_id)


@router.delete("/{key_id}", summary="Revoke an API key (it stops working at once)", response_model=ApiKeyRead)
async def revoke_api_key(
    request: Request, key_id: UUID, ctx: Annotated[Context, require("admin")], if_match: IfMatch = None
) -> Row:
    return await api_keys.revoke(ctx, key_id, if_match=if_match, resolver=request.app.state.keys)
