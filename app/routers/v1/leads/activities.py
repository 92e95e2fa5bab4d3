from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.domain.leads.sla import ActivityType
from app.routers.dependencies import (
    JSON,
    Paging,
    page_response,
    paging,
    require,
    require_idempotent,
    sort_enum,
)
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.leads.routing import ActivityCreate, ActivityRead
from app.services.context import Context
from app.services.leads import activities

router = APIRouter(prefix="/activities", tags=["Activities"], route_class=CrmRoute)
ActivitySort = sort_enum("ActivitySort", "occurred_at", "created_at")


@router.post(
    "",
    status_code=201,
    summary="Log a call, email, SMS, WhatsApp or social message, meeting or note about a lead",
    description="The lead's first outbound, non-automated activity by a member (not a note) is its first "
    "response: it stops the SLA clock and is marked `first_response`.",
    response_model=ActivityRead,
)
async def create_activity(body: ActivityCreate, ctx: Annotated[Context, require_idempotent("leads:write")]) -> Response:
    row = await activities.create(ctx, body.model_dump())
    return Response(
        ActivityRead.model_validate(row).model_dump_json(),
        status_code=201,
        media_type=JSON,
        headers={"Location": f"/v1/activities/{row['id']}"},
    )


@router.get("", summary="List activities", response_model=Page[ActivityRead])
async def list_activities(
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(ActivitySort, "-occurred_at")],
    lead_id: Annotated[UUID | None, Query()] = None,
    member_id: Annotated[UUID | None, Query()] = None,
    type: Annotated[ActivityType | None, Query()] = None,
    occurred_after: Annotated[datetime | None, Query()] = None,
    occurred_before: Annotated[datetime | None, Query()] = None,
) -> Response:
    result = await activities.list_activities(
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
    return page_response(ActivityRead, result.rows, result.next_cursor)


@router.get("/{activity_id}", summary="Get an activity", response_model=ActivityRead)
async def get_activity(activity_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> Response:
    return Response(
        ActivityRead.model_validate(await activities.get(ctx, activity_id)).model_dump_json(), media_type=JSON
    )
