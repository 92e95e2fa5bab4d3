from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from app.domain.reports import products as rules
from app.domain.reports.products import Group, Sort
from app.domain.reports.scope import ReportFilters
from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.routers.v1.reports.common import RangeParams, csv_answer, report_params, responses, wanted
from app.schemas.reports.products import ProductsReport
from app.services.context import Context
from app.services.reports import products as reports
from app.services.reports import scope

router = APIRouter(prefix="/v1/reports", tags=["Reports"], route_class=CrmRoute)
FIGURES = ("units", "revenue", "margin", "customers", "repeat_rate")


@router.get(
    "/products",
    summary="What sold: units, revenue, margin, customers and repeat rate per product, category and period",
    description="Over the purchases (paid, fulfilled or partially refunded orders) placed in the range: a line's "
    "revenue is its total at its order's rate into the reporting currency, less its share of the order's refunds; "
    "margin takes off the order's goods cost shared over its lines by their totals (null when some order has no "
    "cost); customers are distinct buyers and the repeat rate the share of them who bought it in two or more "
    "orders of the range. Products and categories come the first `limit` by `sort` (descending); periods carry "
    "the same figures over all products (or the category's). Orders no exchange rate converts yet count in "
    "`unconverted_orders`, not in revenue. `Accept: text/csv` for a table.",
    response_model=ProductsReport,
    responses=responses(),
)
async def get_products_report(
    request: Request,
    ctx: Annotated[Context, require("reports:read")],
    params: Annotated[RangeParams, Depends(report_params)],
    group: Annotated[Group | None, Query(description="Only this list (the other answers empty); default both")] = None,
    category: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Only the products of this category")
    ] = None,
    sort: Annotated[Sort, Query(description="What ranks the products and categories (descending)")] = "revenue",
    limit: Annotated[
        int, Query(ge=1, le=rules.MAX_LIMIT, description="How many products and categories")
    ] = rules.DEFAULT_LIMIT,
) -> ProductsReport | Response:
    fmt = wanted(request)
    covered = await scope.resolve(ctx, params.first, params.last, params.interval, ReportFilters())
    result = await reports.products(ctx, covered, group=group, category=category, sort=sort, limit=limit)
    if fmt == "csv":
        header = ["section", "sku", "name", "category", "label", "start_date", "end_date", *FIGURES]
        rows = [["product", p["sku"] or "", p["name"] or "", p["category"] or "", "", covered.first, covered.last,
                 *(_cell(p[f]) for f in FIGURES)] for p in result["products"]]  # fmt: skip
        rows += [["category", "", "", c["category"] or "", "", covered.first, covered.last,
                  *(_cell(c[f]) for f in FIGURES)] for c in result["categories"]]  # fmt: skip
        rows += [["period", "", "", category or "", p["label"], p["start_date"], p["end_date"],
                  *(_cell(p[f]) for f in FIGURES)] for p in result["periods"]]  # fmt: skip
        return csv_answer("products", header, rows)
    return ProductsReport.model_validate(result)


def _cell(value: object) -> object:
    return "" if value is None else value
