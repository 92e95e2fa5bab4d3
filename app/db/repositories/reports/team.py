"""The team report's figures per member, aggregated in the database.

- leads assigned: the leads assigned to the member in the range, from the assignment history
  (`lead_assignments.to_member_id`, any reason: rule, hot lead, manual, SLA escalation; merged
  leads set aside), each lead once per member, in the period of its first assignment to them;
- first response and SLA: over those leads, except the ones the member only got by an SLA
  escalation (their clock had run out with the previous owner): the nearest-rank percentiles of
  `leads.first_response_seconds`, and how many have `sla_status` met and breached;
- activities: logged with `member_id` the member, `occurred_at` in the range, per type;
- tasks done: assigned to the member, completed in the range; overdue: open with `due_at` before now;
- leads qualified: owned by the member, `qualified_at` in the range (merged leads set aside);
- opportunities won: owned by the member, closed won in the range (archived ones set aside), their
  amounts in the reporting currency summed, those in another one summed per currency and local day
  of closing (the service converts them at that day's rate).

The lead-only filters (source, form, utm_campaign, campaign) keep the leads assigned and qualified
by their own values; opportunities by their originating lead's, activities and tasks by the lead
they are bound to (`lead_id`): with one given, those bound to no lead are left out. The members
(`owner_id`, `team_id`) are the rows, chosen by the service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Float, Integer, and_, case, cast, func, literal, null, select, union_all

from app.db import tables
from app.db.repositories.base import TenantRepository
from app.db.repositories.reports import sql
from app.domain.reports.scope import ReportScope

mb, asg, ld = tables.members, tables.lead_assignments, tables.leads
act, tk, op = tables.activities, tables.tasks, tables.opportunities
ESCALATION = "sla_escalation"


def _whose(column: Any, members: Sequence[UUID] | None) -> ColumnElement[bool]:
    return column.in_(list(members)) if members is not None else column.is_not(None)


class TeamReportRepository(TenantRepository[dict[str, Any]]):
    table = mb

    def _in_range(self, column: Any, scope: ReportScope) -> list[ColumnElement[bool]]:
        return [column >= sql.at(scope.start), column < sql.at(scope.end)]

    async def members(self, member_ids: Sequence[UUID] | None) -> list[dict[str, Any]]:
        """id, name and active of these members (None: all of the workspace's)."""
        statement = select(mb.c.id, mb.c.name, mb.c.active).where(mb.c.workspace_id == self.workspace_id)
        if member_ids is not None:
            statement = statement.where(mb.c.id.in_(list(member_ids)))
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    def _lead_only(self, scope: ReportScope) -> list[ColumnElement[bool]]:
        """The lead-only filters on the lead itself (the leads table in the statement)."""
        return sql.lead_conditions(scope.filters.of_lead(), self.workspace_id)

    def _bound(self, scope: ReportScope, lead_id: Any) -> list[ColumnElement[bool]]:
        """The lead-only filters through the lead a row is bound to (none: left out when given)."""
        return sql.through_lead(scope.filters.of_lead(), self.workspace_id, lead_id)

    def _assigned(self, scope: ReportScope, members: Sequence[UUID] | None) -> Any:
        """Per (member, lead) assigned in the range: the first assignment's time, whether any came
        other than by escalation, and the lead's first-response seconds and SLA status."""
        return (
            select(
                asg.c.to_member_id.label("member_id"),
                asg.c.lead_id,
                func.min(asg.c.assigned_at).label("first_at"),
                func.max(case((asg.c.reason != ESCALATION, 1), else_=0)).label("answerable"),
                func.max(ld.c.first_response_seconds).label("seconds"),
                func.max(ld.c.sla_status).label("sla_status"),
            )
            .select_from(asg.join(ld, and_(ld.c.workspace_id == asg.c.workspace_id, ld.c.id == asg.c.lead_id)))
            .where(
                asg.c.workspace_id == self.workspace_id,
                _whose(asg.c.to_member_id, members),
                ld.c.merged_into_id.is_(None),
                *self._in_range(asg.c.assigned_at, scope),
                *self._lead_only(scope),
            )
            .group_by(asg.c.to_member_id, asg.c.lead_id)
        )

    async def period_counts(
        self, scope: ReportScope, members: Sequence[UUID] | None, currency: str
    ) -> list[dict[str, Any]]:
        """Rows of figure, member_id, period, count (and for the opportunities won amount_minor,
        fx_currency, fx_day: the amounts in `currency` summed in the row without `fx_currency`,
        those in another one per currency and local day of closing): leads_qualified,
        opportunities_won, tasks_done."""
        await self.uow.analytic()
        dialect = str((await self.uow.connection()).dialect.name)
        bounds = scope.bounds()
        found: list[dict[str, Any]] = []

        async def collect(figure: str, statement: Any) -> None:
            for r in (await self.uow.execute(statement)).mappings():
                found.append({"figure": figure, "member_id": r["member_id"], "period": r["period"],
                              "count": int(r["count"]), "amount_minor": int(r.get("amount_minor") or 0),
                              "fx_currency": r.get("fx_currency"), "fx_day": sql.as_date(r.get("fx_day"))})  # fmt: skip

        period = sql.bucket(ld.c.qualified_at, bounds).label("period")
        await collect(
            "leads_qualified",
            select(ld.c.owner_id.label("member_id"), period, func.count().label("count"))
            .where(
                ld.c.workspace_id == self.workspace_id,
                _whose(ld.c.owner_id, members),
                ld.c.merged_into_id.is_(None),
                *self._in_range(ld.c.qualified_at, scope),
                *self._lead_only(scope),
            )
            .group_by(ld.c.owner_id, period),
        )
        period = sql.bucket(op.c.closed_at, bounds).label("period")
        foreign = and_(op.c.currency != currency, op.c.amount_minor.is_not(None))
        day = sql.local_day(op.c.closed_at, scope.calendar.timezone, scope.start, scope.end, dialect)
        fx_currency = case((foreign, op.c.currency), else_=None).label("fx_currency")
        fx_day = case((foreign, day), else_=None).label("fx_day")
        await collect(
            "opportunities_won",
            select(
                op.c.owner_id.label("member_id"),
                period,
                fx_currency,
                fx_day,
                func.count().label("count"),
                func.coalesce(func.sum(op.c.amount_minor), 0).label("amount_minor"),
            )
            .where(
                op.c.workspace_id == self.workspace_id,
                _whose(op.c.owner_id, members),
                op.c.stage == "won",
                op.c.archived_at.is_(None),
                *self._in_range(op.c.closed_at, scope),
                *self._bound(scope, op.c.lead_id),
            )
            .group_by(op.c.owner_id, period, fx_currency, fx_day),
        )
        period = sql.bucket(tk.c.completed_at, bounds).label("period")
        await collect(
            "tasks_done",
            select(tk.c.assignee_id.label("member_id"), period, func.count().label("count"))
            .where(
                tk.c.workspace_id == self.workspace_id,
                _whose(tk.c.assignee_id, members),
                tk.c.status == "completed",
                *self._in_range(tk.c.completed_at, scope),
                *self._bound(scope, tk.c.lead_id),
            )
            .group_by(tk.c.assignee_id, period),
        )
        return found

    async def assignments(
        self, scope: ReportScope, members: Sequence[UUID] | None, fractions: Sequence[float]
    ) -> tuple[list[dict[str, Any]], dict[UUID, dict[str, Any]]]:
        """From the leads assigned in the range, read once: the `leads_assigned` rows of
        `period_counts`' shape, and per member `met`, `breached` and the first-response seconds'
        percentiles (`q0`, `q1`... in the order of `fractions`) of those not got by escalation."""
        await self.uow.analytic()
        a = self._assigned(scope, members).cte("assigned")  # referenced twice: computed once
        # The SLA counts and the percentiles of the leads answered, in one pass (ranked among the
        # member's non-null times: nulls ordered last on both databases).
        order = [a.c.seconds.is_(None), a.c.seconds]
        ranked = (
            select(
                a.c.member_id,
                a.c.seconds,
                a.c.sla_status,
                func.row_number().over(partition_by=a.c.member_id, order_by=order).label("rank"),
                func.count(a.c.seconds).over(partition_by=a.c.member_id).label("n"),
            )
            .where(a.c.answerable == 1)
            .subquery("ranked")
        )
        answered = select(
            literal("answered").label("kind"),
            ranked.c.member_id,
            cast(null(), Integer).label("period"),
            func.count(case((ranked.c.sla_status == "met", 1), else_=None)).label("met"),
            func.count(case((ranked.c.sla_status == "breached", 1), else_=None)).label("breached"),
            *(sql.pick(ranked.c.rank, ranked.c.n, ranked.c.seconds, q).label(f"q{i}") for i, q in enumerate(fractions)),
        ).group_by(ranked.c.member_id)
        period = sql.bucket(a.c.first_at, scope.bounds())
        assigned = select(
            literal("assigned").label("kind"),
            a.c.member_id,
            period.label("period"),
            func.count().label("met"),  # the count, in the union's first figure column
            cast(null(), Integer).label("breached"),
            *(cast(null(), Float).label(f"q{i}") for i in range(len(fractions))),
        ).group_by(a.c.member_id, period)
        counted: list[dict[str, Any]] = []
        found: dict[UUID, dict[str, Any]] = {}
        for row in (await self.uow.execute(union_all(answered, assigned))).mappings():
            if row["kind"] == "assigned":
                counted.append({"figure": "leads_assigned", "member_id": row["member_id"], "period": row["period"],
                                "count": int(row["met"]), "amount_minor": 0, "other_currency": 0})  # fmt: skip
                continue
            entry = found.setdefault(row["member_id"], {"met": int(row["met"]), "breached": int(row["breached"])})
            for i in range(len(fractions)):
                entry[f"q{i}"] = float(row[f"q{i}"]) if row[f"q{i}"] is not None else None
        return counted, found

    async def activities(self, scope: ReportScope, members: Sequence[UUID] | None) -> list[dict[str, Any]]:
        """Rows of member_id, type, period, count: the activities they logged in the range."""
        await self.uow.analytic()
        period = sql.bucket(act.c.occurred_at, scope.bounds()).label("period")
        statement = (
            select(act.c.member_id, act.c.type, period, func.count().label("count"))
            .where(
                act.c.workspace_id == self.workspace_id,
                _whose(act.c.member_id, members),
                *self._in_range(act.c.occurred_at, scope),
                *self._bound(scope, act.c.lead_id),
            )
            .group_by(act.c.member_id, act.c.type, period)
        )
        return [{**dict(r), "count": int(r["count"])} for r in (await self.uow.execute(statement)).mappings()]

    async def overdue(self, scope: ReportScope, now: datetime, members: Sequence[UUID] | None) -> dict[UUID, int]:
        """Per member: their open tasks due before `now` (whatever the range; the lead-only filters
        through the task's lead)."""
        statement = (
            select(tk.c.assignee_id, func.count().label("count"))
            .where(
                tk.c.workspace_id == self.workspace_id,
                _whose(tk.c.assignee_id, members),
                tk.c.status == "open",
                tk.c.due_at < sql.at(now),
                *self._bound(scope, tk.c.lead_id),
            )
            .group_by(tk.c.assignee_id)
        )
        return {r.assignee_id: int(r.count) for r in await self.uow.execute(statement)}
