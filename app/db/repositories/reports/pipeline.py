"""The pipeline report's reads: the open opportunities (grouped by what the forecast needs of them)
and, per open stage, how many closed opportunities were ever at it and how many of those were won.

Stage history is in the event log only (`opportunity.created` records `data.stage`,
`opportunity.updated` the stage after in `data.stage` and, when it changed, the one before in
`previous_attributes.stage`): the stage is read out of each document in SQL (`->>` on PostgreSQL,
`json_extract` on SQLite) and counted there, once per (opportunity, stage). The documents themselves
are never compared (PostgreSQL's `json` has no equality). A redacted event has no stage: it counts
nowhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, String, case, cast, func, literal, select, type_coerce, union

from app.db import tables
from app.db.repositories.base import TenantRepository
from app.db.repositories.reports import sql
from app.domain.customers.opportunities import CLOSED, OpportunityStage
from app.domain.reports.scope import ReportFilters

op, ev = tables.opportunities, tables.events
CLOSED_STAGES = tuple(sorted(s.value for s in CLOSED))
OPPORTUNITY_EVENTS = ("opportunity.created", "opportunity.updated")


def uuid_text(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """A UUID column as the text an event's `resource_id` holds (lowercase, hyphenated). SQLite
    stores a UUID as 32 hex digits: the hyphens are put in, so the join can use the events' index
    on (workspace_id, resource_id)."""
    if dialect == "postgresql":
        return cast(column, String)
    raw = type_coerce(column, String)
    parts = [func.substr(raw, start, length) for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
    joined: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        joined = joined.concat("-").concat(part)
    return func.lower(joined)


class PipelineRepository(TenantRepository[dict[str, Any]]):
    table = op

    def _open(
        self, owners: Sequence[UUID] | None, filters: ReportFilters, account_id: UUID | None, kind: str | None
    ) -> list[ColumnElement[bool]]:
        found = [op.c.workspace_id == self.workspace_id, op.c.stage.not_in(CLOSED_STAGES), op.c.archived_at.is_(None)]
        if owners is not None:
            found.append(op.c.owner_id.in_(list(owners)))
        found += sql.through_lead(filters.of_lead(), self.workspace_id, op.c.lead_id)
        if account_id is not None:
            found.append(op.c.account_id == account_id)
        if kind is not None:
            found.append(op.c.type == kind)
        return found

    async def open_deals(
        self,
        *,
        owners: Sequence[UUID] | None = None,
        filters: ReportFilters | None = None,
        account_id: UUID | None = None,
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """The open opportunities (not won or lost, not archived) the filters keep, as rows of
        (stage, probability, amount_minor, currency, expected_close_date, deals): those alike in all
        five are one row with their number. The forecast draws each one, so each is needed.
        `owners`: only theirs (None: anyone's); the lead-only `filters` through the originating
        lead (a deal without one never kept by them)."""
        columns = (op.c.stage, op.c.probability, op.c.amount_minor, op.c.currency, op.c.expected_close_date)
        statement = (
            select(*columns, func.count().label("deals"))
            .where(*self._open(owners, filters or ReportFilters(), account_id, kind))
            .group_by(*columns)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def stage_history(self, stages: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per open stage: (closed, won) over the live won or lost opportunities that were ever at
        it (created at it, moved to it or from it), each opportunity counted once per stage."""
        dialect = await self._dialect()
        closed = (
            select(uuid_text(op.c.id, dialect).label("resource_id"), op.c.stage.label("outcome"))
            .where(op.c.workspace_id == self.workspace_id, op.c.stage.in_(CLOSED_STAGES), op.c.archived_at.is_(None))
            .subquery("closed")
        )

        def seen(document: Any, types: Sequence[str]) -> Any:
            return (
                select(
                    ev.c.resource_id.label("resource_id"),
                    document["stage"].as_string().label("stage"),
                    closed.c.outcome,
                )
                .select_from(ev)
                .join(closed, ev.c.resource_id == closed.c.resource_id)
                .where(ev.c.workspace_id == self.workspace_id, ev.c.type.in_(list(types)))
            )

        # UNION (not ALL): one row per opportunity and stage, however often it was there.
        at_stage = union(
            seen(ev.c.data, OPPORTUNITY_EVENTS), seen(ev.c.previous_attributes, ("opportunity.updated",))
        ).subquery("at_stage")
        won = case((at_stage.c.outcome == OpportunityStage.WON.value, literal(1)), else_=literal(0))
        statement = (
            select(at_stage.c.stage, func.count().label("closed"), func.sum(won).label("won"))
            .where(at_stage.c.stage.in_(list(stages)))
            .group_by(at_stage.c.stage)
        )
        return {row.stage: (int(row.closed), int(row.won or 0)) for row in await self.uow.execute(statement)}
