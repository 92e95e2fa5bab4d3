"""A report's scope from the request: the workspace's calendar (its `calendar`, `locale`, time zone
and region's first weekday), the range in local days (the last 90 by default), the periods."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from app.domain.reports import periods as cal
from app.domain.reports import scope as rules
from app.domain.reports.periods import CalendarKind, Interval, Locale, Period, ReportCalendar
from app.domain.reports.scope import ReportFilters, ReportScope
from app.services.context import Context
from app.services.workspace import workspaces


async def calendar_of(ctx: Context) -> ReportCalendar:
    """How the workspace cuts and names periods."""
    return calendar_from(await workspaces.get(ctx))


def calendar_from(row: Mapping[str, Any]) -> ReportCalendar:
    """How a workspace (its row) cuts and names periods."""
    kind: CalendarKind = "jalali" if row.get("calendar") == "jalali" else "gregorian"
    locale: Locale = "fa" if row.get("locale") == "fa" else "en"
    return ReportCalendar(
        kind=kind,
        locale=locale,
        timezone=row["timezone"],
        first_weekday=cal.week_start(row["default_region"]),
    )


async def resolve(
    ctx: Context, first: date | None, last: date | None, interval: Interval, filters: ReportFilters
) -> ReportScope:
    calendar = await calendar_of(ctx)
    return rules.resolve(first, last, interval, calendar, filters, today=calendar.local_date(ctx.now))


def period_fields(period: Period) -> dict[str, Any]:
    """What every report says of a period: its label, display label and bounds."""
    return {
        "label": period.label,
        "display_label": period.display_label,
        "start": period.start,
        "end": period.end,
        "start_date": period.start_date,
        "end_date": period.end_date,
    }
