"""Orders, their lines and refunds.

Order sync writes whole batches: each method here is one statement for the whole batch (an
executemany on the driver where rows differ), and rows are written in key order so concurrent
resends of the same orders lock them in the same order and cannot deadlock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import case, delete, func, select

from app.db import tables
from app.db.repositories.base import (
    Page,
    Row,
    TenantRepository,
    datetime_key,
    dialect_insert,
    where_between,
    where_equal,
)
from app.db.repositories.customers.keys import Key, among_values, by_keys, chunks, one_of
from app.db.repositories.customers.rows import OrderRow
from app.domain.customers.orders import MONEY, PURCHASES, OrderFilters

o, ol, rf = tables.orders, tables.order_lines, tables.order_refunds


class OrderRepository(TenantRepository[OrderRow]):
    table = o
    sortable = {"placed_at": datetime_key(o.c.placed_at), "created_at": datetime_key(o.c.created_at)}

    async def get(self, order_id: UUID) -> OrderRow | None:
        return await self._get_by_id(order_id)

    async def stored(self, keys: Sequence[Key]) -> dict[Key, Row]:
        """What decides a sync: id, the shop's update time and the content hash, by key."""
        columns = (o.c.id, o.c.source, o.c.external_id, o.c.source_updated_at, o.c.content_hash)
        found: dict[Key, Row] = {}
        dialect = await self._dialect()
        for chunk in chunks(sorted(keys), 5000):
            source, where = by_keys(o, chunk, self.workspace_id, dialect)
            statement = select(*columns).select_from(source).where(where)
            for id_, source, external_id, updated, hash_ in (await self.uow.execute(statement)).all():
                found[(source, external_id)] = {"id": id_, "source_updated_at": updated, "content_hash": hash_}
        wanted = set(keys)
        return {k: v for k, v in found.items() if k in wanted}

    async def lock(self, keys: Sequence[Key]) -> dict[Key, OrderRow]:
        """The full rows, locked for this transaction in key order (PostgreSQL; SQLite writers are
        serialised already)."""
        found: dict[Key, OrderRow] = {}
        dialect = await self._dialect()
        for chunk in chunks(sorted(keys), 5000):
            source, where = by_keys(o, chunk, self.workspace_id, dialect)
            statement = (
                select(o).select_from(source).where(where).order_by(o.c.source, o.c.external_id).with_for_update(of=o)
            )
            for r in await self._rows(statement):
                found[(r["source"], r["external_id"])] = r
        wanted = set(keys)
        return {k: v for k, v in found.items() if k in wanted}

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.uow.insert_rows(o, rows, {"workspace_id": self.workspace_id})

    async def update_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows with `id` and the same other columns each (the caller sets `version`), in key order."""
        ordered = sorted(rows, key=lambda r: r["id"].int)
        await self.uow.update_rows(o, [{**r, "workspace_id": self.workspace_id} for r in ordered], bump_version=False)

    async def update(self, order_id: UUID, version: int, values: Mapping[str, Any]) -> OrderRow | None:
        return await self._update_versioned(order_id, version, values)

    async def replace_lines(self, replaced: Sequence[UUID], lines: Sequence[Mapping[str, Any]]) -> None:
        dialect = await self._dialect()
        for chunk in chunks(list(replaced), 5000):
            await self.uow.execute(
                delete(ol).where(ol.c.workspace_id == self.workspace_id, one_of(ol.c.order_id, chunk, dialect))
            )
        await self.uow.insert_rows(ol, lines, {"workspace_id": self.workspace_id})

    async def refunds_of(self, order_ids: Sequence[UUID]) -> dict[UUID, dict[str, int]]:
        """Each order's stored refunds: {order id: {refund external id: amount}}."""
        out: dict[UUID, dict[str, int]] = {}
        dialect = await self._dialect()
        for chunk in chunks(list(order_ids), 5000):
            source, among = among_values(rf, rf.c.order_id, chunk, dialect)
            statement = (
                select(rf.c.order_id, rf.c.external_id, rf.c.amount_minor)
                .select_from(source)
                .where(rf.c.workspace_id == self.workspace_id, among)
            )
            for r in (await self.uow.execute(statement)).mappings():
                out.setdefault(r["order_id"], {})[r["external_id"]] = r["amount_minor"]
        return out

    async def add_refunds(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Refunds are recorded once per (source, external id): a resend adds nothing."""
        if not rows:
            return
        dialect = await self._dialect()
        insert_ = dialect_insert(dialect)
        statement = insert_(rf).on_conflict_do_nothing()
        ordered = sorted(rows, key=lambda r: (r["source"], r["external_id"]))
        await self.uow.execute(statement, [{"workspace_id": self.workspace_id, **r} for r in ordered])

    async def refund(self, source: str, external_id: str) -> Row | None:
        statement = select(rf).where(rf.c.workspace_id == self.workspace_id, rf.c.source == source,
                                     rf.c.external_id == external_id)  # fmt: skip
        return await self._one(statement)

    async def list_refunds(self, order_id: UUID) -> list[Row]:
        statement = (
            select(rf)
            .where(rf.c.workspace_id == self.workspace_id, rf.c.order_id == order_id)
            .order_by(rf.c.refunded_at, rf.c.id)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def fact_groups(self, contact_ids: Sequence[UUID]) -> list[Row]:
        """Per contact, currency and conversion state: purchases, first/last purchase, money sums
        (orders whose money counts), in the order's currency and the reporting currency."""
        purchase = o.c.status.in_([s.value for s in PURCHASES])
        converted = o.c.conversion != "missing"
        out: list[Row] = []
        dialect = await self._dialect()
        for chunk in chunks(list(contact_ids), 5000):
            source, among = among_values(o, o.c.contact_id, chunk, dialect)
            statement = (
                select(
                    o.c.contact_id,
                    o.c.currency,
                    converted.label("converted"),
                    func.sum(case((purchase, 1), else_=0)).label("purchases"),
                    func.min(case((purchase, o.c.placed_at))).label("first_at"),
                    func.max(case((purchase, o.c.placed_at))).label("last_at"),
                    func.sum(o.c.total_minor).label("total_minor"),
                    func.sum(o.c.refunded_minor).label("refunded_minor"),
                    func.coalesce(func.sum(o.c.reporting_total_minor), 0).label("reporting_total_minor"),
                    func.coalesce(func.sum(o.c.reporting_refunded_minor), 0).label("reporting_refunded_minor"),
                    func.coalesce(func.sum(case((purchase, o.c.reporting_total_minor))), 0).label(
                        "reporting_purchase_total_minor"
                    ),
                )
                .select_from(source)
                .where(self.scope, among, o.c.status.in_([s.value for s in MONEY]))
                .group_by(o.c.contact_id, o.c.currency, converted)
            )
            out += [dict(r) for r in (await self.uow.execute(statement)).mappings()]
        return out

    async def first_purchases(self, contact_ids: Sequence[UUID]) -> dict[UUID, Row]:
        """Each contact's first purchase (id, source, placed_at)."""
        out: dict[UUID, Row] = {}
        purchase = o.c.status.in_([s.value for s in PURCHASES])
        dialect = await self._dialect()
        for chunk in chunks(list(contact_ids), 5000):
            source, among = among_values(o, o.c.contact_id, chunk, dialect)
            statement = (
                select(o.c.contact_id, o.c.id, o.c.source, o.c.placed_at)
                .select_from(source)
                .where(self.scope, among, purchase)
                .order_by(o.c.contact_id, o.c.placed_at.desc(), o.c.id.desc())
            )
            for r in (await self.uow.execute(statement)).mappings():
                out[r["contact_id"]] = dict(r)  # the last one seen per contact is the earliest
        return out

    async def unconverted(self, currency: str, first_day: date, last_day: date) -> list[OrderRow]:
        statement = (
            select(o)
            .where(
                self.scope,
                o.c.conversion == "missing",
                o.c.currency == currency,
                o.c.placed_on >= first_day,
                o.c.placed_on <= last_day,
            )
            .order_by(o.c.source, o.c.external_id)
        )
        return await self._rows(statement)

    async def list(self, filters: OrderFilters, *, sort: Any, cursor: str | None, limit: int) -> Page[OrderRow]:
        """A page of the orders matching `filters`."""
        f = filters
        statement = select(o).where(self.scope)
        statement = where_equal(
            statement,
            {
                o.c.import_id: f.import_id,
                o.c.contact_id: f.contact_id,
                o.c.status: f.status,
                o.c.source: f.source,
                o.c.currency: f.currency,
                o.c.conversion: f.conversion,
            },
        )
        statement = where_between(statement, [(o.c.placed_at, f.placed_after, f.placed_before)])
        return await self._page(statement, sortable=self.sortable, sort=sort, cursor=cursor, limit=limit)
