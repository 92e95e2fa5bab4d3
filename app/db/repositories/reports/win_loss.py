"""Win/loss counts and amounts, aggregated in the database.

The closed outcomes of the range (`units`): opportunities won or lost whose `closed_at` is in it
(archived ones set aside, as the lists do), with their close reason, owner and their lead's source
(`opportunities.lead_id` → `leads.source`; none without a lead), and leads disqualified in it
(`disqualified_at`; merged leads set aside) with their reason, owner and source. Each dimension is
one grouped query over them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, ColumnElement, Subquery, and_, case, cast, func, literal, null, select, union_all

from app.db import tables
from app.db.repositories.base import TenantRepository
from app.db.repositories.reports import sql
from app.domain.reports.scope import ReportScope

op, ld, mb = tables.opportunities, tables.leads, tables.members


class WinLossRepository(TenantRepository[dict[str, Any]]):
    table = op

    def _units(self, scope: ReportScope, currency: str, owners: Sequence[UUID] | None, source: str | None) -> Subquery:
        """Every closed outcome of the range: outcome, reason, owner_id, source, period (index),
        amount_minor (in `currency`, else null) and other_currency (1: an amount in another one).
        `owners`: only theirs (None: anyone's)."""
        bounds = scope.bounds()
        start, end = sql.at(scope.start), sql.at(scope.end)
        priced = op.c.currency == currency
        deal_filters: list[ColumnElement[bool]] = []
        lead_filters: list[ColumnElement[bool]] = []
        if owners is not None:
            deal_filters.append(op.c.owner_id.in_(list(owners)))
            lead_filters.append(ld.c.owner_id.in_(list(owners)))
        if source is not None:  # an opportunity without a lead has no source: never kept
            deal_filters.append(ld.c.source == source)
            lead_filters.append(ld.c.source == source)
        deals = (
            select(
                op.c.stage.label("outcome"),
                op.c.close_reason.label("reason"),
                op.c.owner_id.label("owner_id"),
                ld.c.source.label("source"),
                sql.bucket(op.c.closed_at, bounds).label("period"),
                case((priced, op.c.amount_minor), else_=None).label("amount_minor"),
                case((and_(~priced, op.c.amount_minor.is_not(None)), 1), else_=0).label("other_currency"),
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
            literal(0).label("other_currency"),
        ).where(
            ld.c.workspace_id == self.workspace_id,
            ld.c.merged_into_id.is_(None),
            ld.c.disqualified_at >= start,
            ld.c.disqualified_at < end,
            *lead_filters,
        )
        return union_all(deals, dropped).subquery("units")

    async def counts(
        self, scope: ReportScope, currency: str, owners: Sequence[UUID] | None, source: str | None
    ) -> dict[str, list[dict[str, Any]]]:
        """Per dimension (reason, owner, source, period): rows of outcome, key, count, amount_minor
        and other_currency."""
        await self.uow.analytic()
        u = self._units(scope, currency, owners, source)
        keys = {"reason": u.c.reason, "owner": u.c.owner_id, "source": u.c.source, "period": u.c.period}
        found: dict[str, list[dict[str, Any]]] = {}
        for dimension, key in keys.items():
            statement = select(
                u.c.outcome,
                key.label("key"),
                func.count().label("count"),
                func.coalesce(func.sum(u.c.amount_minor), 0).label("amount_minor"),
                func.coalesce(func.sum(u.c.other_currency), 0).label("other_currency"),
            ).group_by(u.c.outcome, key)
            found[dimension] = [
                {"outcome": r.outcome, "key": r.key, "count": int(r.count), "amount_minor": int(r.amount_minor),
                 "other_currency": int(r.other_currency)}
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
