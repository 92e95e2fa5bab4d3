from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app.domain.leads.lifecycle import Source
from app.domain.reports.scope import ReportFilters
from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import RangeParams, csv_answer, report_params, responses, wanted
from app.schemas.reports.win_loss import WinLossReport
from app.services.context import Context
from app.services.reports import scope
from app.services.reports import win_loss as reports

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)


def win_loss_filters(
    owner_id: Annotated[UUID | None, Query(description="Opportunities and leads owned by this member")] = None,
    team_id: Annotated[
        UUID | None, Query(description="Opportunities and leads owned by a member of this team (its members now)")
    ] = None,
    source: Annotated[
        Source | None, Query(description="The lead's source (an opportunity's: its lead's; none without a lead)")
    ] = None,
) -> ReportFilters:
    return ReportFilters(owner_id=owner_id, team_id=team_id, source=source.value if source is not None else None)


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
    "(won + lost). Amounts are decimal strings in the workspace's reporting currency (`currency`): opportunities "
    "in another currency are counted but their amounts are not added (`other_currency_count`); one without an "
    "amount counts as 0. An opportunity's source is its lead's (`lead_id`); without a lead it has none, and a "
    "`source` filter leaves it out. `team_id` keeps what the team's members own. `Accept: text/csv` for a table "
    "(sections total, reason, owner, source, period).",
    response_model=WinLossReport,
    responses=responses(),
)
async def get_win_loss_report(
    request: Request,
    ctx: Annotated[Context, require("reports:read")],
    params: Annotated[RangeParams, Depends(report_params)],
    filters: Annotated[ReportFilters, Depends(win_loss_filters)],
) -> WinLossReport | Response:
    fmt = wanted(request)
    covered = await scope.resolve(ctx, params.first, params.last, params.interval, filters)
    result = await reports.win_loss(ctx, covered)
    if fmt == "csv":
        return csv_answer("win-loss", HEADER, _csv_rows(result))
    return WinLossReport.model_validate(result)
