"""Exchange rates of one workspace: a currency into a quote currency, per day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, select

from app.db import tables
from app.db.repositories.base import RecordRepository, Row, SortKey, datetime_key

xr = tables.exchange_rates


class ExchangeRateRepository(RecordRepository):
    table = xr
    sortable = {"created_at": datetime_key(xr.c.created_at), "effective_on": SortKey(
        xr.c.effective_on, lambda v: v.isoformat(), lambda v: date.fromisoformat(v))}  # fmt: skip

    async def find(self, currency: str, quote: str, effective_on: date) -> Row | None:
        statement = select(xr).where(
            self.scope, xr.c.currency == currency, xr.c.quote_currency == quote, xr.c.effective_on == effective_on
        )
        return await self._one(statement)

    async def between(self, currencies: Sequence[str], quote: str, first_day: date, last_day: date) -> list[Row]:
        """The rates into `quote` of these currencies dated in [first_day, last_day], by date."""
        if not currencies:
            return []
        statement = (
            select(xr.c.currency, xr.c.effective_on, xr.c.rate)
            .where(
                self.scope,
                xr.c.currency.in_(list(currencies)),
                xr.c.quote_currency == quote,
                and_(xr.c.effective_on >= first_day, xr.c.effective_on <= last_day),
            )
            .order_by(xr.c.currency, xr.c.effective_on)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]
