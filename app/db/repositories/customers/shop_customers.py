"""Contacts as the shops know them: their identities per source, matching by email or phone, and
what order sync reads and writes of them in batches (rows in key order, as in orders.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast, overload
from uuid import UUID

from sqlalchemy import delete, select, text

from app.db import tables
from app.db.repositories.base import Row, TenantRepository, dialect_insert
from app.db.repositories.customers.keys import Key, among_values, by_keys, chunks, one_of
from app.db.repositories.customers.rows import ContactRow
from app.db.repositories.leads.leads import OPEN_WHERE
from app.db.repositories.leads.rows import LeadRow
from app.ids import sorted_ids

ci, co, ld = tables.contact_identities, tables.contacts, tables.leads

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


class CustomerRepository(TenantRepository[ContactRow]):
    """Contacts as the shops know them: identities per source, matching, and order facts."""

    table = co

    async def by_identities(self, keys: Sequence[Key]) -> dict[Key, UUID]:
        out: dict[Key, UUID] = {}
        dialect = await self._dialect()
        for chunk in chunks(sorted(set(keys)), 5000):
            source, where = by_keys(ci, chunk, self.workspace_id, dialect)
            statement = select(ci.c.source, ci.c.external_id, ci.c.contact_id).select_from(source).where(where)
            out.update({(r[0], r[1]): r[2] for r in (await self.uow.execute(statement)).all()})
        wanted = set(keys)
        return {k: v for k, v in out.items() if k in wanted}

    async def by_column(self, column: str, values: Sequence[str]) -> dict[str, UUID]:
        """The oldest live contact for each email key or E.164 phone."""
        col = co.c[column]
        out: dict[str, UUID] = {}
        dialect = await self._dialect()
        for chunk in chunks(sorted(set(values)), 5000):
            source, among = among_values(co, col, chunk, dialect)
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
        for chunk in chunks(sorted_ids(contact_ids), 5000):
            await self.uow.execute(delete(co).where(self.scope, one_of(co.c.id, chunk, dialect)))

    @overload
    async def rows(self, contact_ids: Sequence[UUID], columns: None = None) -> dict[UUID, ContactRow]: ...
    @overload
    async def rows(self, contact_ids: Sequence[UUID], columns: Sequence[str]) -> dict[UUID, Row]: ...
    async def rows(
        self, contact_ids: Sequence[UUID], columns: Sequence[str] | None = None
    ) -> dict[UUID, ContactRow] | dict[UUID, Row]:
        """Contacts by id: whole rows, or only `columns` (and the id)."""
        out: dict[UUID, Row] = {}
        dialect = await self._dialect()
        selected = [co] if columns is None else [co.c.id, *(co.c[name] for name in columns if name != "id")]
        for chunk in chunks(sorted_ids(set(contact_ids)), 5000):
            source, among = among_values(co, co.c.id, chunk, dialect)
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
        for chunk in chunks(sorted_ids(set(lead_ids))):
            statement = select(ld.c.id, ld.c.utm_source, ld.c.source, ld.c.created_at, ld.c.opportunity_id).where(
                ld.c.workspace_id == self.workspace_id, ld.c.id.in_(list(chunk))
            )
            out.update({r["id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()})
        return out

    async def open_leads(self, email_keys: Sequence[str], phones: Sequence[str]) -> list[LeadRow]:
        """Open leads (new, contacted, nurturing; live) with one of these emails or phones."""
        rows: dict[UUID, Row] = {}
        dialect = await self._dialect()
        for column, values in ((ld.c.email_key, email_keys), (ld.c.phone_e164, phones)):
            for chunk in chunks(sorted(set(values)), 5000):
                # The keys joined from one array (one statement whatever their count), the open
                # statuses as literals: the plan uses the open leads' unique indexes.
                source, among = among_values(ld, column, chunk, dialect)
                scope = ld.c.workspace_id == self.workspace_id
                statement = select(ld).select_from(source).where(scope, among, *OPEN_WHERE)
                rows.update({r["id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()})
        return cast("list[LeadRow]", list(rows.values()))

    async def with_orders(self) -> list[Row]:
        """(id, version, last_order_at, active_until) of every contact with a purchase."""
        statement = select(co.c.id, co.c.version, co.c.last_order_at, co.c.active_until).where(
            self.scope, co.c.last_order_at.is_not(None)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]
