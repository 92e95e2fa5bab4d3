"""Acquisition costs: what was spent per channel and month (one live record per channel, month and
currency), and that spend in the reporting currency for CLV:CAC."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from app.db.repositories.base import Row
from app.domain.errors import Conflict, ErrorList
from app.domain.money import from_minor
from app.domain.workspace.workspaces import currency_exponent
from app.schemas.analytics.acquisition_costs import AcquisitionCostRead
from app.services.context import Context
from app.services.customers import records


async def _prepare(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    errors = ErrorList()
    prepared = dict(values)
    if "channel" in values:
        prepared["channel"] = values["channel"].strip().lower()
    await records.money_field(ctx, "spend", values, current, prepared, errors)
    errors.raise_if_any()
    key: dict[str, Any] = {k: prepared.get(k, (current or {}).get(k)) for k in ("channel", "month", "currency")}
    same = await ctx.acquisition_costs.live_with(**key)
    if same is not None and (current is None or same["id"] != current["id"]):
        raise Conflict(f"{key['channel']} already has a cost for {key['month']} in {key['currency']}: change that one",
                       extensions={"existing_id": str(same["id"])})  # fmt: skip
    return prepared


ACQUISITION_COST = records.Kind(
    "acquisition_cost", lambda repos: repos.acquisition_costs, AcquisitionCostRead, _prepare
)


def _month_end(month: str) -> date:
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, calendar.monthrange(year, number)[1])


async def spend(ctx: Context, currency: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Live costs with their spend in `currency` (major units, float): other currencies converted
    with the latest exchange rate on or before the month's last day; those without one are left
    out and summed per currency in the second value."""
    rows = await ctx.acquisition_costs.live()
    foreign = sorted({r["currency"] for r in rows if r["currency"] != currency})
    rates: dict[str, list[tuple[date, Decimal]]] = {}
    if foreign:
        ends = [_month_end(r["month"]) for r in rows]
        found = await ctx.exchange_rates.between(foreign, currency, min(ends) - timedelta(days=366), max(ends))
        for rate in found:
            rates.setdefault(rate["currency"], []).append((rate["effective_on"], Decimal(rate["rate"])))
    costs: list[dict[str, Any]] = []
    missing: dict[str, str] = {}  # spend without a rate, per currency
    for row in rows:
        amount = Decimal(from_minor(row["spend_minor"], row["currency"]))
        if row["currency"] != currency:
            end = _month_end(row["month"])
            usable = [rate for on, rate in rates.get(row["currency"], []) if on <= end]
            if not usable:
                total = Decimal(missing.get(row["currency"], "0")) + amount
                missing[row["currency"]] = f"{total:.{currency_exponent(row['currency'])}f}"
                continue
            amount *= usable[-1]
        costs.append({"channel": row["channel"], "month": row["month"], "spend": float(amount)})
    return costs, missing
