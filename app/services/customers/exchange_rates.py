"""Exchange rates by date into the workspace's reporting currency; a new rate converts the orders
that were waiting for it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.errors import InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.customers.orders import ExchangeRateRead
from app.services.context import Context, write_changes
from app.services.customers import orders
from app.services.events import events
from app.services.workspace import workspaces


async def set_rate(ctx: Context, values: dict[str, Any]) -> tuple[Row, bool, int]:
    """(rate, created, orders converted). The rate of a currency for a date is one row: setting
    it again replaces it (orders converted with the old one keep their amounts)."""
    reporting = (await workspaces.get(ctx))["currency"]
    if values["currency"] == reporting:
        raise InvalidInput.field("currency", f"{reporting} is the reporting currency: it needs no rate")
    rate = format(Decimal(values["rate"]).normalize(), "f")
    repo = ctx.exchange_rates
    current = await repo.find(values["currency"], reporting, values["effective_on"])
    if current is None:
        row = await repo.create({"id": new_id(), "currency": values["currency"], "quote_currency": reporting,
                                 "rate": rate, "effective_on": values["effective_on"], **ctx.audit_new()})  # fmt: skip
        await events.record(ctx, types.EXCHANGE_RATE_CREATED, ExchangeRateRead.model_validate(row))
        created = True
    elif current["rate"] != rate:
        row = await write_changes(ctx, current, {"rate": rate}, partial(repo.update, current["id"]), if_match=None)
        await events.record(ctx, types.EXCHANGE_RATE_UPDATED, ExchangeRateRead.model_validate(row),
                            previous=ExchangeRateRead.model_validate(current))  # fmt: skip
        created = False
    else:
        row, created = current, False
    converted = await orders.convert_waiting(ctx, values["currency"], values["effective_on"])
    return row, created, converted


async def get(ctx: Context, rate_id: UUID) -> Row:
    row = await ctx.exchange_rates.get(rate_id)
    if row is None:
        raise NotFound("no exchange rate with this id")
    return row


async def list_rates(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, currency: str | None,
    effective_after: date | None, effective_before: date | None,
) -> Page:  # fmt: skip
    return await ctx.exchange_rates.list(
        sort=sort, cursor=cursor, limit=limit, currency=currency,
        ranges=[("effective_on", effective_after, effective_before)],
    )  # fmt: skip
