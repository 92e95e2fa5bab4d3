from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.domain.leads.sla import ActivityType
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.leads.routing import ActivityCreate, ActivityRead
from app.services.context import Context
from app.services.leads import activities

router = APIRouter(prefix="/v1/activities", tags=["Activities"], route_class=CrmRoute)
ActivitySort = sort_enum("ActivitySort", "occurred_at", "created_at")


@router.post(
    "",
    status_code=201,
    summary="Log a call, email, SMS, WhatsApp or social message, meeting or note about a lead",
    description="The lead's first outbound, non-automated activity by a member (not a note) is its first "
    "response: it stops the SLA clock and is marked `first_response`.",
    response_model=ActivityRead,
)
async def create_activity(body: ActivityCreate, ctx: Annotated[Context, require_idempotent("leads:write")]) -> Answer:
    row = await activities.create(ctx, body.model_dump())
    return Answer(row, location=f"/v1/activities/{row['id']}")


@router.get("", summary="List activities", response_model=Page[ActivityRead])
async def list_activities(
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(ActivitySort, "-occurred_at")],
    lead_id: Annotated[UUID | None, Query()] = None,
    member_id: Annotated[UUID | None, Query()] = None,
    type: Annotated[ActivityType | None, Query()] = None,
    occurred_after: Annotated[datetime | None, Query()] = None,
    occurred_before: Annotated[datetime | None, Query()] = None,
) -> RowPage:
    return await activities.list_activities(
        ctx,
        sort=page.sort,
        cursor=page.cursor,
        limit=page.limit,
        lead_id=lead_id,
        member_id=member_id,
        type=type,
        occurred_after=occurred_after,
        occurred_before=occurred_before,
    )


@router.get("/{activity_id}", summary="Get an activity", response_model=ActivityRead)
async def get_activity(activity_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> Row:
    return await activities.get(ctx, activity_id)
