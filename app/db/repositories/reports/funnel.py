"""The funnel's counts and times, aggregated in the database.

Each lead's stage times (`facts`): `lead` its creation; `mql` and `sql` the first stage change to
that stage or a later one (a lead created at a stage: its creation); `opportunity` its
opportunity's creation; `won` that opportunity's close when won; `customer` its contact's
`customer_since` when at or after the lead's creation (a contact that was a customer before the lead
came is not a customer this lead made: the lead has no `customer` time, and the old purchase does
not carry it through `won`). A lead counts at a stage when it reached it or a later one: its time at stage k
is the first known of stage k's and the later stages' times (`reached`)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from app.db import tables
from app.db.repositories.base import TenantRepository
from app.db.repositories.reports import sql
from app.domain.reports.funnel import STAGES
from app.domain.reports.scope import ReportScope

ld, sc, op, ct = tables.leads, tables.lead_state_changes, tables.opportunities, tables.contacts
fs, cr = tables.form_submissions, tables.campaign_recipients
GROUPS = ("source", "owner", "team", "form", "campaign")


class FunnelRepository(TenantRepository[dict[str, Any]]):
    table = ld

    def _facts(self, scope: ReportScope, group_by: str | None, *, cohort: bool = False) -> Select[Any]:
        """Each lead's stage times. `cohort`: only leads created in the range are wanted, so only
        the stage changes from its start on are read (a lead changes stage after it is created)."""
        changes = [sc.c.workspace_id == self.workspace_id, sc.c.kind == "stage"]
        if cohort:
            changes.append(sc.c.occurred_at >= sql.at(scope.start))
        stages = (
            select(
                sc.c.lead_id,
                func.min(case((sc.c.to_value.in_(("mql", "sql")), sc.c.occurred_at))).label("mql_at"),
                func.min(case((sc.c.to_value == "sql", sc.c.occurred_at))).label("sql_at"),
            )
            .where(*changes)
            .group_by(sc.c.lead_id)
            .subquery("stage_times")
        )
        created_at = case((ld.c.stage.in_(("mql", "sql")), ld.c.created_at))
        times: dict[str, ColumnElement[Any]] = {
            "lead": ld.c.created_at,
            "mql": func.coalesce(stages.c.mql_at, created_at),
            "sql": func.coalesce(stages.c.sql_at, case((ld.c.stage == "sql", ld.c.created_at))),
            "opportunity": op.c.created_at,
            "won": case((op.c.stage == "won", op.c.closed_at)),
            # A returning customer's old first purchase is not this lead's: counting it would carry the
            # lead through every stage, `won` included, while its deal is still open.
            "customer": case((ct.c.customer_since >= ld.c.created_at, ct.c.customer_since)),
        }
        reached: dict[str, ColumnElement[Any]] = {
            stage: func.coalesce(*(times[later] for later in STAGES[index:])) if index < len(STAGES) - 1
            else times[stage]
            for index, stage in enumerate(STAGES)
        }  # fmt: skip
        reached["lead"] = ld.c.created_at
        columns: list[Any] = [ld.c.id.label("lead_id"), *(reached[s].label(f"{s}_at") for s in STAGES)]
        group: ColumnElement[Any] | None = None
        source = (
            ld.outerjoin(stages, stages.c.lead_id == ld.c.id)
            .outerjoin(op, and_(op.c.workspace_id == ld.c.workspace_id, op.c.id == ld.c.opportunity_id))
            .outerjoin(ct, and_(ct.c.workspace_id == ld.c.workspace_id, ct.c.id == ld.c.contact_id))
        )
        if group_by == "source":
            group = ld.c.source
        elif group_by == "owner":
            group = ld.c.owner_id
        elif group_by == "team":
            group = ld.c.team_id
        elif group_by == "form":  # each form the lead submitted (once, however often)
            forms = (
                select(fs.c.lead_id, fs.c.form_id)
                .where(fs.c.workspace_id == self.workspace_id, fs.c.lead_id.is_not(None), fs.c.spam.is_(False))
                .distinct()
                .subquery("lead_forms")
            )
            source = source.join(forms, forms.c.lead_id == ld.c.id)
            group = forms.c.form_id
        elif group_by == "campaign":  # each campaign that messaged the lead
            source = source.join(
                cr,
                and_(cr.c.workspace_id == ld.c.workspace_id, cr.c.person_id == ld.c.id, cr.c.status == "messaged"),
            )
            group = cr.c.campaign_id
        if group is not None:
            columns.append(group.label("group_key"))
        else:
            columns.append(literal(None).label("group_key"))
        return (
            select(*columns)
            .select_from(source)
            .where(
                ld.c.workspace_id == self.workspace_id,
                ld.c.merged_into_id.is_(None),
                *sql.lead_conditions(scope.filters, self.workspace_id),
            )
        )

    def _ranged(self, scope: ReportScope, mode: str, group_by: str | None) -> Select[Any]:
        """The facts of the leads a mode reports on: cohort, the leads created in the range; activity,
        the leads with a stage reached in the range."""
        facts = self._facts(scope, group_by, cohort=mode == "cohort")
        if mode == "cohort":
            return facts.where(ld.c.created_at >= sql.at(scope.start), ld.c.created_at < sql.at(scope.end))
        columns = facts.selected_columns
        return facts.where(or_(*(and_(columns[f"{s}_at"] >= sql.at(scope.start),
                                      columns[f"{s}_at"] < sql.at(scope.end)) for s in STAGES)))  # fmt: skip

    def _counted(self, f: Any, scope: ReportScope, mode: str) -> list[Select[Any]]:
        """Selects of (stage, group_key, period, leads) over the facts `f`: how many leads counted at
        each stage, per group and period. Cohort: by the period of their creation; activity: by the
        period they reached each stage."""
        bounds = scope.bounds()
        if mode == "cohort":
            period = sql.bucket(f.c.lead_at, bounds).label("period")
            wide = (
                select(f.c.group_key, period, *(func.count(f.c[f"{s}_at"]).label(s) for s in STAGES))
                .group_by(f.c.group_key, period)
                .cte("cohorts")  # one read of the facts for the six stages
            )
            return [select(literal(s).label("stage"), wide.c.group_key, wide.c.period, wide.c[s].label("leads"))
                    for s in STAGES]  # fmt: skip
        parts = [
            select(literal(s).label("stage"), f.c.group_key, sql.bucket(f.c[f"{s}_at"], bounds).label("period")).where(
                f.c[f"{s}_at"] >= sql.at(scope.start), f.c[f"{s}_at"] < sql.at(scope.end)
            )
            for s in STAGES
        ]
        u = union_all(*parts).subquery("reached")
        return [select(u.c.stage, u.c.group_key, u.c.period, func.count().label("leads"))
                .group_by(u.c.stage, u.c.group_key, u.c.period)]  # fmt: skip

    async def counts(self, scope: ReportScope, mode: str, group_by: str | None) -> list[dict[str, Any]]:
        """Rows of (stage, group_key, period, leads) per group (see `_counted`)."""
        await self.uow.analytic()
        f = self._ranged(scope, mode, group_by).cte("facts")  # read once by every stage's branch
        u = union_all(*self._counted(f, scope, mode)).subquery("counted")
        return [{**dict(r), "leads": int(r["leads"])} for r in (await self.uow.execute(select(u))).mappings()]

    async def summary(
        self, scope: ReportScope, mode: str, fractions: Sequence[float]
    ) -> tuple[list[dict[str, Any]], dict[str, dict[float, float]]]:
        """The ungrouped funnel in one statement, its leads' facts read once: the count rows (as
        `counts`) and, per stage after the first, the percentiles of the seconds from the previous
        stage to it over the leads with both times (cohort: created in the range; activity: reached
        it in the range)."""
        await self.uow.analytic()
        dialect = str((await self.uow.connection()).dialect.name)
        f = self._ranged(scope, mode, None).cte("facts")  # referenced twice: computed once
        gaps = []
        for previous, stage in pairwise(STAGES):
            later, earlier = f.c[f"{stage}_at"], f.c[f"{previous}_at"]
            conditions = [later.is_not(None), earlier.is_not(None), later >= earlier]
            if mode != "cohort":
                conditions += [later >= sql.at(scope.start), later < sql.at(scope.end)]
            gaps.append(
                select(
                    literal(stage).label("stage"), sql.seconds_between(later, earlier, dialect).label("seconds")
                ).where(*conditions)
            )
        u = union_all(*gaps).subquery("gaps")
        ranked = select(u.c.stage, u.c.seconds, *sql.ranked(u.c.seconds, [u.c.stage])).subquery("ranked")
        none_float = cast(null(), Float)
        timed = select(
            literal("gap").label("kind"), ranked.c.stage, cast(null(), Integer).label("period"),
            cast(null(), Integer).label("leads"),
            *(sql.pick(ranked.c.rank, ranked.c.n, ranked.c.seconds, q).label(f"q{i}") for i, q in enumerate(fractions)),
        ).group_by(ranked.c.stage)  # fmt: skip
        counted = [
            select(literal("count").label("kind"), c.c.stage, c.c.period, c.c.leads,
                   *(none_float.label(f"q{i}") for i in range(len(fractions))))
            for c in (part.subquery() for part in self._counted(f, scope, mode))
        ]  # fmt: skip
        rows: list[dict[str, Any]] = []
        found: dict[str, dict[float, float]] = {}
        for row in (await self.uow.execute(union_all(timed, *counted))).mappings():
            if row["kind"] == "count":
                rows.append({"stage": row["stage"], "group_key": None, "period": row["period"],
                             "leads": int(row["leads"])})  # fmt: skip
            else:
                # To the millisecond: SQLite's julianday arithmetic is off by some microseconds (an
                # hour apart reads 3600.0000134), PostgreSQL's is exact; both then answer the same.
                found[row["stage"]] = {q: round(float(row[f"q{i}"]), 3) for i, q in enumerate(fractions)
                                       if row[f"q{i}"] is not None}  # fmt: skip
        return rows, found

    async def names(self, group_by: str, keys: Sequence[Any]) -> dict[Any, str]:
        """Names for group keys that are ids: members, teams, forms, campaigns."""
        table = {"owner": tables.members, "team": tables.teams, "form": tables.forms,
                 "campaign": tables.campaigns}.get(group_by)  # fmt: skip
        ids = [k for k in keys if isinstance(k, UUID)]
        if table is None or not ids:
            return {}
        statement = select(table.c.id, table.c.name).where(table.c.workspace_id == self.workspace_id,
                                                          table.c.id.in_(ids))  # fmt: skip
        return {row.id: row.name for row in await self.uow.execute(statement)}
