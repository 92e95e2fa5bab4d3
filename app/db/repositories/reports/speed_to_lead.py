"""The speed-to-lead report's figures, aggregated in the database: per group (or overall) the leads
the SLA applied to that were captured in the range, how many were answered and how fast (nearest-
rank percentiles of `first_response_seconds`, working seconds), the SLA outcomes, the response
buckets and, per bucket, how many converted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, select, true

from app.db import tables
from app.db.repositories.base import TenantRepository
from app.db.repositories.reports import sql
from app.domain.leads.sla import BUCKETS
from app.domain.reports.scope import ReportFilters

ld, op, ct = tables.leads, tables.opportunities, tables.contacts
GROUPS = {"owner": ld.c.owner_id, "team": ld.c.team_id, "source": ld.c.source}
NEVER = "never"


class SpeedToLeadRepository(TenantRepository[dict[str, Any]]):
    table = ld

    async def figures(
        self,
        start: datetime | None,
        end: datetime | None,
        filters: ReportFilters,
        group_by: str | None,
        conversion: str | None,
        fractions: Sequence[float],
    ) -> list[dict[str, Any]]:
        """One row per group key (a single row keyed None without `group_by`): leads, responded,
        met, breached, pending, `bucket_<name>` and `converted_<name>` per response bucket, and the
        percentiles `q0`, `q1`... of the answered leads' seconds in the order of `fractions`.
        Captured: `start <= created_at < end` (either bound may be None). `conversion`: qualified
        (status), won (the lead's opportunity won) or customer (its contact bought)."""
        await self.uow.analytic()
        source: Any = ld
        converted: ColumnElement[Any] = literal(False)
        if conversion == "won":
            source = ld.outerjoin(op, and_(op.c.workspace_id == ld.c.workspace_id, op.c.id == ld.c.opportunity_id))
            converted = func.coalesce(op.c.stage == "won", false())
        elif conversion == "customer":
            source = ld.outerjoin(ct, and_(ct.c.workspace_id == ld.c.workspace_id, ct.c.id == ld.c.contact_id))
            converted = ct.c.customer_since.is_not(None)
        elif conversion == "qualified":
            converted = ld.c.status == "qualified"
        seconds = case((ld.c.first_responded_at.is_not(None), ld.c.first_response_seconds), else_=None)
        bucket = case(
            *((seconds < upper, literal(name)) for name, upper in BUCKETS[:-1]),
            (seconds.is_not(None), literal(BUCKETS[-1][0])),
            else_=literal(NEVER),
        )
        key = GROUPS[group_by] if group_by is not None else literal(None)
        conditions = [
            ld.c.workspace_id == self.workspace_id,
            ld.c.sla_status != "not_applicable",
            ld.c.merged_into_id.is_(None),
            *sql.lead_conditions(filters, self.workspace_id),
        ]
        if start is not None:
            conditions.append(ld.c.created_at >= sql.at(start))
        if end is not None:
            conditions.append(ld.c.created_at < sql.at(end))
        facts = (
            select(key.label("key"), ld.c.sla_status, seconds.label("seconds"), bucket.label("bucket"),
                   converted.label("converted"))
            .select_from(source)
            .where(*conditions)
            .subquery("facts")
        )  # fmt: skip
        f = facts.c
        order = [f.seconds.is_(None), f.seconds]  # answered first, fastest first, on both databases
        ranked = select(
            facts,
            func.row_number().over(partition_by=f.key, order_by=order).label("rank"),
            func.count(f.seconds).over(partition_by=f.key).label("n"),
        ).subquery("ranked")
        r = ranked.c

        def counted(condition: ColumnElement[bool]) -> ColumnElement[Any]:
            return func.count(case((condition, 1), else_=None))

        names = [name for name, _ in BUCKETS] + [NEVER]
        statement = select(
            r.key,
            func.count().label("leads"),
            func.count(r.seconds).label("responded"),
            counted(r.sla_status == "met").label("met"),
            counted(r.sla_status == "breached").label("breached"),
            counted(r.sla_status == "pending").label("pending"),
            *(counted(r.bucket == name).label(f"bucket_{name}") for name in names),
            *(counted(and_(r.bucket == name, r.converted.is_(true()))).label(f"converted_{name}") for name in names),
            *(sql.pick(r.rank, r.n, r.seconds, q).label(f"q{i}") for i, q in enumerate(fractions)),
        ).group_by(r.key)
        return [dict(row) for row in (await self.uow.execute(statement)).mappings()]
