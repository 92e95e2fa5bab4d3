from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.domain.reports.scope import ReportFilters
from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import RangeParams, csv_answer, report_filters, report_params, responses, wanted
from app.schemas.reports.win_loss import WinLossReport
from app.services.context import Context
from app.services.reports import scope
from app.services.reports import win_loss as reports

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)


HEADER = ("section", "outcome", "key", "name", "start_date", "end_date", "won", "won_amount", "lost", "lost_amount",
          "win_rate", "disqualified")  # fmt: skip


def _figures(entry: dict[str, Any]) -> list[Any]:
    won, lost = entry["won"], entry["lost"]
    return [won["count"], won["amount"], lost["count"], lost["amount"], entry["win_rate"] if entry["win_rate"]
            is not None else "", entry["disqualified"]["count"]]  # fmt: skip


def _csv_rows(result: dict[str, Any]) -> list[list[Any]]:
    first, last = result["from"], result["to"]
    rows: list[list[Any]] = [["total", "", "", "", first, last, *_figures(result)]]
    for r in result["by_reason"]:
        cells: list[Any] = ["", "", "", "", "", ""]
        column = {"won": 0, "lost": 2, "disqualified": 5}[r["outcome"]]
        cells[column] = r["count"]
        if r["amount"] is not None:
            cells[column + 1] = r["amount"]
        rows.append(["reason", r["outcome"], r["reason"] or "", "", first, last, *cells])
    rows += [["owner", "", r["owner_id"] or "", r["name"] or "", first, last, *_figures(r)] for r in result["by_owner"]]
    rows += [["source", "", r["source"] or "", "", first, last, *_figures(r)] for r in result["by_source"]]
    rows += [["period", "", p["label"], p["display_label"], p["start_date"], p["end_date"], p["won"], p["won_amount"],
              p["lost"], p["lost_amount"], p["win_rate"] if p["win_rate"] is not None else "", p["disqualified"]]
             for p in result["periods"]]  # fmt: skip
    return rows


@router.get(
    "/win-loss",
    summary="Opportunities won and lost and leads disqualified: counts, amounts and the win rate, by reason, "
    "owner, source and period",
    description="Opportunities count by the day they closed (`closed_at`), disqualified leads by the day they were "
    "(`disqualified_at`), in the range; archived opportunities and merged leads are left out. Win rate = won / "
    "(won + lost). Amounts are decimal strings in the workspace's reporting currency (`currency`): an "
    "opportunity in another currency is converted at the rate of the day it closed (`other_currency_count`), and "
    "without one counted but its amount not added (`unconverted_count`); one without an amount counts as 0. "
    "Filters: `owner_id` the opportunity's or the lead's owner; `team_id` opportunities owned by the team's "
    "members (now) and disqualified leads of the team (the lead's team, as the funnel); `source`, `form_id`, "
    "`utm_campaign`, `campaign_id` the lead's: an opportunity's are its originating lead's (`lead_id`), so one "
    "without a lead never matches them. An id the workspace has not: 422 naming the filter. `Accept: text/csv` "
    "for a table (sections total, reason, owner, source, period).",
    response_model=WinLossReport,
    responses=responses(),
)
async def get_win_loss_report(
    request: Request,
    ctx: Annotated[Context, require("reports:read")],
    params: Annotated[RangeParams, Depends(report_params)],
    filters: Annotated[ReportFilters, Depends(report_filters)],
) -> WinLossReport | Response:
    fmt = wanted(request)
    covered = await scope.resolve(ctx, params.first, params.last, params.interval, filters)
    result = await reports.win_loss(ctx, covered)
    if fmt == "csv":
        return csv_answer("win-loss", HEADER, _csv_rows(result))
    return WinLossReport.model_validate(result)
