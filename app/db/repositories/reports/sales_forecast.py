"""The sales forecast's reads and its cache.

History: revenue or orders per period of the workspace's calendar, aggregated in the database
(`sql.bucket` of `placed_at`). The rule is the customers' and analytics' one
(app/domain/customers/orders.py): revenue is the reporting-currency total net of refunds of the
orders whose money counts (paid, fulfilled, partially or fully refunded), an order not yet converted
(no exchange rate) adding nothing; orders counts the purchases (paid, fulfilled, partially refunded).
Per product category, an order's net revenue is shared among its lines in proportion to their
totals, and it counts once among the orders of each category it has a line of.

Cache: `report_forecasts`, one row per workspace and key (the parameters), with the data version
it was computed on; at most so many per workspace (`evict`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Date, Float, and_, case, cast, delete, distinct, func, literal, select

from app.db import tables
from app.db.repositories.base import TenantRepository, dialect_insert
from app.db.repositories.reports import sql
from app.domain.customers.orders import MONEY, PURCHASES

o, ol, xr, rf = tables.orders, tables.order_lines, tables.exchange_rates, tables.report_forecasts
MONEY_STATUSES = tuple(sorted(s.value for s in MONEY))
PURCHASE_STATUSES = tuple(sorted(s.value for s in PURCHASES))


def day_bucket(column: ColumnElement[Any], bounds: Sequence[date]) -> ColumnElement[Any]:
    """`sql.bucket` for a date column: the index of the period [bounds[i], bounds[i + 1]) holding
    it, NULL outside them."""

    def at(day: date) -> ColumnElement[Any]:
        return literal(day, Date())

    def tree(low: int, high: int) -> ColumnElement[Any]:
        if high - low == 1:
            return literal(low)
        middle = (low + high) // 2
        return case((column < at(bounds[middle]), tree(low, middle)), else_=tree(middle, high))

    inside = and_(column >= at(bounds[0]), column < at(bounds[-1]))
    return case((inside, tree(0, len(bounds) - 1)), else_=None)


class SalesForecastRepository(TenantRepository[dict[str, Any]]):
    table = rf

    def _orders(self, bounds: Sequence[datetime]) -> list[ColumnElement[bool]]:
        return [
            o.c.workspace_id == self.workspace_id,
            o.c.status.in_(MONEY_STATUSES),
            o.c.placed_at >= sql.at(bounds[0]),
            o.c.placed_at < sql.at(bounds[-1]),
        ]

    async def first_order(self, before: datetime) -> datetime | None:
        """When the workspace's first order whose money counts was placed (before `before`)."""
        statement = select(func.min(o.c.placed_at)).where(
            o.c.workspace_id == self.workspace_id, o.c.status.in_(MONEY_STATUSES), o.c.placed_at < sql.at(before)
        )
        found: datetime | None = (await self.uow.execute(statement)).scalar()  # min() keeps the column's type
        return found

    async def history(self, metric: str, bounds: Sequence[datetime]) -> tuple[dict[int, int], int]:
        """({period: revenue in minor units or orders}, orders left out of revenue for want of an
        exchange rate) over the periods [bounds[i], bounds[i + 1])."""
        known = o.c.reporting_total_minor.is_not(None)
        net = o.c.reporting_total_minor - func.coalesce(o.c.reporting_refunded_minor, 0)
        period = sql.bucket(o.c.placed_at, bounds).label("period")
        value = (
            func.sum(case((known, net), else_=0))
            if metric == "revenue"
            else func.count(case((o.c.status.in_(PURCHASE_STATUSES), literal(1))))
        )
        statement = (
            select(
                period, cast(value, BigInteger).label("value"), func.count(case((~known, literal(1)))).label("missing")
            )
            .where(*self._orders(bounds))
            .group_by(period)
        )
        values: dict[int, int] = {}
        missing = 0
        for row in await self.uow.execute(statement):
            missing += int(row.missing or 0)
            if row.period is not None:
                values[int(row.period)] = int(row.value or 0)
        return values, missing

    async def by_category(self, metric: str, bounds: Sequence[datetime]) -> dict[str | None, dict[int, float]]:
        """{category (None: lines without one): {period: revenue in minor units (an order's net
        shared among its lines by their totals) or orders with a line of it}}."""
        lines = (
            select(
                ol.c.order_id,
                ol.c.category,
                ol.c.total_minor,
                func.sum(ol.c.total_minor).over(partition_by=ol.c.order_id).label("lines_total"),
                o.c.status,
                o.c.reporting_total_minor,
                o.c.reporting_refunded_minor,
                sql.bucket(o.c.placed_at, bounds).label("period"),
            )
            .select_from(o.join(ol, and_(ol.c.workspace_id == o.c.workspace_id, ol.c.order_id == o.c.id)))
            .where(*self._orders(bounds), ol.c.workspace_id == self.workspace_id)
            .subquery("lines")
        )
        if metric == "revenue":
            net = cast(lines.c.reporting_total_minor - func.coalesce(lines.c.reporting_refunded_minor, 0), Float)
            counted = and_(lines.c.reporting_total_minor.is_not(None), lines.c.lines_total > 0)
            value: ColumnElement[Any] = func.sum(
                case((counted, net * lines.c.total_minor / lines.c.lines_total), else_=0.0)
            )
        else:
            value = func.count(distinct(case((lines.c.status.in_(PURCHASE_STATUSES), lines.c.order_id))))
        statement = (
            select(lines.c.category, lines.c.period, value.label("value"))
            .where(lines.c.period.is_not(None))
            .group_by(lines.c.category, lines.c.period)
        )
        found: dict[str | None, dict[int, float]] = {}
        for row in await self.uow.execute(statement):
            found.setdefault(row.category, {})[int(row.period)] = float(row.value or 0)
        return found

    async def rate_series(
        self, quote: str, starts: Sequence[date]
    ) -> tuple[str | None, dict[int, float], float | None]:
        """The exchange rate into `quote` (the reporting currency) per period [starts[i],
        starts[i + 1]): of the currency with the most rates dated in them, the mean of each
        period's rates, and the latest rate before them (None: none). (None, {}, None) without
        rates."""
        inside = and_(xr.c.effective_on >= starts[0], xr.c.effective_on < starts[-1])
        mine = [xr.c.workspace_id == self.workspace_id, xr.c.quote_currency == quote]
        busiest = (
            select(xr.c.currency)
            .where(*mine, inside)
            .group_by(xr.c.currency)
            .order_by(func.count().desc(), xr.c.currency)
            .limit(1)
        )
        currency = (await self.uow.execute(busiest)).scalar()
        if currency is None:
            return None, {}, None
        period = day_bucket(xr.c.effective_on, starts).label("period")
        means = (
            select(period, func.avg(cast(xr.c.rate, Float)).label("rate"))
            .where(*mine, xr.c.currency == currency, inside)
            .group_by(period)
        )
        values = {int(r.period): float(r.rate) for r in await self.uow.execute(means) if r.period is not None}
        before = (
            select(xr.c.rate)
            .where(*mine, xr.c.currency == currency, xr.c.effective_on < starts[0])
            .order_by(xr.c.effective_on.desc())
            .limit(1)
        )
        carried = (await self.uow.execute(before)).scalar()
        return str(currency), values, float(carried) if carried is not None else None

    async def version_facts(self, before: datetime, last_day: date, quote: str) -> tuple[Any, ...]:
        """What the history looks like, cheaply: the number of orders placed before `before` and
        the latest change to one, and the same of the exchange rates into `quote` dated up to
        `last_day`."""
        orders = select(func.count(), func.max(o.c.updated_at)).where(
            o.c.workspace_id == self.workspace_id, o.c.placed_at < sql.at(before)
        )
        rates = select(func.count(), func.max(xr.c.updated_at)).where(
            xr.c.workspace_id == self.workspace_id, xr.c.quote_currency == quote, xr.c.effective_on <= last_day
        )
        first = (await self.uow.execute(orders)).one()
        second = (await self.uow.execute(rates)).one()
        return (*first, *second)

    # -- the cache ---------------------------------------------------------------------------------

    async def cached(self, key: str) -> dict[str, Any] | None:
        return await self._one(select(rf).where(self.scope, rf.c.key == key))

    async def store(self, key: str, result: dict[str, Any], computed_at: datetime, data_version: str) -> None:
        insert = dialect_insert(await self._dialect())
        values = {"result": result, "computed_at": computed_at, "data_version": data_version}
        statement = insert(rf).values(workspace_id=self.workspace_id, key=key, **values)
        statement = statement.on_conflict_do_update(index_elements=[rf.c.workspace_id, rf.c.key], set_=values)
        await self.uow.execute(statement)

    async def evict(self, keep: int, *, kept_first: str) -> None:
        """Delete all but `keep` of the workspace's forecasts: the keys matching the LIKE pattern
        `kept_first` stay first, then the latest computed (the key breaks ties)."""
        ranked = (
            select(rf.c.key)
            .where(self.scope)
            .order_by(case((rf.c.key.like(kept_first), 0), else_=1), rf.c.computed_at.desc(), rf.c.key)
            .offset(keep)
        )
        await self.uow.execute(delete(rf).where(self.scope, rf.c.key.in_(ranked.scalar_subquery())))

    async def keys(self) -> list[str]:
        statement = select(rf.c.key).where(self.scope).order_by(rf.c.key)
        return [str(k) for k in (await self.uow.execute(statement)).scalars()]
