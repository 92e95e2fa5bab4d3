"""The products report's sums, aggregated in the database from the order lines (the `order_lines`
table: the relational copy of each order's line items, linked to its product by SKU), the same on
PostgreSQL and SQLite. What counts and how money is shared out: app/domain/reports/products.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Select, and_, case, cast, func, or_, select

from app.db import tables
from app.db.repositories.base import Row, TenantRepository
from app.db.repositories.reports import sql
from app.domain.customers.orders import PURCHASES
from app.domain.reports.products import Group, Sort
from app.domain.reports.scope import ReportScope

o, ol, pr = tables.orders, tables.order_lines, tables.products


class ProductReportRepository(TenantRepository[dict[str, Any]]):
    table = ol

    def _lines(self, scope: ReportScope, category: str | None) -> Any:
        """One row per line of the purchases placed in the range: its product and category, its
        order and buyer, units, revenue and cost in the reporting currency (fractional minor units),
        and whether its order was converted and whether that order has a cost."""
        known = o.c.reporting_total_minor.is_not(None)  # converted into the reporting currency
        priced = and_(known, o.c.total_minor > 0)  # (a free order's lines bring nothing)
        net = o.c.reporting_total_minor - func.coalesce(o.c.reporting_refunded_minor, 0)
        revenue = case((priced, cast(ol.c.total_minor, Float) * net / o.c.total_minor), else_=0.0)
        # The order's goods cost, shared over its lines by their totals, at the order's rate.
        lines_total = func.sum(ol.c.total_minor).over(partition_by=ol.c.order_id)
        cost = case(
            (and_(priced, o.c.cost_minor.is_not(None), lines_total > 0),
             cast(o.c.cost_minor, Float) * ol.c.total_minor / lines_total * o.c.reporting_total_minor
             / o.c.total_minor),
            else_=0.0,
        )  # fmt: skip
        lines = (
            select(
                ol.c.product_id.label("product_id"),
                func.coalesce(pr.c.sku, ol.c.sku).label("sku"),
                func.coalesce(pr.c.name, ol.c.name).label("name"),
                func.coalesce(pr.c.category, ol.c.category).label("category"),
                o.c.id.label("order_id"),
                o.c.contact_id.label("contact_id"),
                o.c.placed_at.label("placed_at"),
                ol.c.quantity.label("units"),
                revenue.label("revenue"),
                cost.label("cost"),
                case((known, 1), else_=0).label("converted"),
                case((and_(known, o.c.cost_minor.is_(None)), 1), else_=0).label("costless"),
            )
            .select_from(
                ol.join(o, and_(o.c.workspace_id == ol.c.workspace_id, o.c.id == ol.c.order_id)).outerjoin(
                    pr, and_(pr.c.workspace_id == ol.c.workspace_id, pr.c.id == ol.c.product_id)
                )
            )
            .where(
                ol.c.workspace_id == self.workspace_id,
                o.c.workspace_id == self.workspace_id,
                o.c.status.in_(sorted(PURCHASES)),
                o.c.placed_at >= sql.at(scope.start),
                o.c.placed_at < sql.at(scope.end),
            )
            .subquery("all_lines")
        )
        kept = select(lines)
        if category is not None:  # after the window: a line's cost share is of all its order's lines
            kept = kept.where(lines.c.category == category)
        return kept.subquery("lines")

    async def ranked(self, scope: ReportScope, group: Group, *, category: str | None, sort: Sort,
                     limit: int) -> list[Row]:  # fmt: skip
        """Products (`group` product: one row per product, lines without a SKU together as one) or
        categories, the first `limit` by `sort` (descending; then units, then key): key, sku,
        name, category, units, revenue, cost, converted, costless, customers, repeaters."""
        await self.uow.analytic()
        lines = self._lines(scope, category)
        key = lines.c.product_id if group == "product" else lines.c.category
        totals = (
            select(
                key.label("key"),
                func.min(lines.c.sku).label("sku"),
                func.min(lines.c.name).label("name"),
                func.min(lines.c.category).label("category"),
                func.sum(lines.c.units).label("units"),
                func.sum(lines.c.revenue).label("revenue"),
                func.sum(lines.c.cost).label("cost"),
                func.sum(lines.c.converted).label("converted"),
                func.sum(lines.c.costless).label("costless"),
            )
            .group_by(key)
            .subquery("totals")
        )
        buyers = self._buyers(lines, key)
        margin = case(
            (and_(totals.c.costless == 0, totals.c.converted > 0), totals.c.revenue - totals.c.cost), else_=None
        )
        sorted_by = {
            "revenue": totals.c.revenue,
            "units": totals.c.units,
            "customers": func.coalesce(buyers.c.customers, 0),
            "margin": margin,
        }[sort]
        order = [case((sorted_by.is_(None), 1), else_=0), sorted_by.desc(), totals.c.units.desc(),
                 case((totals.c.key.is_(None), 1), else_=0), totals.c.sku, totals.c.category]  # fmt: skip
        statement = (
            select(
                totals,
                func.coalesce(buyers.c.customers, 0).label("customers"),
                func.coalesce(buyers.c.repeaters, 0).label("repeaters"),
            )
            .select_from(totals.outerjoin(buyers, _same(buyers.c.key, totals.c.key)))
            .order_by(*order)
            .limit(limit)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    @staticmethod
    def _buyers(lines: Any, key: Any) -> Any:
        """Per key: its distinct customers and those of them with two or more distinct orders."""
        per_customer = (
            select(key.label("key"), lines.c.contact_id, func.count(lines.c.order_id.distinct()).label("orders"))
            .where(lines.c.contact_id.is_not(None))
            .group_by(key, lines.c.contact_id)
            .subquery("per_customer")
        )
        return (
            select(
                per_customer.c.key,
                func.count().label("customers"),
                func.sum(case((per_customer.c.orders >= 2, 1), else_=0)).label("repeaters"),
            )
            .group_by(per_customer.c.key)
            .subquery("buyers")
        )

    async def periods(self, scope: ReportScope, *, category: str | None) -> list[Row]:
        """Per period (index in the scope's periods) of every product: units, revenue, cost,
        converted, costless, customers and repeaters (as `ranked`'s rows, the period as key)."""
        await self.uow.analytic()
        lines = self._lines(scope, category)
        period = sql.bucket(lines.c.placed_at, scope.bounds())
        totals = (
            select(
                period.label("key"),
                func.sum(lines.c.units).label("units"),
                func.sum(lines.c.revenue).label("revenue"),
                func.sum(lines.c.cost).label("cost"),
                func.sum(lines.c.converted).label("converted"),
                func.sum(lines.c.costless).label("costless"),
            )
            .group_by(period)
            .subquery("totals")
        )
        buyers = self._buyers(lines, period)
        statement: Select[Any] = select(
            totals.c.key.label("period"),
            totals.c.units,
            totals.c.revenue,
            totals.c.cost,
            totals.c.converted,
            totals.c.costless,
            func.coalesce(buyers.c.customers, 0).label("customers"),
            func.coalesce(buyers.c.repeaters, 0).label("repeaters"),
        ).select_from(totals.outerjoin(buyers, _same(buyers.c.key, totals.c.key)))
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def unconverted_orders(self, scope: ReportScope, *, category: str | None) -> int:
        """Orders in the range left out of revenue for want of an exchange rate."""
        lines = self._lines(scope, category)
        statement = select(func.count(case((lines.c.converted == 0, lines.c.order_id)).distinct()))
        return int((await self.uow.execute(statement)).scalar_one() or 0)


def _same(left: Any, right: Any) -> Any:
    """Equal, a null key (lines without a SKU, or without a category) meeting a null key."""
    return or_(left == right, and_(left.is_(None), right.is_(None)))
