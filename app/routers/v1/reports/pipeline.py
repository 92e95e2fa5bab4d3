from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app.domain.customers.opportunities import OpportunityType
from app.domain.reports import pipeline as rules
from app.domain.reports.periods import Interval
from app.domain.reports.scope import ReportFilters
from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import csv_answer, png_answer, report_filters, responses, wanted
from app.schemas.reports.pipeline import PipelineReport
from app.services.context import Context
from app.services.reports import charts
from app.services.reports import pipeline as reports

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)

CSV_HEADER = ("section", "key", "label", "start_date", "end_date", "count", "overdue", "amount", "weighted_by_stage",
              "weighted_by_history", "win_rate", "win_rate_source", "expected", "p10", "p50", "p90")  # fmt: skip


@router.get(
    "/pipeline",
    summary="Open opportunities by stage and expected close period, weighted, with a forecast of won revenue",
    description="The open opportunities (not won or lost, not archived) by stage, each stage's amount weighted by "
    "the opportunities' own probabilities and by the workspace's win rate for the stage (calibrated from its closed "
    "opportunities' stage history; the stage's default probability while fewer than 20 closed ones were ever at "
    "it), and per period ahead (expected close date; an overdue deal counts as closing today) a Monte Carlo "
    "forecast of won revenue: the exact expectation and P10/P50/P90 of 10,000 draws (`seed`: the same seed, the "
    "same figures). Defaults: from today, by month, six periods. Amounts in the reporting currency; deals in "
    "another currency without a recent rate are left out and counted in `unconverted`. Filters: `account_id`, "
    "`type` and `owner_id` the deal's; `team_id` deals owned by the team's members (now); `source`, `form_id`, "
    "`utm_campaign`, `campaign_id` the originating lead's (a deal without a lead never matches them); the win "
    "rates are never narrowed by them. An id the workspace has not: 422 naming the filter. `Accept: text/csv` or "
    "`image/png` for a table or a chart.",
    response_model=PipelineReport,
    responses=responses(png=True),
)
async def get_pipeline_report(
    request: Request,
    ctx: Annotated[Context, require("reports:read")],
    filters: Annotated[ReportFilters, Depends(report_filters)],
    from_: Annotated[date | None, Query(alias="from", description="First local day (ISO date); default: today")] = None,
    to: Annotated[
        date | None,
        Query(description="Last local day, inclusive; default: the end of the sixth period from the one of `from`"),
    ] = None,
    interval: Annotated[Interval, Query(description="Periods in the workspace's calendar")] = reports.DEFAULT_INTERVAL,
    seed: Annotated[int, Query(ge=0, le=2**63 - 1, description="The draws' seed")] = rules.SEED,
    basis: Annotated[
        Literal["calibrated", "stage_probability"],
        Query(description="The forecast's win probabilities: the stage's win rate, or each deal's own probability"),
    ] = "calibrated",
    account_id: Annotated[UUID | None, Query(description="Opportunities of this account")] = None,
    type: Annotated[OpportunityType | None, Query(description="Opportunities of this type")] = None,
) -> PipelineReport | Response:
    fmt = wanted(request, png=True)
    covered = await reports.window(ctx, from_, to, interval, filters)
    result = await reports.pipeline(
        ctx, covered, seed=seed, basis=basis, account_id=account_id, kind=type.value if type is not None else None
    )
    if fmt == "csv":
        rows: list[list[object]] = [
            ["stage", s["stage"], "", covered.first, covered.last, s["count"], "", s["amount"], s["weighted_by_stage"],
             s["weighted_by_history"], s["win_rate"], s["win_rate_source"], "", "", "", ""]
            for s in result["stages"]
        ]  # fmt: skip
        rows += [["period", "", p["label"], p["start_date"], p["end_date"], p["count"], p["overdue"], p["amount"], "",
                  "", "", "", p["expected"], p["p10"], p["p50"], p["p90"]] for p in result["periods"]]  # fmt: skip
        for key in ("undated", "outside"):
            u = result[key]
            rows.append([key, "", "", "", "", u["count"], "", u["amount"], "", "", "", "", u["expected"], "", "", ""])
        t = result["total"]
        rows.append(["total", "", "", covered.first, covered.last, t["count"], t["overdue"], t["amount"], "", "", "",
                     "", t["expected"], t["p10"], t["p50"], t["p90"]])  # fmt: skip
        return csv_answer("pipeline", CSV_HEADER, rows)
    if fmt == "png":
        return await png_answer(lambda: charts.pipeline(result, covered.calendar.locale))
    return PipelineReport.model_validate(result)
