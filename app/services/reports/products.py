"""The products report: per product, per category and per period of the workspace's calendar, the
units sold, revenue, margin, customers and repeat rate of the purchases placed in the range
(definitions: app/domain/reports/products.py)."""

from __future__ import annotations

from typing import Any

from app.domain.money import from_minor
from app.domain.reports import products as rules
from app.domain.reports.products import Group, Sort
from app.domain.reports.scope import ReportScope
from app.services.context import Context
from app.services.reports.scope import period_fields
from app.services.workspace import workspaces


def _money(minor: int | None, currency: str) -> str | None:
    return None if minor is None else from_minor(minor, currency)


def _row(row: dict[str, Any], currency: str, *, product: bool) -> dict[str, Any]:
    figures = rules.figures(row)
    named: dict[str, Any] = {"sku": row["sku"], "name": row["name"]} if product else {}
    return {
        **named,
        "category": row["category"],
        "units": figures["units"],
        "revenue": from_minor(figures["revenue_minor"], currency),
        "margin": _money(figures["margin_minor"], currency),
        "customers": figures["customers"],
        "repeat_rate": figures["repeat_rate"],
    }


async def products(
    ctx: Context, scope: ReportScope, *, group: Group | None, category: str | None, sort: Sort, limit: int
) -> dict[str, Any]:
    repo = ctx.products_report
    currency = (await workspaces.get(ctx))["currency"]
    listed: dict[str, list[dict[str, Any]]] = {"product": [], "category": []}
    for kind in rules.GROUPS:
        if group is None or group == kind:
            rows = await repo.ranked(scope, kind, category=category, sort=sort, limit=limit)
            listed[kind] = [_row(r, currency, product=kind == "product") for r in rows]
    per_period: dict[int, dict[str, Any]] = {
        int(r["period"]): r for r in await repo.periods(scope, category=category) if r["period"] is not None
    }
    periods = []
    for index, period in enumerate(scope.periods):
        found = per_period.get(index, {})
        periods.append({
            **period_fields(period),
            "units": int(found.get("units") or 0),
            "revenue": from_minor(rules.to_minor(found.get("revenue")), currency),
        })  # fmt: skip
    return {
        "from": scope.first,
        "to": scope.last,
        "interval": scope.interval,
        "currency": currency,
        "group": group,
        "category": category,
        "sort": sort,
        "unconverted_orders": await repo.unconverted_orders(scope, category=category),
        "products": listed["product"],
        "categories": listed["category"],
        "periods": periods,
    }
