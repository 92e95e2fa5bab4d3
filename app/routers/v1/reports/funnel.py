from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app.domain.reports.funnel import STAGES
from app.domain.reports.scope import ReportFilters
from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import (
    RangeParams,
    csv_answer,
    png_answer,
    report_filters,
    report_params,
    responses,
    wanted,
)
from app.schemas.reports.funnel import FunnelReport
from app.services.context import Context
from app.services.reports import charts, scope
from app.services.reports import funnel as reports

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)


@router.get(
    "/funnel",
    summary="Leads through the stages lead → MQL → SQL → opportunity → won → customer, per period and group",
    description="Counts (a lead counts at a stage when it reached it or a later one), the rate from the previous "
    "stage, and the median and p90 time from it. `mode=cohort` (default): the leads created in the range, by the "
    "period of their creation; `mode=activity`: the leads reaching each stage in the range, by the period they "
    "reached it. `conversion` sets the lead-to-customer rate beside the sources' figures (under 5% typical, "
    "20-35% with good lead management). `Accept: text/csv` or `image/png` for a table or a chart.",
    response_model=FunnelReport,
    responses=responses(png=True),
)
async def get_funnel_report(
    request: Request,
    ctx: Annotated[Context, require("reports:read")],
    params: Annotated[RangeParams, Depends(report_params)],
    filters: Annotated[ReportFilters, Depends(report_filters)],
    mode: Annotated[Literal["cohort", "activity"], Query(description="Who is counted")] = "cohort",
    group_by: Annotated[
        Literal["source", "owner", "team", "form", "campaign"] | None,
        Query(description="Groups beside the totals (a lead that submitted two forms counts in both)"),
    ] = None,
) -> FunnelReport | Response:
    fmt = wanted(request, png=True)
    covered = await scope.resolve(ctx, params.first, params.last, params.interval, filters)
    result = await reports.funnel(ctx, covered, mode=mode, group_by=group_by)
    if fmt == "csv":
        header = ["section", "key", "name", "label", "start_date", "end_date", *STAGES]
        rows = [["total", "", "", "", covered.first, covered.last, *(s["count"] for s in result["stages"])]]
        rows += [["period", "", "", p["label"], p["start_date"], p["end_date"], *(p[s] for s in STAGES)]
                 for p in result["periods"]]  # fmt: skip
        rows += [["group", g["key"] or "", g["name"] or "", "", covered.first, covered.last,
                  *(s["count"] for s in g["stages"])] for g in result["groups"]]  # fmt: skip
        return csv_answer("funnel", header, rows)
    if fmt == "png":
        return await png_answer(lambda: charts.funnel(result, covered.calendar.locale))
    return FunnelReport.model_validate(result)
