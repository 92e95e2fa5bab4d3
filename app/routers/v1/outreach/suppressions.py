"""Suppressions: addresses no message goes to (bounced, complained, or added by hand)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.domain.outreach.vocabulary import ChannelType, SuppressionReason
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.outreach.suppressions import SuppressionCreate, SuppressionRead
from app.services.context import Context
from app.services.outreach import suppressions

router = APIRouter(prefix="/v1/suppressions", tags=["Suppressions"], route_class=CrmRoute)
SuppressionsSort = sort_enum("SuppressionsSort", "created_at")


class SuppressionFilters(BaseModel):
    channel: ChannelType | None = None
    reason: SuppressionReason | None = None
    address: str | None = Field(
        default=None,
        max_length=320,
        description="The entries of this address, erased ones included (matched by keyed hash): an email, or a "
        "phone number (E.164, or national in the workspace's default region). Without `channel`, an email is "
        "looked for on `email` and a phone number on `sms` and `whatsapp`",
    )


@router.post(
    "",
    status_code=201,
    summary="Suppress an address (200 with the entry when it is suppressed already)",
    response_model=SuppressionRead,
)
async def create_suppression(
    body: SuppressionCreate, ctx: Annotated[Context, require_idempotent("suppressions:write")]
) -> Answer:
    row, created = await suppressions.create(
        ctx, body.channel, body.address, SuppressionReason(body.reason), note=body.note
    )
    return Answer(row, status_code=201 if created else 200, location=f"/v1/suppressions/{row['id']}")


@router.get("", summary="List suppressions", response_model=Page[SuppressionRead])
async def list_suppressions(
    ctx: Annotated[Context, require("suppressions:read")],
    page: Annotated[Paging, paging(SuppressionsSort, "-created_at")],
    filters: Annotated[SuppressionFilters, Query()],
) -> RowPage:
    return await suppressions.list_suppressions(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get("/{suppression_id}", summary="Get a suppression", response_model=SuppressionRead)
async def get_suppression(suppression_id: UUID, ctx: Annotated[Context, require("suppressions:read")]) -> Row:
    return await suppressions.get(ctx, suppression_id)


@router.delete(
    "/{suppression_id}",
    status_code=204,
    summary="Lift a suppression (admin): marketing then needs a new opt-in with new proof",
)
async def delete_suppression(suppression_id: UUID, ctx: Annotated[Context, require("admin")]) -> None:
    await suppressions.delete(ctx, suppression_id)
