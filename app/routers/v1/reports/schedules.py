"""Scheduled digests: a report sent daily or weekly at a local time of the workspace, to members
by email (the chart inline) and/or as a `report.delivered` event for integrations."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.reports.schedules import (
    ReportScheduleCreate,
    ReportScheduleFilters,
    ReportScheduleRead,
    ReportScheduleUpdate,
)
from app.services.context import Context
from app.services.reports import schedules

router = APIRouter(prefix="/v1/report-schedules", tags=["Reports"], route_class=CrmRoute)
SchedulesSort = sort_enum("ReportSchedulesSort", "created_at", "name")


@router.post(
    "",
    status_code=201,
    summary="Schedule a report as a digest",
    description="Daily or weekly at a local time of the workspace (`cadence`), the report (`report`: `funnel`, "
    "`team`, `win-loss`, `products`, `pipeline`, `sales-forecast` or `overview`, with its query parameters in "
    "`params`, checked by the report's own rules) covering the day before a daily occurrence or the seven days "
    "before a weekly one (the pipeline: the periods ahead; the sales forecast: as of the day before; the overview: "
    "the counts at the occurrence): by email to `member_ids` (through `channel_id` or the default email channel; "
    "Persian and right to left in a `fa` workspace, the chart inline) and/or as a `report.delivered` event with "
    "the figures (`emit_event`; not for the overview, whose sections need scopes of their own). Each occurrence is "
    "delivered once. A digest that cannot be prepared shows on the schedule (`failures`, `last_error`); a wrong "
    "input, or five failures in a row, pauses it (`report.failed`).",
    response_model=ReportScheduleRead,
)
async def create_report_schedule(
    body: ReportScheduleCreate, ctx: Annotated[Context, require_idempotent("reports:write")]
) -> Answer:
    row = await schedules.create(ctx, body.model_dump())
    return Answer(row, location=f"/v1/report-schedules/{row['id']}")


@router.get("", summary="List report schedules", response_model=Page[ReportScheduleRead])
async def list_report_schedules(
    ctx: Annotated[Context, require("reports:read")],
    page: Annotated[Paging, paging(SchedulesSort)],
    filters: Annotated[ReportScheduleFilters, Query()],
) -> RowPage:
    return await schedules.list_schedules(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get(
    "/{schedule_id}",
    summary="Get a report schedule",
    response_model=ReportScheduleRead,
    openapi_extra={"x-conditional": True},
)
async def get_report_schedule(schedule_id: UUID, ctx: Annotated[Context, require("reports:read")]) -> Row:
    return await schedules.get_shown(ctx, schedule_id)


@router.patch(
    "/{schedule_id}",
    summary="Update a report schedule (a new cadence or a resume sets the next occurrence from now)",
    response_model=ReportScheduleRead,
)
async def update_report_schedule(
    schedule_id: UUID,
    body: ReportScheduleUpdate,
    ctx: Annotated[Context, require("reports:write")],
    if_match: IfMatch = None,
) -> Row:
    return await schedules.update(ctx, schedule_id, body.model_dump(exclude_unset=True), if_match=if_match)


@router.delete(
    "/{schedule_id}",
    summary="Archive a report schedule (it sends nothing more; hidden from lists unless archived=true)",
    response_model=ReportScheduleRead,
)
async def archive_report_schedule(
    schedule_id: UUID, ctx: Annotated[Context, require("reports:write")], if_match: IfMatch = None
) -> Row:
    return await schedules.archive(ctx, schedule_id, if_match=if_match)
