"""The products report: per product, per category and per period, what sold (units), for how much
(revenue), what it left (margin), to how many customers and how many came back for it.

- Orders counted: those that are purchases (`app.domain.customers.orders.PURCHASES`: paid,
  fulfilled, partially refunded), placed in the range; a fully refunded order is no purchase.
- A line's revenue: its total, converted at its order's own rate (the order's reporting total over
  its total) and less its share of the order's refunds (refunds are the order's, shared over its
  lines in proportion to their totals), in the reporting currency. Order-level discounts, tax and
  shipping are no product's. Orders no exchange rate converts yet are left out of revenue and
  margin (counted in `unconverted_orders`), not out of units or customers.
- A line's cost: products and order lines carry no cost; an order carries what its goods cost the
  shop, shared over its lines in proportion to their totals, converted at the order's rate.
  Margin = revenue - cost, null when any converted line of the product (category) belongs to an
  order without a cost: a margin over part of the sales would overstate it.
- Customers: distinct contacts among the orders (orders without a known buyer count for units and
  revenue only); repeat rate: those who bought it in two or more distinct orders of the range,
  over its customers.
Sums are taken in the database in double precision and rounded half-even to the currency's minor
unit once per figure (whole minor units add exactly; only a refund's or a conversion's share is
fractional)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal, get_args

Group = Literal["product", "category"]
Sort = Literal["revenue", "units", "customers", "margin"]
GROUPS: tuple[Group, ...] = ("product", "category")
SORTS: tuple[str, ...] = get_args(Sort)
DEFAULT_LIMIT = 50  # products (and categories) answered, the first by the sort
MAX_LIMIT = 500


def to_minor(value: float | int | None) -> int:
    """A sum of minor units (possibly fractional) rounded half-even to a whole one."""
    if value is None:
        return 0
    return int(Decimal(value).to_integral_value(rounding=ROUND_HALF_EVEN))


def repeat_rate(repeaters: int, customers: int) -> float | None:
    return round(repeaters / customers, 4) if customers else None


def margin_minor(revenue: float | int | None, cost: float | int | None, costless: int, converted: int) -> int | None:
    """Revenue - cost (each rounded to the minor unit), or None when the cost of some converted
    line is unknown, or nothing was converted."""
    if converted <= 0 or costless > 0:
        return None
    return to_minor(revenue) - to_minor(cost)


def figures(row: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of an aggregated row (product, category or period), amounts in minor units."""
    customers = int(row.get("customers") or 0)
    return {
        "units": int(row.get("units") or 0),
        "revenue_minor": to_minor(row.get("revenue")),
        "margin_minor": margin_minor(
            row.get("revenue"), row.get("cost"), int(row.get("costless") or 0), int(row.get("converted") or 0)
        ),
        "customers": customers,
        "repeat_rate": repeat_rate(int(row.get("repeaters") or 0), customers),
    }
