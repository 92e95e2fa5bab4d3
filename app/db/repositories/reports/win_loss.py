"""Win/loss counts and amounts, aggregated in the database.

The closed outcomes of the range (`units`): opportunities won or lost whose `closed_at` is in it
(archived ones set aside, as the lists do), with their close reason, owner and their lead's source
(`opportunities.lead_id` → `leads.source`; none without a lead), and leads disqualified in it
(`disqualified_at`; merged leads set aside) with their reason, owner and source. Each dimension is
one grouped query over them; amounts in another currency than the reporting one come back summed
per currency and local day of closing, for the service to convert at that day's rate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)

from app.db import tables
from app.db.repositories.base import TenantRepository
from app.db.repositories.reports import sql
from app.domain.reports.scope import ReportScope

op, ld, mb = tables.opportunities, tables.leads, tables.members


class WinLossRepository(TenantRepository[dict[str, Any]]):
    table = op

    def _units(self, scope: ReportScope, currency: str, owners: Sequence[UUID] | None, dialect: str) -> Subquery:
        """Every closed outcome of the range: outcome, reason, owner_id, source, period (index),
        amount_minor (in the deal's currency; null: none), and for an amount in another currency
        than `currency` that currency (`fx_currency`) and the local day it closed (`fx_day`).
        `owners`: only the deals theirs (None: anyone's). The filters: an opportunity's lead-only
        ones through its lead (none without a lead); a disqualified lead's every one on itself
        (owner, team, source...) as the funnel applies them."""
        filters = scope.filters
        bounds = scope.bounds()
        start, end = sql.at(scope.start), sql.at(scope.end)
        foreign = and_(op.c.currency != currency, op.c.amount_minor.is_not(None))
        day = sql.local_day(op.c.closed_at, scope.calendar.timezone, scope.start, scope.end, dialect)
        deal_filters: list[ColumnElement[bool]] = []
        if owners is not None:
            deal_filters.append(op.c.owner_id.in_(list(owners)))
        # An opportunity without a lead has none of its lead's values: never kept by them.
        deal_filters += sql.lead_conditions(filters.of_lead(), self.workspace_id)
        deals = (
            select(
                op.c.stage.label("outcome"),
                op.c.close_reason.label("reason"),
                op.c.owner_id.label("owner_id"),
                ld.c.source.label("source"),
                sql.bucket(op.c.closed_at, bounds).label("period"),
                op.c.amount_minor.label("amount_minor"),
                case((foreign, op.c.currency), else_=None).label("fx_currency"),
                case((foreign, day), else_=None).label("fx_day"),
            )
            .select_from(op.outerjoin(ld, and_(ld.c.workspace_id == op.c.workspace_id, ld.c.id == op.c.lead_id)))
            .where(
                op.c.workspace_id == self.workspace_id,
                op.c.stage.in_(("won", "lost")),
                op.c.archived_at.is_(None),
                op.c.closed_at >= start,
                op.c.closed_at < end,
                *deal_filters,
            )
        )
        dropped = select(
            literal("disqualified").label("outcome"),
            ld.c.disqualification_reason.label("reason"),
            ld.c.owner_id.label("owner_id"),
            ld.c.source.label("source"),
            sql.bucket(ld.c.disqualified_at, bounds).label("period"),
            cast(null(), BigInteger).label("amount_minor"),
            cast(null(), String).label("fx_currency"),
            null().label("fx_day"),
        ).where(
            ld.c.workspace_id == self.workspace_id,
            ld.c.merged_into_id.is_(None),
            ld.c.disqualified_at >= start,
            ld.c.disqualified_at < end,
            *sql.lead_conditions(filters, self.workspace_id),
        )
        return union_all(deals, dropped).subquery("units")

    async def counts(
        self, scope: ReportScope, currency: str, owners: Sequence[UUID] | None
    ) -> dict[str, list[dict[str, Any]]]:
        """Per dimension (reason, owner, source, period): rows of outcome, key, count, amount_minor
        and fx_currency, fx_day: the amounts in `currency` summed (no amount: 0) in the row without
        `fx_currency`, those in another currency summed per currency and local day of closing."""
        await self.uow.analytic()
        dialect = str((await self.uow.connection()).dialect.name)
        u = self._units(scope, currency, owners, dialect)
        keys = {"reason": u.c.reason, "owner": u.c.owner_id, "source": u.c.source, "period": u.c.period}
        found: dict[str, list[dict[str, Any]]] = {}
        for dimension, key in keys.items():
            statement = select(
                u.c.outcome,
                key.label("key"),
                u.c.fx_currency,
                u.c.fx_day,
                func.count().label("count"),
                func.coalesce(func.sum(u.c.amount_minor), 0).label("amount_minor"),
            ).group_by(u.c.outcome, key, u.c.fx_currency, u.c.fx_day)
            found[dimension] = [
                {"outcome": r.outcome, "key": r.key, "count": int(r.count), "amount_minor": int(r.amount_minor),
                 "fx_currency": r.fx_currency, "fx_day": sql.as_date(r.fx_day)}
                for r in await self.uow.execute(statement)
            ]  # fmt: skip
        return found

    async def names(self, member_ids: Sequence[Any]) -> dict[Any, str]:
        """The members' names."""
        ids = [k for k in member_ids if isinstance(k, UUID)]
        if not ids:
            return {}
        statement = select(mb.c.id, mb.c.name).where(mb.c.workspace_id == self.workspace_id, mb.c.id.in_(ids))
        return {row.id: row.name for row in await self.uow.execute(statement)}
