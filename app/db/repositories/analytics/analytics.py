"""Customer analytics: the per-customer purchase summary (aggregated in the database, streamed out),
and the snapshots the refresh job writes and the reads serve."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Float,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
    union_all,
    update,
)

from app.db import tables
from app.db.repositories.base import (
    Page,
    RecordRepository,
    Row,
    SortKey,
    TenantRepository,
    datetime_key,
    equal_conditions,
    where_between,
    where_equal,
)
from app.db.repositories.customers.customer_view import OPEN_TICKETS, UNPAID, VALUE_ADDED
from app.domain.reports import periods
from app.domain.reports.periods import ReportCalendar

o, co, ol = tables.orders, tables.contacts, tables.order_lines
tk, iv, ct, op, alerts = tables.tickets, tables.invoices, tables.contracts, tables.opportunities, tables.churn_alerts
snap, cv = tables.analytics_snapshots, tables.customer_values
# app/domain/customers/orders.py: cancelled and refunded left out
PURCHASES = ("paid", "fulfilled", "partially_refunded")
RANKS: dict[str, Any] = {
    "churn": cv.c.clv_at_risk_minor,
    "advocates": cv.c.advocacy_score,
    "upsell": cv.c.value_added_deals * 100 + cv.c.open_recommendations,
}


class AcquisitionCostRepository(RecordRepository):
    table = tables.acquisition_costs
    sortable = {"created_at": datetime_key(tables.acquisition_costs.c.created_at)}

    async def live_with(self, *, channel: str, month: str, currency: str) -> Row | None:
        t = self.table
        statement = select(t).where(
            self.scope, t.c.channel == channel, t.c.month == month, t.c.currency == currency, t.c.archived_at.is_(None)
        )
        return await self._one(statement)

    async def live(self) -> list[Row]:
        t = self.table
        statement = select(t).where(self.scope, t.c.archived_at.is_(None)).order_by(t.c.channel, t.c.month)
        return [dict(row) for row in (await self.uow.execute(statement)).mappings()]


CONTACT_LABELS = (co.c.first_name, co.c.last_name, co.c.email)


def _with_contact(statement: Any, contact_id: Any) -> Any:
    """`statement` with the contact's name and email beside each row (for keys holding contacts:read)."""
    return statement.add_columns(*CONTACT_LABELS).outerjoin(
        co, and_(co.c.workspace_id == contact_id.table.c.workspace_id, co.c.id == contact_id)
    )


class ChurnAlertRepository(TenantRepository):
    """Churn alerts: the refresh job records them; `GET /v1/analytics/churn-alerts` lists them."""

    table = alerts
    sortable = {
        "raised_on": SortKey(alerts.c.raised_on, lambda v: v.isoformat(), lambda v: date.fromisoformat(v)),
        "clv_at_risk": SortKey(alerts.c.clv_at_risk_minor, int, int),
        "churn_score": SortKey(alerts.c.churn_score, float, float),
    }

    async def open(self) -> list[Row]:
        statement = select(alerts).where(self.scope, alerts.c.outcome.is_(None))
        return [dict(row) for row in (await self.uow.execute(statement)).mappings()]

    async def blocking(self, since: date) -> set[UUID]:
        """Customers who may not be alerted now: an open alert, or one raised after `since` (the
        cooldown; alerts of later analysis dates count too, for back-dated snapshots)."""
        statement = (
            select(alerts.c.contact_id)
            .where(self.scope, or_(alerts.c.outcome.is_(None), alerts.c.raised_on > since))
            .distinct()
        )
        return set((await self.uow.execute(statement)).scalars())

    async def churned_on(self) -> dict[UUID, date]:
        """Per customer with an alert that ended churned: the analysis date of the latest one."""
        statement = (
            select(alerts.c.contact_id, func.max(alerts.c.raised_on))
            .where(self.scope, alerts.c.outcome == "churned")
            .group_by(alerts.c.contact_id)
        )
        return {contact: day for contact, day in (await self.uow.execute(statement)).all()}

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.uow.insert_rows(alerts, rows)

    async def resolve(self, alert_id: UUID, outcome: str, resolved_on: date) -> None:
        statement = (
            update(alerts)
            .where(self.scope, alerts.c.id == alert_id, alerts.c.outcome.is_(None))
            .values(outcome=outcome, resolved_on=resolved_on)
        )
        await self.uow.execute(statement)

    async def page(
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        with_contact: bool,
        status: str | None = None,
        reason: str | None = None,
        churn_level: str | None = None,
        announced: bool | None = None,
        contact_id: UUID | None = None,
        owner_id: UUID | None = None,
        raised_after: date | None = None,
        raised_before: date | None = None,
    ) -> Page:
        statement = select(alerts).where(self.scope)
        if status == "open":
            statement = statement.where(alerts.c.outcome.is_(None))
        elif status is not None:
            statement = statement.where(alerts.c.outcome == status)
        statement = where_equal(statement, {
            alerts.c.reason: reason, alerts.c.churn_level: churn_level, alerts.c.announced: announced,
            alerts.c.contact_id: contact_id, alerts.c.owner_id: owner_id,
        })  # fmt: skip
        statement = where_between(statement, [(alerts.c.raised_on, raised_after, raised_before)], closed=True)
        if with_contact:
            statement = _with_contact(statement, alerts.c.contact_id)
        return await self._page(statement, sortable=self.sortable, sort=sort, cursor=cursor, limit=limit)


class AnalyticsRepository(TenantRepository):
    table = snap

    def alerts(self) -> ChurnAlertRepository:
        return ChurnAlertRepository(self.uow, self.workspace_id)

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
        revenue it applies to, their purchase days in the year before last and in the last year and,
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
                func.count(when(d.day > as_of, literal(1))).label("holdout_purchases"),
                func.count(when(d.day.between(*year_before_last), literal(1))).label("purchases_year_before"),
                func.count(when(and_(d.day >= last_year_from, summary_day), literal(1))).label("purchases_last_year"),
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
                co.c.interests,
                co.c.owner_id,
                co.c.loyalty_points,
                co.c.referrals_count,
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

    async def get(self, snapshot_id: UUID) -> Row | None:
        return await self._one(select(snap).where(self.scope, snap.c.id == snapshot_id))

    async def latest(self, *, status: str = "ready") -> Row | None:
        statement = (
            select(snap)
            .where(self.scope, snap.c.status == status)
            .order_by(snap.c.completed_at.desc(), snap.c.id.desc())
            .limit(1)
        )
        return await self._one(statement)

    async def clv_of(self, snapshot_id: UUID, contact_ids: Sequence[UUID]) -> dict[UUID, tuple[int, int]]:
        """(predicted CLV, predicted margin), minor units, of these contacts in the snapshot."""
        found: dict[UUID, tuple[int, int]] = {}
        for start in range(0, len(contact_ids), 1000):
            statement = select(cv.c.contact_id, cv.c.predicted_clv_minor, cv.c.predicted_margin_minor).where(
                cv.c.workspace_id == self.workspace_id, cv.c.snapshot_id == snapshot_id,
                cv.c.contact_id.in_(contact_ids[start : start + 1000]),
            )  # fmt: skip
            found |= {c: (int(v), int(m)) for c, v, m in (await self.uow.execute(statement)).all()}
        return found

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

    async def discard_building(self, *, before: Any, snapshot_id: UUID | None = None) -> int:
        """Delete snapshots still building (and their values) that were begun before `before` (a
        run that died left them), or the one `snapshot_id` (a run that failed drops its own)."""
        condition = snap.c.id == snapshot_id if snapshot_id is not None else snap.c.created_at < before
        doomed = select(snap.c.id).where(self.scope, snap.c.status == "building", condition)
        ids = list((await self.uow.execute(doomed)).scalars())
        if ids:
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

    # -- what retention analytics read beside the orders --------------------------------------------

    async def _per_contact(self, statement: Any) -> dict[UUID, Row]:
        return {row["contact_id"]: dict(row) for row in (await self.uow.execute(statement)).mappings()}

    async def ticket_facts(self) -> dict[UUID, Row]:
        """Per contact: open tickets, tickets rated 1-2, mean rating."""
        statement = (
            select(
                tk.c.contact_id,
                func.count(case((tk.c.status.in_(OPEN_TICKETS), 1))).label("open_tickets"),
                func.count(case((tk.c.satisfaction <= 2, 1))).label("low_rated_tickets"),
                func.avg(tk.c.satisfaction).label("satisfaction"),
            )
            .where(tk.c.workspace_id == self.workspace_id, tk.c.contact_id.is_not(None), tk.c.archived_at.is_(None))
            .group_by(tk.c.contact_id)
        )
        return await self._per_contact(statement)

    async def engagement_facts(self, since: datetime, split: datetime, until: datetime) -> dict[UUID, Row]:
        """Per contact: engagements (opens, clicks, visits, …) and inbound activities (their replies
        by SMS or WhatsApp, calls and emails they started) in [since, split) (`before`) and in
        [split, until) (`last`)."""
        eg, ac = tables.engagements, tables.activities
        touches = union_all(
            select(eg.c.contact_id, eg.c.occurred_at).where(
                eg.c.workspace_id == self.workspace_id,
                eg.c.contact_id.is_not(None),
                eg.c.occurred_at >= since,
                eg.c.occurred_at < until,
            ),
            select(ac.c.contact_id, ac.c.occurred_at).where(
                ac.c.workspace_id == self.workspace_id,
                ac.c.contact_id.is_not(None),
                ac.c.direction == "inbound",
                ac.c.occurred_at >= since,
                ac.c.occurred_at < until,
            ),
        ).subquery()
        statement = select(
            touches.c.contact_id,
            func.count(case((touches.c.occurred_at >= split, 1))).label("last"),
            func.count(case((touches.c.occurred_at < split, 1))).label("before"),
        ).group_by(touches.c.contact_id)
        return await self._per_contact(statement)

    async def overdue_invoices(self, today: date) -> dict[UUID, Row]:
        statement = (
            select(iv.c.contact_id, func.count().label("overdue_invoices"))
            .where(
                iv.c.workspace_id == self.workspace_id,
                iv.c.contact_id.is_not(None),
                iv.c.archived_at.is_(None),
                iv.c.status.in_(UNPAID),
                iv.c.due_on < today,
            )
            .group_by(iv.c.contact_id)
        )
        return await self._per_contact(statement)

    async def contracts(self, today: date, ended_since: date) -> list[Row]:
        """Started contracts still running or ended since `ended_since` (a lapse is a churn signal)."""
        statement = select(ct.c.contact_id, ct.c.renewal_status, ct.c.end_on, ct.c.auto_renew).where(
            ct.c.workspace_id == self.workspace_id,
            ct.c.contact_id.is_not(None),
            ct.c.archived_at.is_(None),
            ct.c.start_on <= today,
            or_(ct.c.end_on.is_(None), ct.c.end_on >= ended_since),
        )
        return [dict(row) for row in (await self.uow.execute(statement)).mappings()]

    async def value_added_deals(self) -> dict[UUID, Row]:
        statement = (
            select(op.c.contact_id, func.count().label("value_added_deals"))
            .where(
                op.c.workspace_id == self.workspace_id,
                op.c.contact_id.is_not(None),
                op.c.archived_at.is_(None),
                op.c.stage == "won",
                op.c.type.in_(VALUE_ADDED),
            )
            .group_by(op.c.contact_id)
        )
        return await self._per_contact(statement)

    async def converted_referrals(self) -> dict[UUID, Row]:
        """Per referrer: the people they referred who bought."""
        statement = (
            select(co.c.referred_by_contact_id.label("contact_id"), func.count().label("referrals_converted"))
            .where(
                co.c.workspace_id == self.workspace_id,
                co.c.referred_by_contact_id.is_not(None),
                co.c.archived_at.is_(None),
                co.c.orders_count > 0,
            )
            .group_by(co.c.referred_by_contact_id)
        )
        return await self._per_contact(statement)

    def _lines(self, as_of: date, *columns: Any, lines: Any = ol) -> Any:
        """`columns` over the categorised lines of the purchases up to `as_of`."""
        return (
            select(*columns)
            .select_from(lines)
            .join(o, and_(o.c.workspace_id == lines.c.workspace_id, o.c.id == lines.c.order_id))
            .where(
                lines.c.workspace_id == self.workspace_id,
                lines.c.category.is_not(None),
                o.c.contact_id.is_not(None),
                o.c.status.in_(PURCHASES),
                o.c.placed_on <= as_of,
            )
        )

    async def categories_bought(self, as_of: date) -> dict[UUID, set[str]]:
        statement = self._lines(as_of, o.c.contact_id, ol.c.category).group_by(o.c.contact_id, ol.c.category)
        bought: dict[UUID, set[str]] = {}
        for contact_id, category in (await self.uow.execute(statement)).all():
            bought.setdefault(contact_id, set()).add(category)
        return bought

    async def category_counts(self, as_of: date) -> tuple[int, dict[str, int], dict[tuple[str, str], int]]:
        """Orders with a categorised line, orders per category, orders per category pair (a < b):
        single passes over the lines (a join of the lines with themselves for the pairs)."""
        orders = (await self.uow.execute(self._lines(as_of, func.count(func.distinct(ol.c.order_id))))).scalar_one()
        single = self._lines(as_of, ol.c.category, func.count(func.distinct(ol.c.order_id))).group_by(ol.c.category)
        per_category = {c: int(n) for c, n in (await self.uow.execute(single)).all()}
        other = ol.alias("other")
        pair = (
            self._lines(as_of, ol.c.category, other.c.category, func.count(func.distinct(ol.c.order_id)))
            .join(
                other,
                and_(
                    other.c.workspace_id == ol.c.workspace_id,
                    other.c.order_id == ol.c.order_id,
                    other.c.category > ol.c.category,
                ),
            )
            .group_by(ol.c.category, other.c.category)
        )
        pairs = {(x, y): int(n) for x, y, n in (await self.uow.execute(pair)).all()}
        return int(orders or 0), per_category, pairs

    async def cohort_rows(self, as_of: date, calendar: ReportCalendar | None = None) -> list[tuple[str, str, int, int]]:
        """(cohort month, purchase month, customers who bought that month, net revenue minor): a
        customer's cohort is the month of their first purchase (`placed_on`, local). Months are the
        workspace's calendar's (`YYYY-MM` labels): a Gregorian month is the date's first 7
        characters; a Jalali one a balanced CASE over the Jalali months' first days between the
        earliest purchase and `as_of` (date literals, the same on PostgreSQL and SQLite)."""
        purchased = [
            o.c.workspace_id == self.workspace_id,
            o.c.contact_id.is_not(None),
            o.c.status.in_(PURCHASES),
            o.c.placed_on <= as_of,
        ]
        month: ColumnElement[Any] = func.substr(cast(o.c.placed_on, String), 1, 7)
        if calendar is not None and calendar.kind != "gregorian":
            earliest = (await self.uow.execute(select(func.min(o.c.placed_on)).where(*purchased))).scalar()
            if earliest is None:
                return []
            month = _month_labels(o.c.placed_on, _as_date(earliest), as_of, calendar)
        known = o.c.reporting_total_minor.is_not(None)
        net = o.c.reporting_total_minor - func.coalesce(o.c.reporting_refunded_minor, 0)
        # Each order's month first, so that the grouping below names a plain column (a CASE with
        # bound dates would be a different expression each time it is written on PostgreSQL).
        placed = (
            select(
                o.c.contact_id.label("contact_id"),
                month.label("month"),
                case((known, net), else_=0).label("net"),
            )
            .join(co, and_(co.c.workspace_id == o.c.workspace_id, co.c.id == o.c.contact_id))
            .where(*purchased, co.c.archived_at.is_(None))
            .subquery("p")
        )
        monthly = (
            select(placed.c.contact_id, placed.c.month, func.sum(placed.c.net).label("revenue"))
            .group_by(placed.c.contact_id, placed.c.month)
            .subquery("m")
        )
        cohorts = select(
            monthly.c.month,
            monthly.c.revenue,
            func.min(monthly.c.month).over(partition_by=monthly.c.contact_id).label("cohort"),
        ).subquery("w")
        statement = (
            select(cohorts.c.cohort, cohorts.c.month, func.count(), cast(func.sum(cohorts.c.revenue), BigInteger))
            .group_by(cohorts.c.cohort, cohorts.c.month)
            .order_by(cohorts.c.cohort, cohorts.c.month)
        )
        return [(str(c), str(m), int(n), int(r or 0)) for c, m, n, r in (await self.uow.execute(statement)).all()]

    async def previous_values(self, snapshot_id: UUID) -> dict[UUID, tuple[str | None, str | None]]:
        """(rfm_segment, churn_level) of each customer in a snapshot."""
        statement = select(cv.c.contact_id, cv.c.rfm_segment, cv.c.churn_level).where(
            cv.c.workspace_id == self.workspace_id, cv.c.snapshot_id == snapshot_id
        )
        return {c: (s, lv) for c, s, lv in (await self.uow.execute(statement)).all()}

    async def ranked(
        self,
        snapshot_id: UUID,
        kind: str,
        *,
        after: tuple[Any, UUID] | None,
        limit: int,
        level: str | None = None,
        owner_id: UUID | None = None,
        segment: str | None = None,
        with_contact: bool = False,
    ) -> list[Row]:
        """A snapshot's customers largest first (then by contact id), after a keyset: `churn` by CLV
        at risk (medium and high unless `level`), `advocates` by advocacy score, `upsell` by
        value-added deals then open recommendations (at most 3 each). `with_contact`: each row with
        the contact's name and email."""
        order = RANKS[kind]
        conditions = [cv.c.workspace_id == self.workspace_id, cv.c.snapshot_id == snapshot_id, order.is_not(None)]
        if kind == "churn":
            conditions.append(cv.c.churn_level == level if level else cv.c.churn_level.in_(("medium", "high")))
        conditions += equal_conditions({cv.c.owner_id: owner_id, cv.c.rfm_segment: segment})
        statement = select(cv, order.label("rank_key")).where(*conditions)
        if with_contact:
            statement = _with_contact(statement, cv.c.contact_id)
        if after is not None:
            statement = statement.where(tuple_(order, cv.c.contact_id) < tuple_(literal(after[0]), literal(after[1])))
        statement = statement.order_by(order.desc(), cv.c.contact_id.desc()).limit(limit + 1)
        return [dict(row) for row in (await self.uow.execute(statement)).mappings()]

    async def contact_labels(self, contact_ids: Sequence[UUID]) -> dict[UUID, Row]:
        """Name and email of each of these contacts (the workspace's only)."""
        found: dict[UUID, Row] = {}
        ids = list(contact_ids)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            statement = select(co.c.id, *CONTACT_LABELS).where(
                co.c.workspace_id == self.workspace_id, co.c.id.in_(chunk)
            )
            for row in (await self.uow.execute(statement)).mappings():
                found[row["id"]] = {column.key: row[column.key] for column in CONTACT_LABELS}
        return found


def _as_date(value: Any) -> date:
    """A Date column's aggregate (SQLite answers `min` of a date as its ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _month_labels(column: ColumnElement[Any], first: date, last: date, calendar: ReportCalendar) -> ColumnElement[Any]:
    """The label of the calendar month a local date in `first`..`last` falls in: a balanced tree of
    comparisons with the months' first days (log2(months) per row)."""
    starts = list(periods.starts(first, last, "month", calendar))
    labels = [periods.label(start, "month", calendar) for start in starts]

    def tree(low: int, high: int) -> ColumnElement[Any]:  # months low..high-1
        if high - low == 1:
            return literal(labels[low], String)
        middle = (low + high) // 2
        return case((column < literal(starts[middle], Date), tree(low, middle)), else_=tree(middle, high))

    return tree(0, len(starts))
