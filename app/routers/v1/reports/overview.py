from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.domain.reports.scope import ReportFilters
from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import csv_answer, report_filters, responses, wanted
from app.schemas.reports.overview import Overview
from app.services.context import Context
from app.services.reports import overview as reports

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)


@router.get(
    "/overview",
    summary="The counts a dashboard shows, in one call",
    description="Open leads (new, contacted, nurturing; not archived or merged) by status, stage, temperature, "
    "owner and source; open first-response clocks and today's breaches; open tasks due today and overdue; open "
    "churn alerts; this month's net revenue so far against the same stretch of the previous month, months "
    "being the workspace calendar's (Jalali for a Jalali workspace). Each section shows only when the key holds "
    "its resource's read scope (leads and SLA: `leads:read`, tasks: `tasks:read`, churn alerts: "
    "`analytics:read`, revenue: `orders:read`); the others are null and named in `withheld`. The report filters "
    "(`owner_id`, `team_id`, `source`, `form_id`, `utm_campaign`, `campaign_id`) narrow the leads and SLA "
    "sections to the leads they keep (as the funnel: the lead's owner, team, source...) and the tasks to those "
    "bound to such a lead; churn alerts and revenue (orders carry no lead) are never narrowed. `filtered` names "
    "the sections they narrowed. An id the workspace has not: 422 naming the filter. "
    "`Accept: text/csv`: one row per figure (section, key, value).",
    response_model=Overview,
    responses=responses(),
)
async def get_overview_report(
    request: Request,
    ctx: Annotated[Context, require("reports:read")],
    filters: Annotated[ReportFilters, Depends(report_filters)],
) -> Overview | Response:
    fmt = wanted(request)
    result = Overview.model_validate(await reports.overview(ctx, filters))
    if fmt == "csv":
        return csv_answer("overview", ["section", "key", "value"], _figures(result))
    return result


def _figures(result: Overview) -> list[list[Any]]:
    """One row per figure: (section, key, value); owners keyed by member id (`none`: unassigned)."""
    rows: list[list[Any]] = []
    if result.leads is not None:
        for dimension in ("by_status", "by_stage", "by_temperature", "by_source"):
            counts: dict[str, int] = getattr(result.leads, dimension)
            rows += [[f"leads.{dimension}", key, value] for key, value in counts.items()]
        rows += [["leads.by_owner", str(o.owner_id) if o.owner_id else "none", o.count] for o in result.leads.by_owner]
    for name in ("sla", "tasks", "churn_alerts"):
        section = getattr(result, name)
        if section is not None:
            rows += [[name, key, value] for key, value in section.model_dump().items()]
    if result.revenue is not None:
        revenue = result.revenue
        rows += [["revenue", "currency", revenue.currency], ["revenue", "month_to_date", revenue.month_to_date],
                 ["revenue", "previous_month_to_date", revenue.previous_month_to_date],
                 ["revenue", "change", "" if revenue.change is None else revenue.change]]  # fmt: skip
    rows += [["withheld", name, ""] for name in result.withheld]
    rows += [["filtered", name, ""] for name in result.filtered]
    return rows
