"""The products report: per product, per category and per period of the workspace's calendar, the
units sold, revenue, margin, customers and repeat rate of the purchases placed in the range
(definitions: app/domain/reports/products.py)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
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
        figures = rules.figures(per_period.get(index, {}))
        periods.append({
            **period_fields(period),
            "units": figures["units"],
            "revenue": from_minor(figures["revenue_minor"], currency),
            # nothing sold in the period: no margin either (not an unknown one)
            "margin": _money(figures["margin_minor"] if index in per_period else 0, currency),
            "customers": figures["customers"],
            "repeat_rate": figures["repeat_rate"],
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


# -- as a scheduled digest (app/services/reports/digests.py) ---------------------------------------

TITLE = {"en": "Products", "fa": "محصولات"}
_WORDS = {
    "en": {"revenue": "Revenue", "units": "Units sold", "row": "{units} units, {revenue} {currency}",
           "no_sku": "(no SKU)", "no_category": "(no category)", "unconverted": "Orders without an exchange rate yet"},
    "fa": {"revenue": "درآمد", "units": "تعداد فروش", "row": "{units} عدد، {revenue} {currency}",
           "no_sku": "(بدون کد کالا)", "no_category": "(بدون دسته)", "unconverted": "سفارش‌های هنوز بی‌نرخ ارز"},
}  # fmt: skip
DIGEST_ROWS = 10  # products (or categories) an email lists


async def digest(ctx: Context, params: Any, scope: ReportScope) -> dict[str, Any]:
    """The products report for a digest's range, as `GET /v1/reports/products` answers it in JSON."""
    from app.schemas.reports.products import ProductsReport

    result = await products(ctx, scope, group=params.group, category=params.category, sort=params.sort,
                            limit=params.limit)  # fmt: skip
    return ProductsReport.model_validate(result).model_dump(mode="json", by_alias=True)


def digest_lines(figures: Mapping[str, Any], locale: str) -> list[tuple[str, str]]:
    """Revenue and units of the range, then the first products by the report's sort (the first
    categories when only those were asked for), and the orders not yet converted."""
    from app.domain.reports.periods import persian_digits

    words = _WORDS.get(locale, _WORDS["en"])
    currency = figures["currency"]
    revenue = sum((Decimal(p["revenue"]) for p in figures["periods"]), Decimal(0))
    lines = [(words["revenue"], f"{revenue} {currency}"),
             (words["units"], f"{sum(p['units'] for p in figures['periods']):,}")]  # fmt: skip
    rows = figures["products"] or figures["categories"]
    for row in rows[:DIGEST_ROWS]:
        if "sku" in row:
            label = row["name"] or row["sku"] or words["no_sku"]
        else:
            label = row["category"] or words["no_category"]
        lines.append((label, words["row"].format(units=f"{row['units']:,}", revenue=row["revenue"], currency=currency)))
    if figures["unconverted_orders"]:
        lines.append((words["unconverted"], str(figures["unconverted_orders"])))
    return [(label, persian_digits(value)) for label, value in lines] if locale == "fa" else lines
