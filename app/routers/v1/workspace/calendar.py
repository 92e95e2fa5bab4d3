from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from app.domain.errors import InvalidInput
from app.domain.reports.scope import EARLIEST, LATEST
from app.routers.dependencies import require_any
from app.routers.route import CrmRoute
from app.schemas.workspace.calendar import HolidayList
from app.services.context import Context
from app.services.reports.scope import calendar_of
from app.services.workspace import calendars

router = APIRouter(prefix="/v1/calendar", tags=["Workspace"], route_class=CrmRoute)
MAX_DAYS = 1100  # three years at a time


@router.get(
    "/holidays",
    summary="The holidays between two local dates, with their names",
    description="The workspace region's public holidays (the `holidays` package: Iran's Jalali and lunar ones, in "
    "Persian for a `fa` workspace) and its own days off, as the business hours count them "
    "(`/v1/settings/sla` `business_hours`: `holidays`, `region_holidays`, `removed_holidays`), each named in the "
    "workspace's calendar and locale too (`local_date`, `display_label`). Either bound alone covers the year from "
    f"or to it; neither: a year from today. At most {MAX_DAYS} days at a time.",
    response_model=HolidayList,
)
async def list_holidays(
    ctx: Annotated[Context, require_any("workspace:read", "reports:read")],
    from_: Annotated[
        date | None,
        Query(alias="from", description="First local date; default today, or a year before `to` when only it is given"),
    ] = None,
    to: Annotated[date | None, Query(description="Last local date, inclusive; default a year after `from`")] = None,
) -> HolidayList:
    today = (await calendar_of(ctx)).local_date(ctx.now)
    for name, day in (("from", from_), ("to", to)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvalidInput.field(name, f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    # `to` alone: the year up to it (a past `to` is no error); else `from`, or today.
    first = max(to - timedelta(days=365), EARLIEST) if from_ is None and to is not None else from_ or today
    last = to or min(first + timedelta(days=365), LATEST)
    if last < first:
        raise InvalidInput.field("from", f"is after `to` ({last.isoformat()})")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput.field("to", f"at most {MAX_DAYS} days after `from`")
    return HolidayList.model_validate({"data": await calendars.holidays_between(ctx, first, last)})
