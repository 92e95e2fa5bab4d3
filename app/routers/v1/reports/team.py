from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.domain.reports.scope import ReportFilters
from app.domain.reports.team import ACTIVITY_TYPES
from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import RangeParams, csv_answer, report_filters, report_params, responses, wanted
from app.schemas.reports.team import TeamReport
from app.services.context import Context
from app.services.reports import scope
from app.services.reports import team as reports

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)

FIGURES = ("leads_assigned", "first_response_median_seconds", "first_response_p90_seconds", "sla_met_rate",
           "tasks_done", "tasks_overdue", "leads_qualified", "opportunities_won", "won_amount",
           "won_other_currency_count", "won_unconverted_count", "conversion_rate")  # fmt: skip
HEADER = ("member_id", "name", *FIGURES, *(f"activities_{t}" for t in ACTIVITY_TYPES))


def _cell(value: Any) -> Any:
    return "" if value is None else value


@router.get(
    "/team",
    summary="Each member's work in the range beside the team's median: leads, first response, SLA, activities, "
    "tasks, qualified leads, won deals",
    description="Per member: leads assigned in the range (the assignment history: a lead reassigned counts for "
    "each member it went to), the median and p90 first-response time and the SLA met rate (met / (met + "
    "breached)) of those leads (leaving out the ones a member only got by an SLA escalation), activities logged "
    "per type, tasks completed in the range and open tasks overdue now, leads they own qualified in the range, "
    "opportunities they own won in the range (amount in the reporting currency: another currency's converted at "
    "the rate of the day it closed, `won_unconverted_count` those without one), and leads_qualified / "
    "leads_assigned. `team_median`: each figure's nearest-rank median over the members listed (active members, "
    "and deactivated ones with anything in the range). `periods`: the members' totals. Filters: `team_id` lists "
    "the team's members (now) and `owner_id` the one member (the rows are members, so the team is not the "
    "leads' team here); `source`, `form_id`, `utm_campaign`, `campaign_id` narrow each member's figures to "
    "leads with those values, opportunities whose originating lead has them, and activities and tasks bound to "
    "such a lead (those bound to no lead are left out while one is given). An id the workspace has not: 422 "
    "naming the filter. `Accept: text/csv` for one row per member.",
    response_model=TeamReport,
    responses=responses(),
)
async def get_team_report(
    request: Request,
    ctx: Annotated[Context, require("reports:read")],
    params: Annotated[RangeParams, Depends(report_params)],
    filters: Annotated[ReportFilters, Depends(report_filters)],
) -> TeamReport | Response:
    fmt = wanted(request)
    covered = await scope.resolve(ctx, params.first, params.last, params.interval, filters)
    result = await reports.team(ctx, covered)
    if fmt == "csv":
        rows = [[m["member_id"], m["name"], *(_cell(m[f]) for f in FIGURES),
                 *(m["activities"][t] for t in ACTIVITY_TYPES)] for m in result["members"]]  # fmt: skip
        return csv_answer("team", HEADER, rows)
    return TeamReport.model_validate(result)
