"""SQL pieces every report uses, the same on PostgreSQL and SQLite: which period a timestamp falls
in, its local day, the seconds between two timestamps, nearest-rank percentiles by window
functions, and the leads' filters (on a lead, or through the lead a row is bound to). Reports
aggregate in the database: rows are never loaded to be counted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, and_, case, cast, func, literal, select, true
from sqlalchemy.sql.elements import ColumnElement as Column

from app.db import tables
from app.db.types import UtcDateTime
from app.domain.reports.scope import ReportFilters

ld = tables.leads


def at(moment: datetime) -> ColumnElement[Any]:
    """A timestamp bound as the columns store it (naive UTC text on SQLite)."""
    return literal(moment, UtcDateTime())


def bucket(column: Column[Any], bounds: Sequence[datetime]) -> ColumnElement[Any]:
    """The index of the period `column` falls in, period i being [bounds[i], bounds[i + 1]);
    NULL before the first or from the last bound on (`bounds`: ascending, periods + 1 of them).
    A balanced tree of comparisons: log2(periods) of them per row, each bound bound once."""

    def tree(low: int, high: int) -> ColumnElement[Any]:  # periods low..high-1
        if high - low == 1:
            return literal(low)
        middle = (low + high) // 2
        return case((column < at(bounds[middle]), tree(low, middle)), else_=tree(middle, high))

    inside = and_(column >= at(bounds[0]), column < at(bounds[-1]))
    return case((inside, tree(0, len(bounds) - 1)), else_=None)


def utc_offsets(timezone: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets over [start, end): (from, seconds) pairs, the first from `start`, a
    new one at each change (to the second). Read a day at a time: a zone changes its offset at most
    once a day."""
    zone = ZoneInfo(timezone)

    def offset(second: int) -> int:
        moment = datetime.fromtimestamp(second, UTC).astimezone(zone)
        return int(moment.utcoffset().total_seconds()) if moment.utcoffset() is not None else 0

    first, last = int(start.timestamp()), int(end.timestamp())
    found = [(first, offset(first))]
    at_ = first
    while at_ < last:
        step = min(at_ + 86_400, last)
        if offset(step) != found[-1][1]:
            low, high = at_, step  # the offset at `low` is the current one, at `high` not
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == found[-1][1] else (low, middle)
            found.append((high, offset(high)))
        at_ = step
    return [(datetime.fromtimestamp(second, UTC), seconds) for second, seconds in found]


def local_day(column: Column[Any], timezone: str, start: datetime, end: datetime, dialect: str) -> ColumnElement[Any]:
    """The local date of a timestamp in the zone, for timestamps in [start, end): PostgreSQL's own
    time-zone conversion; on SQLite the UTC offsets of the span (`utc_offsets`) as a CASE, added
    to the stored UTC text. Read back with `as_date`."""
    if dialect == "postgresql":
        return cast(func.timezone(timezone, column), Date)
    offsets = utc_offsets(timezone, start, end)

    def modifier(seconds: int) -> ColumnElement[Any]:
        return literal(f"{seconds:+d} seconds")

    shift: ColumnElement[Any] = modifier(offsets[-1][1])
    if len(offsets) > 1:
        shift = case(*((column < at(offsets[i + 1][0]), modifier(seconds))
                       for i, (_, seconds) in enumerate(offsets[:-1])), else_=shift)  # fmt: skip
    return func.date(column, shift)


def as_date(value: Any) -> date | None:
    """A `local_day` as read back (a date on PostgreSQL, ISO text on SQLite)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def seconds_between(later: Column[Any], earlier: Column[Any], dialect: str) -> ColumnElement[Any]:
    """`later - earlier` in seconds (a float)."""
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def ranked(value: Column[Any], groups: Sequence[Column[Any]]) -> list[ColumnElement[Any]]:
    """Window columns for a subquery of values: each value's rank in its group (ascending) and the
    group's count; `pick` then takes a percentile over the subquery's rows."""
    order = func.row_number().over(partition_by=list(groups) or None, order_by=value)
    total = func.count().over(partition_by=list(groups) or None)
    return [order.label("rank"), total.label("n")]


def pick(rank: Column[Any], n: Column[Any], value: Column[Any], fraction: float) -> ColumnElement[Any]:
    """The nearest-rank percentile of `value` within a group (an aggregate over the group's rows):
    the value at rank ceil(fraction * n), so a median of 4 values is the 2nd. Integer arithmetic
    only (SQLite has no ceil)."""
    per_mille = round(fraction * 1000)
    wanted = (n * per_mille + 999) // 1000  # floor division on both (SQLAlchemy 2 makes `/` a true one)
    return func.max(case((rank == wanted, value), else_=None))


def lead_conditions(filters: ReportFilters, workspace_id: UUID) -> list[ColumnElement[bool]]:
    """The leads the filters keep: owner, team, source and utm_campaign as the leads list matches
    them; a form: leads one of whose submissions (not spam) was to it; a campaign: leads it messaged."""
    found: list[ColumnElement[bool]] = []
    if filters.owner_id is not None:
        found.append(ld.c.owner_id == filters.owner_id)
    if filters.team_id is not None:
        found.append(ld.c.team_id == filters.team_id)
    if filters.source is not None:
        found.append(ld.c.source == filters.source)
    if filters.utm_campaign is not None:
        found.append(ld.c.utm_campaign == filters.utm_campaign)
    if filters.form_id is not None:
        fs = tables.form_submissions
        submitted = select(fs.c.lead_id).where(
            fs.c.workspace_id == workspace_id,
            fs.c.form_id == filters.form_id,
            fs.c.lead_id.is_not(None),
            fs.c.spam.is_(False),
        )
        found.append(ld.c.id.in_(submitted))
    if filters.campaign_id is not None:
        cr = tables.campaign_recipients
        messaged = select(cr.c.person_id).where(
            cr.c.workspace_id == workspace_id, cr.c.campaign_id == filters.campaign_id, cr.c.status == "messaged"
        )
        found.append(ld.c.id.in_(messaged))
    return found


def through_lead(filters: ReportFilters, workspace_id: UUID, lead_id: Column[Any]) -> list[ColumnElement[bool]]:
    """Rows bound to a lead (`lead_id`: an opportunity's originating lead, an activity's or a task's
    lead) that the filters keep (`lead_conditions`; pass `filters.of_lead()` for the lead-only
    ones); with any filter given, a row bound to no lead is left out."""
    if not filters.given():
        return []
    kept = (
        select(ld.c.id)
        .where(ld.c.workspace_id == workspace_id, *lead_conditions(filters, workspace_id))
        .correlate(None)
    )
    return [lead_id.is_not(None), lead_id.in_(kept)]


def all_of(conditions: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(true(), *conditions)
