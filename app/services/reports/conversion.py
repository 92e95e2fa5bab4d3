"""Amounts in another currency, in the reporting currency at the rate of their local day: the rate
dated that day, else the latest before it at most the customers setting
`exchange_rate_max_age_days` old (the rule orders follow at their placement day); none: the
amount stays unconverted and the report counts it as such.

The reports sum the amounts of one currency and one local day in SQL and convert each such sum
here (half-even to the reporting currency's minor unit, once per sum): a few rows per day, never
one per deal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.domain.customers.orders import Rate, convert, pick_rate
from app.services.context import Context
from app.services.customers import orders


@dataclass(frozen=True)
class Rates:
    reporting: str
    max_age: int
    by_currency: Mapping[str, Sequence[Rate]]

    def convert(self, amount_minor: int, currency: str, day: date) -> int | None:
        """`amount_minor` of `currency` in the reporting currency at the rate of `day`; None
        without one."""
        if currency == self.reporting:
            return amount_minor
        rate = pick_rate(self.by_currency.get(currency, ()), day, self.max_age)
        return None if rate is None else convert(amount_minor, currency, rate.rate, self.reporting)


async def rates_for(ctx: Context, wanted: Iterable[tuple[str, date]]) -> Rates:
    """The rates that convert these (currency, day) pairs: one read of the rates dated from the
    earliest day less the maximum age to the latest."""
    locale = await orders.locale(ctx)
    pairs = [(c, d) for c, d in wanted if c != locale.reporting]
    found: dict[str, list[Rate]] = defaultdict(list)
    if pairs:
        first = min(d for _, d in pairs) - timedelta(days=locale.max_rate_age)
        last = max(d for _, d in pairs)
        currencies = sorted({c for c, _ in pairs})
        for row in await ctx.exchange_rates.between(currencies, locale.reporting, first, last):
            found[row["currency"]].append(Rate(row["effective_on"], Decimal(row["rate"])))
    return Rates(locale.reporting, locale.max_rate_age, dict(found))
