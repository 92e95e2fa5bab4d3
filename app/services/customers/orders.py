"""Orders from shops: idempotent batch sync, refunds, currency conversion, CRM-side edits.

A batch costs a fixed number of statements whatever its size: one read of what is stored, and
only when something changed: a locked re-read of those orders, the customers' lookups and
inserts, products, rates, stored refunds, orders (insert, update), lines, refunds and the
customers' facts. An identical resend is one read and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from app.db.repositories.base import Page, Row
from app.db.repositories.customers.rows import OrderRow
from app.domain.concurrency import check_if_match
from app.domain.customers.orders import (
    Decision,
    Key,
    OrderCommand,
    OrderFilters,
    OrderLine,
    OrderRefund,
    OrderStatus,
    Rate,
    Stored,
    content_hash,
    convert,
    decide,
    decide_batch,
    local_date,
    pick_rate,
    proportion,
)
from app.domain.errors import DomainError, ErrorList, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.money import formatter, from_minor, parser, to_minor
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.common import actor_json, invalid_input, rfc3339
from app.schemas.customers.orders import OrderIn, RefundIn
from app.services import reruns
from app.services.batches import item_error
from app.services.context import Context, changed_fields, write_changes
from app.services.customers import shop_customers as customers
from app.services.events import events
from app.services.workspace import workspaces

MONEY_FIELDS = ("subtotal", "discount", "tax", "shipping", "total", "refunded_total", "cost")


@dataclass
class Prepared:
    """A batch item's command with its columns worked out (amounts in minor units)."""

    index: int
    command: OrderCommand
    values: dict[str, Any]  # the shop's columns
    lines: list[dict[str, Any]]
    refunds: dict[str, dict[str, Any]]  # by the shop's refund id
    refunded_given: int
    reporting_given: int | None  # the shop's own amount in the reporting currency

    @property
    def key(self) -> Key:
        return self.command.key

    @property
    def customer(self) -> dict[str, Any] | None:  # as the shop sent it
        return self.command.customer

    @property
    def hash(self) -> str:
        return self.command.hash

    @property
    def source_updated_at(self) -> datetime:
        return self.command.source_updated_at


@dataclass
class Locale:
    reporting: str
    zone: ZoneInfo
    max_rate_age: int


async def _locale(ctx: Context) -> Locale:
    workspace = await workspaces.get(ctx)
    cfg = await customers.customer_settings(ctx)
    return Locale(
        workspace["currency"], ZoneInfo(workspace["timezone"]),
        cfg["exchange_rate_max_age_days"],
    )  # fmt: skip


async def locale(ctx: Context) -> Locale:
    """The workspace's reporting currency, time zone and exchange-rate age (for checking orders)."""
    return await _locale(ctx)


def _minor(value: str | None, currency: str, name: str, errors: ErrorList) -> int | None:
    if value is None:
        return None
    try:
        return to_minor(value, currency)
    except ValueError as exc:
        errors.add(name, str(exc))
        return None


def _parsed(value: str | None, parse: Callable[[str], int], name: str, errors: ErrorList) -> int | None:
    """`_minor` with the currency's parser in hand (a batch converts a dozen amounts per order)."""
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        errors.add(name, str(exc))
        return None


def command(order: OrderIn) -> OrderCommand:
    """The order-sync command of a validated order (a batch item, a shop's webhook): its hash is
    of the order as validated, whichever way it came."""
    return OrderCommand(
        source=order.source,
        external_id=order.external_id,
        status=order.status,
        currency=order.currency,
        total=order.total,
        placed_at=order.placed_at,
        source_updated_at=order.source_updated_at,
        hash=content_hash(order.model_dump_json().encode()),
        customer=order.customer.model_dump(mode="json") if order.customer is not None else None,
        subtotal=order.subtotal,
        discount=order.discount,
        tax=order.tax,
        shipping=order.shipping,
        refunded_total=order.refunded_total,
        cost=order.cost,
        reporting_total=order.reporting_total,
        reporting_currency=order.reporting_currency,
        coupon=order.coupon,
        sales_channel=order.sales_channel,
        line_items=tuple(OrderLine(i.sku, i.name, i.category, i.quantity, i.unit_price, i.total)
                         for i in order.line_items),
        refunds=tuple(OrderRefund(r.external_id, r.amount, r.reason, r.refunded_at) for r in order.refunds),
    )  # fmt: skip


def prepare(index: int, order: OrderCommand, locale: Locale) -> Prepared:
    """The order's columns in minor units; a 422 naming each bad amount."""
    currency = order.currency
    parse = parser(currency)
    errors = ErrorList()
    money = {name: _parsed(getattr(order, name), parse, name, errors) for name in MONEY_FIELDS}
    lines = []
    for i, item in enumerate(order.line_items):
        try:  # the field's name is built only for an error (a batch has thousands of lines)
            unit: int | None = parse(item.unit_price)
        except ValueError as exc:
            errors.add(f"line_items.{i}.unit_price", str(exc))
            unit = None
        total = _parsed(item.total, parse, f"line_items.{i}.total", errors) if item.total is not None else None
        if total is None and unit is not None:
            total = unit * item.quantity
        lines.append({"position": i, "sku": item.sku, "name": item.name, "category": item.category,
                      "quantity": item.quantity, "unit_price_minor": unit, "total_minor": total})  # fmt: skip
    refunds: dict[str, dict[str, Any]] = {}
    for i, refund in enumerate(order.refunds):
        amount = _parsed(refund.amount, parse, f"refunds.{i}.amount", errors)
        refunds[refund.external_id] = {"amount_minor": amount, "reason": refund.reason,
                                       "refunded_at": refund.refunded_at}  # fmt: skip
    reporting_given = None
    if order.reporting_total is not None and order.reporting_currency == locale.reporting:
        reporting_given = _minor(order.reporting_total, locale.reporting, "reporting_total", errors)
    total = money["total"]
    if total is not None and not errors.errors:
        if money["refunded_total"] is not None and money["refunded_total"] > total:
            errors.add("refunded_total", "cannot exceed total")
        if sum(r["amount_minor"] for r in refunds.values()) > total:
            errors.add("refunds", "the refunds add up to more than the total")
    errors.raise_if_any()
    values = {
        "source": order.source,
        "external_id": order.external_id,
        "customer": order.customer,
        "status": order.status.value,
        "currency": currency,
        "subtotal_minor": money["subtotal"],
        "discount_minor": money["discount"],
        "tax_minor": money["tax"],
        "shipping_minor": money["shipping"],
        "total_minor": total,
        "cost_minor": money["cost"],
        "placed_at": order.placed_at,
        "placed_on": local_date(order.placed_at, locale.zone),
        "source_updated_at": order.source_updated_at,
        "coupon": order.coupon,
        "sales_channel": order.sales_channel,
    }
    return Prepared(
        index=index,
        command=order,
        values=values,
        lines=lines,
        refunds=refunds,
        refunded_given=money["refunded_total"] or 0,
        reporting_given=reporting_given,
    )


# -- reading ---------------------------------------------------------------------------------------


_audit_text: tuple[datetime | None, str] = (None, "")


def _audit_rfc3339(value: datetime) -> str:
    """rfc3339 of an audit time: a batch's rows share one time object, formatted once."""
    global _audit_text
    last = _audit_text
    if last[0] is value:
        return last[1]
    _audit_text = (value, rfc3339(value))
    return _audit_text[1]


def view(row: Mapping[str, Any]) -> dict[str, Any]:
    """The order as the API returns it, in JSON form (events carry exactly this)."""
    currency, reporting = row["currency"], row["reporting_currency"]
    fmt = formatter(currency)
    reporting_fmt = formatter(reporting) if reporting is not None else fmt
    total, refunded, cost = row["total_minor"], row["refunded_minor"], row["cost_minor"]
    reporting_total, reporting_refunded = row["reporting_total_minor"], row["reporting_refunded_minor"]
    subtotal = row["subtotal_minor"]
    # a batch's rows share their audit time, and a new order's two shop times are often one
    created = _audit_rfc3339(row["created_at"])
    placed = rfc3339(row["placed_at"])
    source_updated = row["source_updated_at"]
    return {
        "id": str(row["id"]),
        "source": row["source"],
        "external_id": row["external_id"],
        "contact_id": str(row["contact_id"]) if row["contact_id"] else None,
        "customer": row["customer"],
        "status": row["status"],
        "currency": currency,
        "subtotal": fmt(subtotal) if subtotal is not None else None,
        "discount": fmt(row["discount_minor"]),
        "tax": fmt(row["tax_minor"]),
        "shipping": fmt(row["shipping_minor"]),
        "total": fmt(total),
        "refunded_total": fmt(refunded),
        "net_total": fmt(total - refunded),
        "cost": fmt(cost) if cost is not None else None,
        "reporting_currency": reporting,
        "reporting_total": reporting_fmt(reporting_total) if reporting_total is not None else None,
        "reporting_refunded_total": reporting_fmt(reporting_refunded) if reporting_refunded is not None else None,
        "exchange_rate": row["exchange_rate"],
        "conversion": row["conversion"],
        "placed_at": placed,
        "placed_on": row["placed_on"].isoformat(),
        "source_updated_at": placed if source_updated == row["placed_at"] else rfc3339(source_updated),
        "coupon": row["coupon"],
        "sales_channel": row["sales_channel"],
        "line_items": row["line_items"],
        "notes": row["notes"],
        "version": row["version"],
        "created_at": created,
        "updated_at": created if row["updated_at"] == row["created_at"] else rfc3339(row["updated_at"]),
        "created_by": actor_json(row["created_by"]),
        "updated_by": actor_json(row["updated_by"]),
    }


async def get(ctx: Context, order_id: UUID) -> OrderRow:
    row = await ctx.orders.get(order_id)
    if row is None:
        raise NotFound("no order with this id")
    return row


async def list_orders(
    ctx: Context, filters: OrderFilters, *, sort: Sort, cursor: str | None, limit: int
) -> Page[OrderRow]:
    return await ctx.orders.list(filters, sort=sort, cursor=cursor, limit=limit)


# -- conversion ------------------------------------------------------------------------------------


@dataclass
class Rates:
    by_currency: dict[str, list[Rate]] = field(default_factory=dict)

    def find(self, currency: str, placed_on: date, max_age: int) -> Rate | None:
        return pick_rate(self.by_currency.get(currency, []), placed_on, max_age)


async def _rates(ctx: Context, wanted: list[Prepared], locale: Locale) -> Rates:
    foreign = [p for p in wanted if p.values["currency"] != locale.reporting and p.reporting_given is None]
    if not foreign:
        return Rates()
    first = min(p.values["placed_on"] for p in foreign) - timedelta(days=locale.max_rate_age)
    last = max(p.values["placed_on"] for p in foreign)
    currencies = sorted({p.values["currency"] for p in foreign})
    rows = await ctx.exchange_rates.between(currencies, locale.reporting, first, last)
    rates = Rates()
    for r in rows:
        rates.by_currency.setdefault(r["currency"], []).append(Rate(r["effective_on"], Decimal(r["rate"])))
    return rates


def _reporting(
    values: Mapping[str, Any], refunded: int, given: int | None, rates: Rates, locale: Locale
) -> dict[str, Any]:
    """The order's amounts in the reporting currency, or flagged `missing` when no rate is known."""
    currency, total = values["currency"], values["total_minor"]
    if currency == locale.reporting:
        return {"reporting_total_minor": total, "reporting_refunded_minor": refunded, "exchange_rate": None,
                "conversion": "same"}  # fmt: skip
    if given is not None:  # the shop's own amount; refunds in proportion
        share = proportion(refunded, given, total)
        return {"reporting_total_minor": given, "reporting_refunded_minor": min(share, given), "exchange_rate": None,
                "conversion": "converted"}  # fmt: skip
    rate = rates.find(currency, values["placed_on"], locale.max_rate_age)
    if rate is None:
        return {"reporting_total_minor": None, "reporting_refunded_minor": None, "exchange_rate": None,
                "conversion": "missing"}  # fmt: skip
    return {
        "reporting_total_minor": convert(total, currency, rate.rate, locale.reporting),
        "reporting_refunded_minor": convert(refunded, currency, rate.rate, locale.reporting),
        "exchange_rate": str(rate.rate),
        "conversion": "converted",
    }


# -- batch sync ------------------------------------------------------------------------------------


async def sync(ctx: Context, items: Sequence[dict[str, Any] | OrderIn]) -> list[dict[str, Any]]:
    """`POST /v1/orders/batch`: `batch_upsert`. Concurrent syncs of the same shop can both find an
    order (or a shop customer) new: the database refuses the later one's row, and that sync runs
    again (`reruns`, up to 3 runs), finding the winner's rows to update or leave as they are."""
    return await reruns.run(ctx, lambda again: batch_upsert(ctx, items))


async def batch_upsert(ctx: Context, items: Sequence[dict[str, Any] | OrderIn]) -> list[dict[str, Any]]:
    """Upsert orders by (source, external_id): the shop's newer update time wins; an equal one
    with other content updates; an older one is stale; an identical resend changes nothing.
    Items of one key in one batch apply in order. One bad item never rejects the others. Items
    are as sent, or validated already (the batch route's whole-body validation)."""
    locale = await _locale(ctx)
    results: list[dict[str, Any]] = [{} for _ in items]
    prepared: list[Prepared] = []
    for index, item in enumerate(items):
        try:
            order = item if isinstance(item, OrderIn) else OrderIn.model_validate(item)
            prepared.append(prepare(index, command(order), locale))
        except ValidationError as exc:
            results[index] = item_error(index, invalid_input(exc))
        except DomainError as exc:
            results[index] = item_error(index, exc)
    if not prepared:
        return results
    repo = ctx.orders
    stored = await repo.stored([p.key for p in prepared])
    writes = _decide(prepared, {k: Stored(r["source_updated_at"], r["content_hash"]) for k, r in stored.items()},
                     {k: r["id"] for k, r in stored.items()}, results)  # fmt: skip
    if not writes:
        return results  # a resend: nothing else is read or written
    # Lock what will be updated (key order) and decide again against what is now stored: a
    # concurrent batch may have written the same orders since the first read.
    locked = await repo.lock([k for k in writes if k in stored])
    for key, (p, decision, order_id) in list(writes.items()):
        if key in stored:
            row = locked[key]
            again = decide(Stored(row["source_updated_at"], row["content_hash"]), p.source_updated_at, p.hash)
            if again in (Decision.STALE, Decision.IDENTICAL):
                results[p.index] = _unchanged(p, order_id, again)
                del writes[key]
            elif again != decision:
                writes[key] = (p, again, order_id)
    await _write(ctx, locale, writes, locked)
    return results


Write = tuple[Prepared, Decision, UUID]  # (final payload, decision, order id)


def _unchanged(p: Prepared, order_id: UUID, decision: Decision) -> dict[str, Any]:
    """An item that changes nothing: older than what is stored, or the same content."""
    reason = "stale" if decision == Decision.STALE else "identical"
    return {"index": p.index, "status": "unchanged", "id": order_id, "reason": reason}


def _decide(
    prepared: list[Prepared], stored: dict[tuple[str, str], Stored], ids: dict[tuple[str, str], UUID],
    results: list[dict[str, Any]],
) -> dict[tuple[str, str], Write]:  # fmt: skip
    """Per-item results, applying items of one key in batch order; the final write per key."""
    decided, writes = decide_batch(prepared, stored, ids, new_id)
    for p, decision, order_id in decided:
        if decision in (Decision.STALE, Decision.IDENTICAL, Decision.TOUCH):
            results[p.index] = _unchanged(p, order_id, decision)
        else:
            status = "created" if decision == Decision.CREATE else "updated"
            results[p.index] = {"index": p.index, "status": status, "id": order_id}
    return writes


async def _write(
    ctx: Context, locale: Locale, writes: dict[tuple[str, str], Write], locked: dict[tuple[str, str], OrderRow]
) -> None:
    repo = ctx.orders
    ordered = [writes[k] for k in sorted(writes)]
    touches = [(p, oid) for p, d, oid in ordered if d == Decision.TOUCH]
    changes = [(p, d, oid) for p, d, oid in ordered if d in (Decision.CREATE, Decision.UPDATE)]
    if touches:
        await repo.update_many([{"id": oid, "source_updated_at": p.source_updated_at} for p, oid in touches])
    if not changes:
        return
    wanted, by_identity = await customers.shop_customers(ctx, [(p.values["source"], p.customer)
                                                              for p, _, _ in changes])  # fmt: skip
    resolved = await customers.resolve_ahead(ctx, wanted, by_identity)
    # products first seen
    skus: dict[str, dict[str, Any]] = {}
    for p, _, _ in changes:
        for line in p.lines:
            if line["sku"] and line["sku"] not in skus:
                skus[line["sku"]] = {
                    "id": new_id(), "sku": line["sku"], "name": line["name"], "category": line["category"],
                    "price_minor": line["unit_price_minor"], "currency": p.values["currency"], **ctx.audit_new(),
                }  # fmt: skip
    product_ids = await ctx.products.ensure(list(skus.values()))
    rates = await _rates(ctx, [p for p, _, _ in changes], locale)
    stored_refunds = await repo.refunds_of([oid for p, d, oid in changes if d == Decision.UPDATE])
    audit_new, audit_change = ctx.audit_new(), ctx.audit_change()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    refunds: list[dict[str, Any]] = []
    created_events: list[dict[str, Any]] = []
    updated_events: list[tuple[dict[str, Any], OrderRow]] = []
    touched_contacts: set[UUID] = set()
    product_texts = {sku: str(product_id) for sku, product_id in product_ids.items()}
    for (p, decision, order_id), contact_id in zip(changes, resolved.contact_ids, strict=True):
        known = stored_refunds.get(order_id, {})
        refunded = p.refunded_given
        if p.refunds or known:
            all_refunds = {**{k: v["amount_minor"] for k, v in p.refunds.items()}, **known}
            refunded = max(refunded, sum(all_refunds.values()))
        refunded = min(refunded, p.values["total_minor"])
        line_items = []
        fmt = formatter(p.values["currency"])
        for line in p.lines:
            sku = line["sku"]
            product_id = product_ids.get(sku) if sku else None
            lines.append({"order_id": order_id, **line, "product_id": product_id})
            line_items.append({
                "sku": sku, "product_id": product_texts[sku] if product_id else None, "name": line["name"],
                "category": line["category"], "quantity": line["quantity"],
                "unit_price": fmt(line["unit_price_minor"]), "total": fmt(line["total_minor"]),
            })  # fmt: skip
        for ext, refund in p.refunds.items():
            if ext not in known:
                refunds.append({"id": new_id(), "order_id": order_id, "source": p.values["source"], "external_id": ext,
                                "currency": p.values["currency"], "created_at": ctx.now,
                                "created_by": audit_new["created_by"], **refund})  # fmt: skip
        row = {
            **p.values,
            "contact_id": contact_id,
            "refunded_minor": refunded,
            "reporting_currency": locale.reporting,
            **_reporting(p.values, refunded, p.reporting_given, rates, locale),
            "line_items": line_items,
            "content_hash": p.hash,
        }
        if contact_id is not None:
            touched_contacts.add(contact_id)
        if decision == Decision.CREATE:
            full = {"id": order_id, **row, "notes": None, "version": 1, **audit_new}
            inserts.append(full)
            created_events.append(full)
        else:
            before = locked[p.key]
            if row["cost_minor"] is None:
                row["cost_minor"] = before["cost_minor"]  # a cost entered in the CRM stays
            if before["contact_id"] is not None:
                touched_contacts.add(before["contact_id"])
            full = {**before, **row, "version": before["version"] + 1, **audit_change}
            updates.append(full)
            updated_events.append((full, before))
    await repo.insert_many(inserts)
    await repo.update_many(updates)
    await repo.replace_lines([u["id"] for u in updates], lines)
    await repo.add_refunds(refunds)
    for row in created_events:
        events.record_data(ctx, types.ORDER_CREATED, view(row))
    for row, before in updated_events:
        events.record_data(ctx, types.ORDER_UPDATED, view(row), previous=view(before))
    await ctx.uow.flush()
    # What concurrent syncs of the same customers contend for comes last, so its locks are held
    # only until the commit: the customers' facts
    if updates:
        await customers.refresh_facts(ctx, touched_contacts)
    else:  # only new orders: each contact's facts move forward by them
        added: dict[UUID, list[dict[str, Any]]] = {}
        for row in inserts:
            if row["contact_id"] is not None:
                added.setdefault(row["contact_id"], []).append(row)
        await customers.refresh_facts(ctx, touched_contacts, added=added)


# -- single orders ---------------------------------------------------------------------------------


async def update(ctx: Context, order_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> OrderRow:
    """CRM-side edits: status, cost, notes. The contact's facts follow."""
    row = await get(ctx, order_id)
    check_if_match(if_match, row["version"])
    values: dict[str, Any] = {}
    errors = ErrorList()
    for name, value in changes.items():
        if name == "cost":
            values["cost_minor"] = _minor(value, row["currency"], "cost", errors)
        elif name == "status":
            if value is None:
                errors.add("status", "cannot be null")
            else:
                values["status"] = OrderStatus(value).value
        else:
            values[name] = value
    errors.raise_if_any()
    values = changed_fields(row, values)
    if not values:
        return row
    repo = ctx.orders
    updated = await write_changes(ctx, row, values, partial(repo.update, order_id), if_match=if_match)
    events.record_data(ctx, types.ORDER_UPDATED, view(updated), previous=view(row))
    if row["contact_id"] is not None and ("status" in values or "cost_minor" in values):
        await customers.refresh_facts(ctx, {row["contact_id"]})
    return updated


async def add_refund(ctx: Context, order_id: UUID, refund: RefundIn, *, if_match: str | None) -> tuple[Row, bool]:
    """Record a refund once per (source, external id); the order's refunded total and status
    follow. (refund row, created)."""
    order = await get(ctx, order_id)
    check_if_match(if_match, order["version"])
    repo = ctx.orders
    existing = await repo.refund(order["source"], refund.external_id)
    if existing is not None:
        if existing["order_id"] != order_id:
            raise InvalidInput.field("external_id", "this refund id belongs to another order of the same source")
        return existing, False
    errors = ErrorList()
    amount = _minor(refund.amount, order["currency"], "amount", errors)
    errors.raise_if_any()
    assert amount is not None
    known = await repo.refunds_of([order_id])
    total_refunds = sum(known.get(order_id, {}).values()) + amount
    if total_refunds > order["total_minor"]:
        raise InvalidInput.field("amount", "the order's refunds would exceed its total")
    row = {
        "id": new_id(), "order_id": order_id, "source": order["source"], "external_id": refund.external_id,
        "amount_minor": amount, "currency": order["currency"], "reason": refund.reason,
        "refunded_at": refund.refunded_at, "created_at": ctx.now, "created_by": ctx.audit_new()["created_by"],
    }  # fmt: skip
    await repo.add_refunds([row])
    refunded = max(order["refunded_minor"], total_refunds)
    changes: dict[str, Any] = {"refunded_minor": refunded}
    if order["status"] in (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED):
        full = refunded >= order["total_minor"]
        changes["status"] = (OrderStatus.REFUNDED if full else OrderStatus.PARTIALLY_REFUNDED).value
    if order["conversion"] != "missing":
        rate = Decimal(order["exchange_rate"]) if order["exchange_rate"] else None
        if order["currency"] == order["reporting_currency"]:
            changes["reporting_refunded_minor"] = refunded
        elif rate is not None:
            changes["reporting_refunded_minor"] = convert(
                refunded, order["currency"], rate, order["reporting_currency"]
            )
        else:  # converted with the shop's own amount in the reporting currency
            reporting_total = order["reporting_total_minor"]
            assert reporting_total is not None  # a converted order has its reporting total
            changes["reporting_refunded_minor"] = proportion(refunded, reporting_total, order["total_minor"])
    updated = await write_changes(ctx, order, changed_fields(order, changes), partial(repo.update, order_id),
                                  if_match=if_match)  # fmt: skip
    events.record_data(ctx, types.ORDER_REFUNDED, view(updated), previous=view(order))
    if order["contact_id"] is not None:
        await customers.refresh_facts(ctx, {order["contact_id"]})
    return row, True


async def refunds(ctx: Context, order_id: UUID) -> list[Row]:
    await get(ctx, order_id)
    return await ctx.orders.list_refunds(order_id)


def refund_view(row: Row) -> dict[str, Any]:
    return {**row, "amount": from_minor(row["amount_minor"], row["currency"])}


async def convert_waiting(ctx: Context, currency: str, effective_on: date) -> int:
    """A rate arrived: convert the orders that were waiting for it (their date is the rate's, or
    within the rate-age window after it and no newer rate covers them); their contacts' facts
    follow. How many orders."""
    locale = await _locale(ctx)
    repo = ctx.orders
    waiting = await repo.unconverted(currency, effective_on, effective_on + timedelta(days=locale.max_rate_age))
    if not waiting:
        return 0
    rows = await ctx.exchange_rates.between(
        [currency], locale.reporting, effective_on - timedelta(days=locale.max_rate_age), max(
            w["placed_on"] for w in waiting)
    )  # fmt: skip
    rates = Rates({currency: [Rate(r["effective_on"], Decimal(r["rate"])) for r in rows]})
    updates, contacts, audit = [], set(), ctx.audit_change()
    converted_events = []
    for order in waiting:
        values = _reporting(order, order["refunded_minor"], None, rates, locale)
        if values["conversion"] == "missing":
            continue
        updates.append({"id": order["id"], **values, "version": order["version"] + 1, **audit})
        converted_events.append(({**order, **values, "version": order["version"] + 1, **audit}, order))
        if order["contact_id"] is not None:
            contacts.add(order["contact_id"])
    await repo.update_many(updates)
    for after, before in converted_events:
        events.record_data(ctx, types.ORDER_UPDATED, view(after), previous=view(before))
    await customers.refresh_facts(ctx, contacts)
    return len(updates)
