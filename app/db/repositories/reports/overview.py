"""The dashboard overview's counts, each section one aggregate query (definitions:
app/domain/reports/overview.py). The report filters narrow the leads and SLA sections (on the lead,
as the funnel applies them) and the tasks (through the lead each is bound to)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, and_, case, cast, func, literal, or_, select, tuple_, union_all

from app.db import tables
from app.db.repositories.base import Row, TenantRepository
from app.db.repositories.reports import sql
from app.domain.customers.orders import PURCHASES
from app.domain.leads.lifecycle import EDITABLE
from app.domain.leads.sla import SlaStatus
from app.domain.reports.scope import ReportFilters

ld, tk, alerts, o, mb = tables.leads, tables.tasks, tables.churn_alerts, tables.orders, tables.members
OPEN_STATUSES = sorted(EDITABLE)  # new, contacted, nurturing
DIMENSIONS = ("status", "stage", "temperature", "source")


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class OverviewRepository(TenantRepository[dict[str, Any]]):
    table = ld

    def _open_leads(self, filters: ReportFilters) -> list[Any]:
        return [
            ld.c.workspace_id == self.workspace_id,
            ld.c.status.in_(OPEN_STATUSES),
            ld.c.archived_at.is_(None),
            ld.c.merged_into_id.is_(None),
            *sql.lead_conditions(filters, self.workspace_id),
        ]

    async def leads(self, filters: ReportFilters) -> dict[str, dict[Any, int]]:
        """Open leads counted by each dimension (one UNION ALL of GROUP BYs): dimension → value →
        count; `owner` keyed by member id (None: unassigned)."""
        await self.uow.analytic()
        parts = [
            select(literal(name).label("dimension"), cast(ld.c[name], String).label("value"),
                   func.count().label("leads"))
            .where(*self._open_leads(filters))
            .group_by(ld.c[name])
            for name in DIMENSIONS
        ]  # fmt: skip
        found: dict[str, dict[Any, int]] = {name: {} for name in (*DIMENSIONS, "owner")}
        if str((await self.uow.connection()).dialect.name) == "postgresql":
            # One scan of the leads: a grouping set per dimension (the owner's too).
            columns = [ld.c[name] for name in DIMENSIONS] + [ld.c.owner_id]
            sets = select(*columns, *(func.grouping(c).label(f"g{i}") for i, c in enumerate(columns)),
                          func.count().label("leads")).where(*self._open_leads(filters)).group_by(
                func.grouping_sets(*(tuple_(c) for c in columns)))  # fmt: skip
            names = [*DIMENSIONS, "owner"]
            for row in (await self.uow.execute(sets)).mappings():
                index = next(i for i in range(len(columns)) if row[f"g{i}"] == 0)
                value = row[columns[index].name]
                key = value if names[index] == "owner" else (None if value is None else str(value))
                found[names[index]][key] = int(row["leads"])
            return found
        statement = union_all(*parts)
        for row in (await self.uow.execute(statement)).mappings():
            found[row["dimension"]][row["value"]] = int(row["leads"])
        owners = (
            select(ld.c.owner_id, func.count().label("leads")).where(*self._open_leads(filters)).group_by(ld.c.owner_id)
        )
        for row in (await self.uow.execute(owners)).mappings():
            found["owner"][row["owner_id"]] = int(row["leads"])
        return found

    async def member_names(self, ids: list[Any]) -> dict[Any, str]:
        if not ids:
            return {}
        statement = select(mb.c.id, mb.c.name).where(mb.c.workspace_id == self.workspace_id, mb.c.id.in_(ids))
        return {row.id: row.name for row in await self.uow.execute(statement)}

    async def sla(self, today_start: datetime, now: datetime, filters: ReportFilters) -> Row:
        """open_clocks: open leads pending a first response not yet due; breached_today: leads
        (not merged or archived) whose deadline fell in [today_start, now] unanswered by then."""
        pending = ld.c.sla_status == SlaStatus.PENDING.value
        due = ld.c.first_response_due_at
        open_lead = and_(ld.c.status.in_(OPEN_STATUSES), ld.c.archived_at.is_(None))
        breached = and_(
            ld.c.archived_at.is_(None),
            or_(ld.c.sla_status == SlaStatus.BREACHED.value, pending),
            due >= sql.at(today_start),
            due <= sql.at(now),
        )
        statement = select(
            _count(and_(pending, open_lead, or_(due.is_(None), due > sql.at(now)))).label("open_clocks"),
            _count(breached).label("breached_today"),
        ).where(
            ld.c.workspace_id == self.workspace_id,
            ld.c.merged_into_id.is_(None),
            *sql.lead_conditions(filters, self.workspace_id),
        )
        row = (await self.uow.execute(statement)).mappings().one()
        return {"open_clocks": int(row["open_clocks"]), "breached_today": int(row["breached_today"])}

    async def tasks(
        self, today_start: datetime, tomorrow_start: datetime, now: datetime, filters: ReportFilters
    ) -> Row:
        """Open tasks due within today (local day) and due before now; with a filter, only those
        bound to a lead it keeps."""
        statement = select(
            _count(and_(tk.c.due_at >= sql.at(today_start), tk.c.due_at < sql.at(tomorrow_start))).label("due_today"),
            _count(tk.c.due_at < sql.at(now)).label("overdue"),
        ).where(
            tk.c.workspace_id == self.workspace_id,
            tk.c.status == "open",
            *sql.through_lead(filters, self.workspace_id, tk.c.lead_id),
        )
        row = (await self.uow.execute(statement)).mappings().one()
        return {"due_today": int(row["due_today"]), "overdue": int(row["overdue"])}

    async def open_churn_alerts(self) -> int:
        statement = select(func.count()).where(alerts.c.workspace_id == self.workspace_id, alerts.c.outcome.is_(None))
        return int((await self.uow.execute(statement)).scalar_one())

    async def revenue(self, spans: list[tuple[datetime, datetime]]) -> list[int]:
        """Net revenue (reporting currency, minor units) of the purchases placed in each span
        [start, end): converted orders, refunds taken off (as the customer facts count it)."""
        net = o.c.reporting_total_minor - func.coalesce(o.c.reporting_refunded_minor, 0)
        columns = [
            cast(func.coalesce(func.sum(case(
                (and_(o.c.placed_at >= sql.at(start), o.c.placed_at < sql.at(end)), net), else_=0)), 0), BigInteger)
            .label(f"span{i}")
            for i, (start, end) in enumerate(spans)
        ]  # fmt: skip
        earliest = min(start for start, _ in spans)
        latest = max(end for _, end in spans)
        statement = select(*columns).where(
            o.c.workspace_id == self.workspace_id,
            o.c.status.in_(sorted(PURCHASES)),
            o.c.reporting_total_minor.is_not(None),
            o.c.placed_at >= sql.at(earliest),
            o.c.placed_at < sql.at(latest),
        )
        row = (await self.uow.execute(statement)).mappings().one()
        return [int(row[f"span{i}"]) for i in range(len(spans))]
