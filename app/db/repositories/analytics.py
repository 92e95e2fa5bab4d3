"""Customer analytics: the per-customer purchase summary (aggregated in the database, streamed out),
and the snapshots the refresh job writes and the reads serve."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Date, Float, and_, case, cast, delete, func, literal, select, type_coerce, update

from app.db import tables
from app.db.repositories.base import Row, TenantRepository

o, co = tables.orders, tables.contacts
snap, cv = tables.analytics_snapshots, tables.customer_values
PURCHASES = ("paid", "fulfilled", "partially_refunded")  # app/domain/orders.py: cancelled and refunded left out


class AnalyticsRepository(TenantRepository):
    table = snap

    async def customer_summaries(
        self,
        as_of: date,
        *,
        year_before_last: tuple[date, date],
        last_year_from: date,
        holdout_until: date | None = None,
        partition: int = 10_000,
    ) -> AsyncIterator[Sequence[Row]]:
        """One row per live contact with a purchase on or before `as_of`, in partitions: purchase
        days (orders of one day are one purchase), first/last day, net value in the reporting
        currency (converted orders; partial refunds netted), the first day's value, cost and the
        revenue it applies to, whether they bought in the year before last / the last year and,
        with `holdout_until`, their purchase days in (as_of, holdout_until].

        The database does the aggregation (two GROUP BYs over the workspace's orders): Python only
        ever sees one row per customer."""
        until = holdout_until or as_of
        known = o.c.reporting_total_minor.is_not(None)
        net = o.c.reporting_total_minor - func.coalesce(o.c.reporting_refunded_minor, 0)
        with_cost = and_(known, o.c.cost_minor.is_not(None), o.c.total_minor > 0)
        # Cost in the reporting currency: the order's own conversion applied to its cost.
        cost = cast(o.c.cost_minor, Float) * o.c.reporting_total_minor / o.c.total_minor
        in_summary = o.c.placed_on <= as_of
        days = (
            select(
                o.c.contact_id.label("contact_id"),
                o.c.placed_on.label("day"),
                func.sum(case((known, net), else_=0)).label("value"),
                func.sum(case((with_cost, cost), else_=0.0)).label("cost"),
                func.sum(case((with_cost, net), else_=0)).label("costed"),
                func.min(case((in_summary, o.c.placed_on))).over(partition_by=o.c.contact_id).label("first_day"),
            )
            .where(
                o.c.workspace_id == self.workspace_id,
                o.c.contact_id.is_not(None),
                o.c.status.in_(PURCHASES),
                o.c.placed_on <= until,
            )
            .group_by(o.c.contact_id, o.c.placed_on)
            .subquery("d")
        )
        d = days.c
        summary_day = d.day <= as_of

        def when(condition: Any, then: Any, otherwise: Any = None) -> Any:
            return case((condition, then), else_=otherwise)

        flag_before = func.max(when(d.day.between(*year_before_last), 1, 0))
        flag_last = func.max(when(and_(d.day >= last_year_from, summary_day), 1, 0))
        per_customer = (
            select(
                d.contact_id,
                type_coerce(func.min(d.first_day), Date).label("first_day"),
                type_coerce(func.max(when(summary_day, d.day)), Date).label("last_day"),
                func.count(when(summary_day, literal(1))).label("purchases"),
                cast(func.sum(when(summary_day, d.value, 0)), BigInteger).label("revenue"),
                cast(func.sum(when(d.day == d.first_day, d.value, 0)), BigInteger).label("first_value"),
                cast(func.sum(when(summary_day, d.cost, 0.0)), Float).label("cost"),
                cast(func.sum(when(summary_day, d.costed, 0)), BigInteger).label("costed"),
                flag_before.label("bought_year_before_last"),
                flag_last.label("bought_last_year"),
                func.count(when(d.day > as_of, literal(1))).label("holdout_purchases"),
            )
            .group_by(d.contact_id)
            .having(func.min(d.first_day).is_not(None))
            .subquery("c")
        )
        c = per_customer.c
        statement = (
            select(
                c,
                co.c.acquisition_channel,
                co.c.acquired_at,
                co.c.customer_since,
                co.c.country,
                co.c.tags,
            )
            .join(co, and_(co.c.workspace_id == self.workspace_id, co.c.id == c.contact_id))
            .where(co.c.archived_at.is_(None))
        )
        connection = await self.uow.connection()
        result = await connection.stream(statement)
        async for rows in result.mappings().partitions(partition):
            yield [dict(row) for row in rows]

    # -- snapshots ----------------------------------------------------------------------------------

    async def create(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def insert_values(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.uow.insert_rows(cv, rows)

    async def complete(self, snapshot_id: UUID, values: Mapping[str, Any]) -> None:
        statement = update(snap).where(self.scope, snap.c.id == snapshot_id).values(**values)
        await self.uow.execute(statement)

    async def latest(self, *, status: str = "ready") -> Row | None:
        statement = (
            select(snap)
            .where(self.scope, snap.c.status == status)
            .order_by(snap.c.completed_at.desc(), snap.c.id.desc())
            .limit(1)
        )
        return await self._one(statement)

    async def value_of(self, snapshot_id: UUID, contact_id: UUID) -> Row | None:
        statement = select(cv).where(
            cv.c.workspace_id == self.workspace_id, cv.c.snapshot_id == snapshot_id, cv.c.contact_id == contact_id
        )
        return await self._one(statement)

    async def discard(self, *, keep: Sequence[UUID], building_before: Any) -> int:
        """Delete the snapshots (and their values) not kept: ready ones not in `keep`, and building
        ones left by a run that died before `building_before`. The count of snapshots deleted."""
        doomed = select(snap.c.id).where(
            self.scope,
            snap.c.id.not_in(list(keep)) if keep else literal(True),
            (snap.c.status == "ready") | (snap.c.created_at < building_before),
        )
        ids = list((await self.uow.execute(doomed)).scalars())
        if not ids:
            return 0
        await self.uow.execute(delete(cv).where(cv.c.workspace_id == self.workspace_id, cv.c.snapshot_id.in_(ids)))
        await self.uow.execute(delete(snap).where(self.scope, snap.c.id.in_(ids)))
        return len(ids)

    async def ready_ids(self, limit: int) -> list[UUID]:
        statement = (
            select(snap.c.id)
            .where(self.scope, snap.c.status == "ready")
            .order_by(snap.c.completed_at.desc(), snap.c.id.desc())
            .limit(limit)
        )
        return list((await self.uow.execute(statement)).scalars())
