from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app.domain.reports.scope import ReportFilters
from app.routers.dependencies import require_any
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import csv_answer, report_filters, responses, wanted
from app.schemas.reports.speed_to_lead import SpeedStats, SpeedToLeadReport
from app.services.context import Context
from app.services.reports import speed_to_lead as reports
from app.services.reports.speed_to_lead import NAMES

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)


@router.get(
    "/speed-to-lead",
    summary="First-response times: p50/p90, share within the SLA and response buckets, overall and by group",
    description="Covers the leads the SLA applied to that were captured in the range: `from`/`to` (local days, "
    "default the last 90) or `created_after`/`created_before` (instants). Times are working seconds (business "
    "hours, when set); percentiles are nearest rank. Needs `reports:read` (or `leads:read`). `Accept: text/csv` "
    "for a table (the overall row, then the groups).",
    response_model=SpeedToLeadReport,
    responses=responses(),
)
async def get_speed_to_lead_report(
    request: Request,
    ctx: Annotated[Context, require_any("reports:read", "leads:read")],
    filters: Annotated[ReportFilters, Depends(report_filters)],
    from_: Annotated[
        date | None, Query(alias="from", description="First local day (ISO date); default: 89 days before `to`")
    ] = None,
    to: Annotated[date | None, Query(description="Last local day, inclusive (ISO date); default: today")] = None,
    created_after: Annotated[
        datetime | None, Query(description="Leads captured at or after (instead of `from`/`to`)")
    ] = None,
    created_before: Annotated[
        datetime | None, Query(description="Leads captured before (instead of `from`/`to`)")
    ] = None,
    group_by: Annotated[Literal["owner", "team", "source"] | None, Query()] = None,
    conversion: Annotated[
        Literal["qualified", "won", "customer"] | None,
        Query(
            description="Add each bucket's conversion rate: leads qualified, whose opportunity was won, or who "
            "became customers (a purchase)"
        ),
    ] = None,
) -> SpeedToLeadReport | Response:
    fmt = wanted(request)
    report = await reports.speed_to_lead(
        ctx,
        first=from_,
        last=to,
        created_after=created_after,
        created_before=created_before,
        filters=filters,
        group_by=group_by,
        conversion=conversion,
    )
    if fmt == "csv":
        header = ["section", "key", "leads", "responded", "p50_seconds", "p90_seconds", "within_sla_share",
                  "breached", "pending", *(f"bucket_{n}" for n in NAMES)]  # fmt: skip
        if conversion is not None:
            header += [f"conversion_{n}" for n in NAMES]

        def row(section: str, stats: SpeedStats) -> list[object]:
            values: list[object] = [section, stats.key or "", stats.leads, stats.responded, stats.p50_seconds,
                                    stats.p90_seconds, stats.within_sla_share, stats.breached, stats.pending,
                                    *(stats.buckets[n] for n in NAMES)]  # fmt: skip
            if stats.conversion is not None:
                values += [stats.conversion[n] for n in NAMES]
            return ["" if v is None else v for v in values]

        return csv_answer(
            "speed-to-lead", header, [row("total", report.overall), *(row("group", g) for g in report.groups)]
        )
    return report
