"""Orders, their lines and refunds, products, exchange rates and the shops' customer ids.

Order sync writes whole batches: each method here is one statement for the whole batch (an
executemany on the driver where rows differ), and rows are written in key order so concurrent
resends of the same orders lock them in the same order and cannot deadlock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import and_, any_, bindparam, case, delete, func, select, text, true
from sqlalchemy.dialects import postgresql

from app.db import tables
from app.db.repositories.base import Page, Row, SortKey, TenantRepository, datetime_key, dialect_insert, text_key
from app.db.repositories.customers.relationships import _Records
from app.db.repositories.leads.leads import OPEN_WHERE
from app.domain.customers.orders import MONEY, PURCHASES, OrderStatus
from app.ids import sorted_ids

o, ol, rf, pr, xr = tables.orders, tables.order_lines, tables.order_refunds, tables.products, tables.exchange_rates
ci, co, ld = tables.contact_identities, tables.contacts, tables.leads
Key = tuple[str, str]  # (source, external_id)
CHUNK = 500  # keys per IN list


def _in(column: Any, values: Sequence[Any], dialect: str) -> Any:
    """`column IN values`: on PostgreSQL one array parameter (`= ANY($1)`), so a batch of any size
    is one prepared statement, whose generic plan still probes the index once per value."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))


def _among(table: Any, column: Any, values: Sequence[Any], dialect: str) -> tuple[Any, Any]:
    """(FROM clause, WHERE clause) for the rows whose `column` is one of `values`. PostgreSQL: the
    values unnested from one array parameter and joined, so every batch size is one prepared
    statement and even its generic plan probes the index once per value (`= ANY` let the planner
    of a never-analysed table scan the whole workspace and filter: a cost growing with the table,
    against a fixed cost per key). SQLite: an IN list."""
    if dialect == "postgresql":
        distinct = set(values)
        ordered = sorted_ids(distinct) if isinstance(next(iter(distinct), None), UUID) else sorted(distinct)
        keys = func.unnest(bindparam(None, ordered, type_=postgresql.ARRAY(column.type)))
        derived = keys.table_valued("value").render_derived()
        # IS NOT NULL lets the planner use partial indexes "WHERE column IS NOT NULL" (a join
        # condition alone does not prove it)
        return derived.join(table, column == derived.c.value), column.is_not(None)
    return table, column.in_(list(values))


def _by_keys(table: Any, keys: Sequence[Key], workspace_id: UUID, dialect: str) -> tuple[Any, Any]:
    """(FROM clause, WHERE clause) for the rows of these (source, external_id) pairs. PostgreSQL:
    the pairs unnested from two array parameters and joined on the unique index (a generic plan
    filtering on two ANY lists scanned the whole workspace: benchmarks/README.md). SQLite: two IN
    lists; the caller keeps the exact pairs."""
    if dialect == "postgresql":
        pairs = (
            func.unnest(
                bindparam(None, [k[0] for k in keys], type_=postgresql.ARRAY(table.c.source.type)),
                bindparam(None, [k[1] for k in keys], type_=postgresql.ARRAY(table.c.external_id.type)),
            )
            .table_valued("source", "external_id")
            .render_derived()
        )
        on = and_(
            table.c.workspace_id == workspace_id,
            table.c.source == pairs.c.source,
            table.c.external_id == pairs.c.external_id,
        )
        return pairs.join(table, on), true()
    where = and_(
        table.c.workspace_id == workspace_id,
        table.c.source.in_(sorted({k[0] for k in keys})),
        table.c.external_id.in_(sorted({k[1] for k in keys})),
    )
    return table, where


def _chunks(items: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# PostgreSQL: a batch's new shop ids in one statement of a fixed shape (a multi-row VALUES list
# is a new statement for every row count, parsed and planned each time), in the given order.
_LINK = text(
    """
INSERT INTO contact_identities (workspace_id, source, external_id, contact_id, created_at)
SELECT :workspace_id, v.source, v.external_id, v.contact_id, v.created_at
FROM unnest(CAST(:source AS varchar[]), CAST(:external_id AS varchar[]), CAST(:contact_id AS uuid[]),
            CAST(:created_at AS timestamptz[])) WITH ORDINALITY AS v(source, external_id, contact_id, created_at, n)
ORDER BY v.n
ON CONFLICT DO NOTHING
RETURNING source, external_id
"""
)


class OrderRepository(TenantRepository):
    table = o
    sortable = {"placed_at": datetime_key(o.c.placed_at), "created_at": datetime_key(o.c.created_at)}

    async def get(self, order_id: UUID) -> Row | None:
        return await self._get_by_id(order_id)

    async def stored(self, keys: Sequence[Key]) -> dict[Key, Row]:
        """What decides a sync: id, the shop's update time and the content hash, by key."""
        columns = (o.c.id, o.c.source, o.c.external_id, o.c.source_updated_at, o.c.content_hash)
        found: dict[Key, Row] = {}
        dialect = await self._dialect()
        for chunk in _chunks(sorted(keys), 5000):
            source, where = _by_keys(o, chunk, self.workspace_id, dialect)
            statement = select(*columns).select_from(source).where(where)
            for id_, source, external_id, updated, hash_ in (await self.uow.execute(statement)).all():
                found[(source, external_id)] = {"id": id_, "source_updated_at": updated, "content_hash": hash_}
        wanted = set(keys)
        return {k: v for k, v in found.items() if k in wanted}

    async def lock(self, keys: Sequence[Key]) -> dict[Key, Row]:
        """The full rows, locked for this transaction in key order (PostgreSQL; SQLite writers are
        serialised already)."""
        found: dict[Key, Row] = {}
        dialect = await self._dialect()
        for chunk in _chunks(sorted(keys), 5000):
            source, where = _by_keys(o, chunk, self.workspace_id, dialect)
            statement = (
                select(o).select_from(source).where(where).order_by(o.c.source, o.c.external_id).with_for_update(of=o)
            )
            for r in (await self.uow.execute(statement)).mappings():
                found[(r["source"], r["external_id"])] = dict(r)
        wanted = set(keys)
        return {k: v for k, v in found.items() if k in wanted}

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.uow.insert_rows(o, rows, {"workspace_id": self.workspace_id})

    async def update_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows with `id` and the same other columns each (the caller sets `version`), in key order."""
        ordered = sorted(rows, key=lambda r: r["id"].int)
        await self.uow.update_rows(o, [{**r, "workspace_id": self.workspace_id} for r in ordered], bump_version=False)

    async def update(self, order_id: UUID, version: int, values: Mapping[str, Any]) -> Row | None:
        return await self._update_versioned(order_id, version, values)

    async def replace_lines(self, replaced: Sequence[UUID], lines: Sequence[Mapping[str, Any]]) -> None:
        dialect = await self._dialect()
        for chunk in _chunks(list(replaced), 5000):
            await self.uow.execute(
                delete(ol).where(ol.c.workspace_id == self.workspace_id, _in(ol.c.order_id, chunk, dialect))
            )
        await self.uow.insert_rows(ol, lines, {"workspace_id": self.workspace_id})

    async def refunds_of(self, order_ids: Sequence[UUID]) -> dict[UUID, dict[str, int]]:
        """Each order's stored refunds: {order id: {refund external id: amount}}."""
        out: dict[UUID, dict[str, int]] = {}
        dialect = await self._dialect()
        for chunk in _chunks(list(order_ids), 5000):
            source, among = _among(rf, rf.c.order_id, chunk, dialect)
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
        for chunk in _chunks(list(contact_ids), 5000):
            source, among = _among(o, o.c.contact_id, chunk, dialect)
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
        for chunk in _chunks(list(contact_ids), 5000):
            source, among = _among(o, o.c.contact_id, chunk, dialect)
            statement = (
                select(o.c.contact_id, o.c.id, o.c.source, o.c.placed_at)
                .select_from(source)
                .where(self.scope, among, purchase)
                .order_by(o.c.contact_id, o.c.placed_at.desc(), o.c.id.desc())
            )
            for r in (await self.uow.execute(statement)).mappings():
                out[r["contact_id"]] = dict(r)  # the last one seen per contact is the earliest
        return out

    async def unconverted(self, currency: str, first_day: date, last_day: date) -> list[Row]:
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
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def list(
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        contact_id: UUID | None = None,
        status: OrderStatus | None = None,
        source: str | None = None,
        currency: str | None = None,
        conversion: str | None = None,
        placed_after: Any = None,
        placed_before: Any = None,
        import_id: UUID | None = None,
    ) -> Page:
        statement = select(o).where(self.scope)
        for column, value in (
            (o.c.import_id, import_id),
            (o.c.contact_id, contact_id),
            (o.c.status, status),
            (o.c.source, source),
            (o.c.currency, currency),
            (o.c.conversion, conversion),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if placed_after is not None:
            statement = statement.where(o.c.placed_at >= placed_after)
        if placed_before is not None:
            statement = statement.where(o.c.placed_at < placed_before)
        return await self._page(statement, sortable=self.sortable, sort=sort, cursor=cursor, limit=limit)


class ProductRepository(_Records):
    table = pr
    sortable = {"created_at": datetime_key(pr.c.created_at), "sku": text_key(pr.c.sku)}

    async def ensure(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, UUID]:
        """Products by SKU, created on first sight (a SKU seen again keeps its product); {sku: id}."""
        if not rows:
            return {}
        known = await self.ids_by_sku([r["sku"] for r in rows])
        missing = sorted((r for r in rows if r["sku"] not in known), key=lambda r: r["sku"])
        if missing:  # only SKUs not seen before are inserted (most of a catalogue is known by then)
            insert_ = dialect_insert(await self._dialect())
            await self.uow.execute(
                insert_(pr).on_conflict_do_nothing(), [{"workspace_id": self.workspace_id, **r} for r in missing]
            )
            known.update(await self.ids_by_sku([r["sku"] for r in missing]))
        return known

    async def ids_by_sku(self, skus: Sequence[str]) -> dict[str, UUID]:
        out: dict[str, UUID] = {}
        dialect = await self._dialect()
        for chunk in _chunks(sorted(set(skus)), 5000):
            source, among = _among(pr, pr.c.sku, chunk, dialect)
            statement = select(pr.c.sku, pr.c.id).select_from(source).where(self.scope, among)
            out.update({r[0]: r[1] for r in (await self.uow.execute(statement)).all()})
        return out


class ExchangeRateRepository(_Records):
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


class CustomerRepository(TenantRepository):
    """Contacts as the shops know them: identities per source, matching, and order facts."""

    table = co

    async def by_identities(self, keys: Sequence[Key]) -> dict[Key, UUID]:
        out: dict[Key, UUID] = {}
        dialect = await self._dialect()
        for chunk in _chunks(sorted(set(keys)), 5000):
            source, where = _by_keys(ci, chunk, self.workspace_id, dialect)
            statement = select(ci.c.source, ci.c.external_id, ci.c.contact_id).select_from(source).where(where)
            out.update({(r[0], r[1]): r[2] for r in (await self.uow.execute(statement)).all()})
        wanted = set(keys)
        return {k: v for k, v in out.items() if k in wanted}

    async def by_column(self, column: str, values: Sequence[str]) -> dict[str, UUID]:
        """The oldest live contact for each email key or E.164 phone."""
        col = co.c[column]
        out: dict[str, UUID] = {}
        dialect = await self._dialect()
        for chunk in _chunks(sorted(set(values)), 5000):
            source, among = _among(co, col, chunk, dialect)
            statement = (
                select(col, co.c.id)
                .select_from(source)
                .where(self.scope, co.c.archived_at.is_(None), among)
                .order_by(co.c.created_at.desc(), co.c.id.desc())
            )
            out.update({r[0]: r[1] for r in (await self.uow.execute(statement)).all()})  # the oldest wins
        return out

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.uow.insert_rows(co, rows, {"workspace_id": self.workspace_id})

    async def link(self, rows: Sequence[Mapping[str, Any]]) -> set[Key]:
        """Record (source, external id) → contact, in key order; the keys recorded. A key missing
        from the answer was recorded by a concurrent request first (its insert waited for that
        request to commit, so `by_identities` now sees its contact)."""
        if not rows:
            return set()
        dialect = await self._dialect()
        ordered = sorted(rows, key=lambda r: (r["source"], r["external_id"]))
        if dialect == "postgresql":  # one statement of one shape whatever the count (arrays)
            columns = {k: [r[k] for r in ordered] for k in ("source", "external_id", "contact_id", "created_at")}
            result = await self.uow.execute(_LINK, {"workspace_id": self.workspace_id, **columns})
            return {(r[0], r[1]) for r in result.all()}
        statement = dialect_insert(dialect)(ci).on_conflict_do_nothing().returning(ci.c.source, ci.c.external_id)
        result = await self.uow.execute(statement, [{"workspace_id": self.workspace_id, **r} for r in ordered])
        return {(r[0], r[1]) for r in result.all()}

    async def delete_new(self, contact_ids: Sequence[UUID]) -> None:
        """Drop contacts this request created and then found it did not need."""
        dialect = await self._dialect()
        for chunk in _chunks(sorted_ids(contact_ids), 5000):
            await self.uow.execute(delete(co).where(self.scope, _in(co.c.id, chunk, dialect)))

    async def rows(self, contact_ids: Sequence[UUID], columns: Sequence[str] | None = None) -> dict[UUID, Row]:
        """Contacts by id: whole rows, or only `columns` (and the id)."""
        out: dict[UUID, Row] = {}
        dialect = await self._dialect()
        selected = [co] if columns is None else [co.c.id, *(co.c[name] for name in columns if name != "id")]
        for chunk in _chunks(sorted_ids(set(contact_ids)), 5000):
            source, among = _among(co, co.c.id, chunk, dialect)
            statement = select(*selected).select_from(source).where(self.scope, among)
            result = await self.uow.execute(statement)
            keys = tuple(result.keys())  # rows as tuples zipped with the names: cheaper than mappings
            at = keys.index("id")
            out.update({r[at]: dict(zip(keys, r, strict=True)) for r in result.all()})
        return out

    async def update_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows with `_id` and the same columns each; version + 1. In id order."""
        ordered = sorted(rows, key=lambda r: r["_id"].int)
        await self.uow.update_rows(
            co,
            [{"workspace_id": self.workspace_id, "id": r["_id"], **{k: v for k, v in r.items() if k != "_id"}}
             for r in ordered],
            bump_version=True,
        )  # fmt: skip

    async def leads(self, lead_ids: Sequence[UUID]) -> dict[UUID, Row]:
        """What acquisition needs of the originating leads."""
        out: dict[UUID, Row] = {}
        for chunk in _chunks(sorted_ids(set(lead_ids))):
            statement = select(ld.c.id, ld.c.utm_source, ld.c.source, ld.c.created_at, ld.c.opportunity_id).where(
                ld.c.workspace_id == self.workspace_id, ld.c.id.in_(list(chunk))
            )
            out.update({r["id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()})
        return out

    async def open_leads(self, email_keys: Sequence[str], phones: Sequence[str]) -> list[Row]:
        """Open leads (new, contacted, nurturing; live) with one of these emails or phones."""
        rows: dict[UUID, Row] = {}
        dialect = await self._dialect()
        for column, values in ((ld.c.email_key, email_keys), (ld.c.phone_e164, phones)):
            for chunk in _chunks(sorted(set(values)), 5000):
                # The keys joined from one array (one statement whatever their count), the open
                # statuses as literals: the plan uses the open leads' unique indexes.
                source, among = _among(ld, column, chunk, dialect)
                scope = ld.c.workspace_id == self.workspace_id
                statement = select(ld).select_from(source).where(scope, among, *OPEN_WHERE)
                rows.update({r["id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()})
        return list(rows.values())

    async def with_orders(self) -> list[Row]:
        """(id, version, last_order_at, active_until) of every contact with a purchase."""
        statement = select(co.c.id, co.c.version, co.c.last_order_at, co.c.active_until).where(
            self.scope, co.c.last_order_at.is_not(None)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]
