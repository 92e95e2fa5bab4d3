from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.domain.reports.periods import Interval
from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import csv_answer, png_answer, responses, wanted
from app.schemas.reports.sales_forecast import SalesForecastReport
from app.services.context import Context
from app.services.reports import charts, scope
from app.services.reports import sales_forecast as reports

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)

CSV_HEADER = ("section", "category", "label", "start_date", "end_date", "value", "lower", "upper")


def _rows(block: dict[str, Any], category: str | None) -> list[list[Any]]:
    rows = [["history", category or "", h["label"], h["start_date"], h["end_date"], h["value"], "", ""]
            for h in block["history"]]  # fmt: skip
    rows += [["forecast", category or "", f["label"], f["start_date"], f["end_date"], f["value"], f["lower"],
              f["upper"]] for f in block["forecast"]]  # fmt: skip
    return rows


@router.get(
    "/sales-forecast",
    summary="Revenue or orders per period for the next periods, from the order history, with the model's backtest",
    description="History: every whole period up to `as_of` (default today) from the workspace's first order, in its "
    "calendar; revenue is the reporting-currency total net of refunds of paid, fulfilled and refunded orders, "
    "orders the paid, fulfilled and partially refunded ones. Forecast: the next `periods` periods by the model with "
    "the lowest rolling-origin sMAPE among seasonal naive, ETS and a regression with SARIMA errors on the region's "
    "occasions (Nowruz, Yalda, Black Friday) and the exchange rate (simpler models on a short history, which `note` "
    "explains); `backtest` sets its error beside seasonal naive's on the same origins. An 80% interval (P10-P90). "
    "`by=category`: the ten categories with the most history too. Answers come from a cache while the orders "
    "before `as_of` are unchanged (`computed_at`). `Accept: text/csv` or `image/png` for a table or a chart.",
    response_model=SalesForecastReport,
    responses=responses(png=True),
)
async def get_sales_forecast_report(
    request: Request,
    ctx: Annotated[Context, require("reports:read")],
    metric: Annotated[Literal["revenue", "orders"], Query(description="What is forecast")] = "revenue",
    interval: Annotated[Interval, Query(description="Periods in the workspace's calendar")] = "month",
    periods: Annotated[
        int, Query(ge=1, le=reports.MAX_PERIODS, description="How many periods ahead")
    ] = reports.DEFAULT_PERIODS,
    by: Annotated[Literal["category"] | None, Query(description="category: per product category too")] = None,
    as_of: Annotated[
        date | None, Query(description="Forecast as of this local day, as if no later order existed; default today")
    ] = None,
) -> SalesForecastReport | Response:
    fmt = wanted(request, png=True)
    params = reports.Params(metric=metric, interval=interval, periods=periods, as_of=as_of, by=by)
    result, _ = await reports.sales_forecast(ctx, params)
    if fmt == "csv":
        rows = _rows(result, None)
        for block in result.get("categories") or []:
            rows += _rows(block, block["category"] or "(none)")
        return csv_answer("sales-forecast", CSV_HEADER, rows)
    if fmt == "png":
        locale = (await scope.calendar_of(ctx)).locale
        return await png_answer(lambda: charts.sales_forecast(result, locale))
    return SalesForecastReport.model_validate(result)
