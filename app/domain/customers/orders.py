"""Orders from shops and the customer facts they make: pure rules, time passed in.

- The orders list's filters (`OrderFilters`).
- Sync decisions: a shop resends orders (`OrderCommand`); its own update time (`source_updated_at`) decides.
- Currency conversion into the workspace's reporting currency, exact, rounded half-even once.
- Customer facts (order count, first/last order, revenue, refunds) from per-currency sums.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, TypeVar
from uuid import UUID

from app.domain.money import from_minor, plain_units
from app.domain.workspace.workspaces import currency_exponent


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


# Orders that count as purchases (order count, first/last order, average order value). A fully
# refunded order is no purchase, but its refund is still counted in the refunded amount.
PURCHASES = frozenset({OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED})
# Orders whose money counts (revenue net of refunds, refunded amounts).
MONEY = PURCHASES | {OrderStatus.REFUNDED}


@dataclass(frozen=True)
class OrderFilters:
    """The orders list's filters: what `GET /v1/orders` (and its CSV export) asks for, read by the
    orders repository. Each filter left None filters nothing; `placed_after` is inclusive,
    `placed_before` exclusive."""

    contact_id: UUID | None = None  # the customer
    status: OrderStatus | None = None
    source: str | None = None
    currency: str | None = None
    conversion: str | None = None  # same, converted, or missing (waiting for an exchange rate)
    placed_after: datetime | None = None
    placed_before: datetime | None = None
    import_id: UUID | None = None  # created by this CSV import


class Decision(StrEnum):
    CREATE = "create"
    UPDATE = "update"  # newer, or as new with other content (shops' clocks have second resolution)
    TOUCH = "touch"  # newer with the same content: only the shop's update time moves
    STALE = "stale"  # older than what is stored
    IDENTICAL = "identical"  # a resend


@dataclass(frozen=True)
class Stored:
    source_updated_at: datetime
    content_hash: str


def decide(stored: Stored | None, source_updated_at: datetime, content_hash: str) -> Decision:
    if stored is None:
        return Decision.CREATE
    if source_updated_at < stored.source_updated_at:
        return Decision.STALE
    if content_hash != stored.content_hash:
        return Decision.UPDATE
    return Decision.TOUCH if source_updated_at > stored.source_updated_at else Decision.IDENTICAL


Key = tuple[str, str]  # an order's (source, external_id)


class OrderLine(NamedTuple):
    """A line of an order-sync command; amounts are decimal strings in the order's currency.
    (A tuple: a batch carries thousands of lines.)"""

    sku: str | None
    name: str | None
    category: str | None
    quantity: int
    unit_price: str
    total: str | None  # None: quantity x unit price


class OrderRefund(NamedTuple):
    """A refund an order-sync command carries, recorded once per source and refund id."""

    external_id: str  # the shop's refund id
    amount: str  # a decimal string in the order's currency
    reason: str | None
    refunded_at: datetime


@dataclass(frozen=True, slots=True)
class OrderCommand:
    """An order-sync command: an order as the shop has it now (an item of `POST /v1/orders/batch`,
    or a shop webhook's order), validated. Amounts are decimal strings in `currency`; `hash` is the
    fingerprint of the order as validated (`content_hash`), which recognises an identical resend."""

    source: str  # the shop platform or system
    external_id: str  # the shop's order id
    status: OrderStatus
    currency: str
    total: str
    placed_at: datetime
    source_updated_at: datetime  # the shop's own update time: the newer one wins
    hash: str
    customer: dict[str, Any] | None = None  # the shop's customer, as JSON (None: no buyer known)
    subtotal: str | None = None
    discount: str = "0"
    tax: str = "0"
    shipping: str = "0"
    refunded_total: str = "0"  # refunded so far, besides the refunds listed
    cost: str | None = None  # what the goods cost the shop
    reporting_total: str | None = None  # the shop's own amount in `reporting_currency`
    reporting_currency: str | None = None
    coupon: str | None = None
    sales_channel: str | None = None
    line_items: tuple[OrderLine, ...] = ()
    refunds: tuple[OrderRefund, ...] = ()

    @property
    def key(self) -> Key:
        return (self.source, self.external_id)


class SyncItem(Protocol):
    """What a batch's decisions read of an item: an `OrderCommand`'s key, the shop's update time
    and its content's hash (or those of what carries a command)."""

    @property
    def key(self) -> Key: ...
    @property
    def source_updated_at(self) -> datetime: ...
    @property
    def hash(self) -> str: ...


Item = TypeVar("Item", bound=SyncItem)
Planned = tuple[Item, Decision, UUID]  # an item, what to do with it, the order's id


def decide_batch(
    items: Sequence[Item], stored: Mapping[Key, Stored], ids: Mapping[Key, UUID], new_id: Callable[[], UUID]
) -> tuple[list[Planned[Item]], dict[Key, Planned[Item]]]:
    """A batch's items decided in batch order, each against what is stored or what an earlier
    item of its key left: (each item's decision and order id, the final write per key). A key
    the database does not hold is created however many of its items the batch carries (under one
    id, from `new_id`); a later item that only touches a key an earlier item created or updated
    still writes that change; stale and identical items write nothing."""
    state = dict(stored)
    known = dict(ids)
    decided: list[Planned[Item]] = []
    writes: dict[Key, Planned[Item]] = {}
    for item in items:
        decision = decide(state.get(item.key), item.source_updated_at, item.hash)
        order_id = known.get(item.key) or (writes[item.key][2] if item.key in writes else new_id())
        decided.append((item, decision, order_id))
        if decision in (Decision.STALE, Decision.IDENTICAL):
            continue
        previous = writes.get(item.key)
        if previous is not None and previous[1] in (Decision.CREATE, Decision.UPDATE) and decision == Decision.TOUCH:
            decision = previous[1]  # the earlier change still has to be written
        if item.key not in stored:
            decision = Decision.CREATE  # however many items of the key, it is new to the database
        writes[item.key] = (item, decision, order_id)
        state[item.key] = Stored(item.source_updated_at, item.hash)
        known[item.key] = order_id
    return decided, writes


def content_hash(canonical: bytes) -> str:
    """A fingerprint of what the shop sent, to recognise an identical resend; `canonical` is the
    validated order serialised in a fixed field order (amounts and times normalised)."""
    return hashlib.sha256(canonical).hexdigest()


# -- currencies ------------------------------------------------------------------------------------


def convert(minor: int, currency: str, rate: Decimal, to_currency: str) -> int:
    """`minor` units of `currency` in minor units of `to_currency` at `rate` (to-units per unit),
    rounded half-even to the target's minor unit: the one rounding an amount ever gets."""
    if currency == to_currency:
        return minor
    value = Decimal(minor) * rate
    value = value.scaleb(currency_exponent(to_currency) - currency_exponent(currency))
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


def proportion(minor: int, numerator: int, denominator: int) -> int:
    """minor x numerator / denominator, rounded half-even (a refund's share in another currency)."""
    if denominator == 0:
        return 0
    value = Decimal(minor) * Decimal(numerator) / Decimal(denominator)
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class Rate:
    effective_on: date
    rate: Decimal


def pick_rate(rates: Sequence[Rate], placed_on: date, max_age_days: int) -> Rate | None:
    """The rate of the order's local date, else the latest one at most `max_age_days` before it
    (rates are not published on weekends and holidays); `rates` sorted by date."""
    best: Rate | None = None
    for rate in rates:
        if rate.effective_on > placed_on:
            break
        best = rate
    if best is None or (placed_on - best.effective_on).days > max_age_days:
        return None
    return best


def local_date(moment: datetime, zone: Any) -> date:
    """The calendar date of `moment` in the workspace's time zone (a tzinfo)."""
    return moment.astimezone(zone).date()


# -- customer facts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderGroup:
    """Sums over one contact's orders of one status group, currency and conversion state."""

    currency: str
    converted: bool  # reporting amounts are known (same currency or a rate found)
    purchases: int  # orders that count as purchases
    first_at: datetime | None  # of those purchases
    last_at: datetime | None
    total_minor: int  # in `currency`, orders whose money counts
    refunded_minor: int
    reporting_total_minor: int  # in the reporting currency (0 when not converted)
    reporting_refunded_minor: int
    reporting_purchase_total_minor: int  # purchases only, for the average order value
    first_source: str | None = None


@dataclass
class Facts:
    orders_count: int = 0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    revenue_minor: int = 0  # reporting currency, net of refunds
    refunded_minor: int = 0
    average_order_value_minor: int | None = None
    revenue_by_currency: dict[str, str] = field(default_factory=dict)
    unconverted_orders: int = 0


def customer_facts(groups: Iterable[OrderGroup]) -> Facts:
    """A contact's order facts. Money in a currency that cannot be converted yet is kept out of
    the reporting-currency totals (never summed as if it were another currency) and counted in
    `unconverted_orders`; it still shows in `revenue_by_currency`."""
    facts = Facts()
    by_currency: dict[str, int] = {}
    for g in groups:
        facts.orders_count += g.purchases
        if g.first_at is not None and (facts.first_order_at is None or g.first_at < facts.first_order_at):
            facts.first_order_at = g.first_at
        if g.last_at is not None and (facts.last_order_at is None or g.last_at > facts.last_order_at):
            facts.last_order_at = g.last_at
        by_currency[g.currency] = by_currency.get(g.currency, 0) + g.total_minor - g.refunded_minor
        if g.converted:
            facts.revenue_minor += g.reporting_total_minor - g.reporting_refunded_minor
            facts.refunded_minor += g.reporting_refunded_minor
        else:
            facts.unconverted_orders += g.purchases
    facts.average_order_value_minor = average_order_value(facts)
    facts.revenue_by_currency = {c: from_minor(m, c) for c, m in sorted(by_currency.items())}
    return facts


def average_order_value(facts: Facts) -> int | None:
    """Net revenue per converted purchase (refunds taken off, unconverted orders left out),
    rounded half-even (in integers: exact, and cheap for a batch's thousand contacts)."""
    purchases = facts.orders_count - facts.unconverted_orders
    if purchases <= 0:
        return None
    return divide_half_even(facts.revenue_minor, purchases)


def divide_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator (> 0) rounded to an integer, ties to even."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def minor_of(amount: str, currency: str) -> int:
    """Minor units of a stored decimal string (from_minor's own output, read without Decimal)."""
    exponent = currency_exponent(currency)
    units = plain_units(amount, exponent)
    return units if units is not None else int(Decimal(amount).scaleb(exponent))


def advance(current: Facts, orders: Iterable[Any]) -> Facts:
    """The facts after new `orders` (rows) are added to a contact whose facts are `current` (order
    sync creating orders): the same as recomputing them from all orders, in one pass over the new
    ones (a batch brings a thousand contacts forward)."""
    count, unconverted = current.orders_count, current.unconverted_orders
    first, last = current.first_order_at, current.last_order_at
    revenue, refunded = current.revenue_minor, current.refunded_minor
    by_currency = {c: minor_of(a, c) for c, a in current.revenue_by_currency.items()}
    for o in orders:
        status = o["status"]
        if status not in MONEY:
            continue
        currency = o["currency"]
        by_currency[currency] = by_currency.get(currency, 0) + o["total_minor"] - o["refunded_minor"]
        converted = o["conversion"] != "missing"
        if converted:
            revenue += o["reporting_total_minor"] - o["reporting_refunded_minor"]
            refunded += o["reporting_refunded_minor"]
        if status in PURCHASES:
            count += 1
            if not converted:
                unconverted += 1
            placed = o["placed_at"]
            if first is None or placed < first:
                first = placed
            if last is None or placed > last:
                last = placed
    facts = Facts(
        orders_count=count,
        first_order_at=first,
        last_order_at=last,
        revenue_minor=revenue,
        refunded_minor=refunded,
        revenue_by_currency={c: from_minor(m, c) for c, m in sorted(by_currency.items())},
        unconverted_orders=unconverted,
    )
    facts.average_order_value_minor = average_order_value(facts)
    return facts


def groups_of(orders: Iterable[Any]) -> list[OrderGroup]:
    """`customer_facts`' input from order rows in hand (the aggregate query's Python twin)."""
    sums: dict[tuple[str, bool], dict[str, Any]] = {}
    for o in orders:
        status = o["status"]  # a stored status; StrEnum members hash and compare as their values
        if status not in MONEY:
            continue
        converted = o["conversion"] != "missing"
        key = (o["currency"], converted)
        g = sums.get(key)
        if g is None:
            g = sums[key] = {"purchases": 0, "first": None, "last": None, "total": 0, "refunded": 0, "rtotal": 0,
                             "rrefunded": 0, "rpurchase": 0}  # fmt: skip
        g["total"] += o["total_minor"]
        g["refunded"] += o["refunded_minor"]
        if converted:
            g["rtotal"] += o["reporting_total_minor"]
            g["rrefunded"] += o["reporting_refunded_minor"]
        if status in PURCHASES:
            g["purchases"] += 1
            placed = o["placed_at"]
            g["first"] = placed if g["first"] is None or placed < g["first"] else g["first"]
            g["last"] = placed if g["last"] is None or placed > g["last"] else g["last"]
            if converted:
                g["rpurchase"] += o["reporting_total_minor"]
    return [
        OrderGroup(currency, converted, g["purchases"], g["first"], g["last"], g["total"], g["refunded"],
                   g["rtotal"], g["rrefunded"], g["rpurchase"])
        for (currency, converted), g in sorted(sums.items())
    ]  # fmt: skip


def active_until(last_order_at: datetime | None, window_days: int) -> datetime | None:
    """A customer is active while their last order is within the window."""
    return last_order_at + timedelta(days=window_days) if last_order_at is not None else None


def acquisition_channel(
    lead_utm_source: str | None, lead_source: str | None, first_order_source: str | None
) -> str | None:
    """Where the customer came from, in the vocabulary of acquisition costs: the originating
    lead's UTM source (lower-cased), else the lead's source, else the first order's source."""
    for value in (lead_utm_source, lead_source, first_order_source):
        if value and value.strip():
            return value.strip().lower()[:100]
    return None
