"""Accounts, contacts, opportunities and tasks of one workspace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Integer, String, Table, Uuid, bindparam, case, exists, func, or_, select, text, update

from app.db import tables
from app.db.repositories.base import Page, Row, SortKey, TenantRepository, datetime_key, text_key

ac, co, op, tk = tables.accounts, tables.contacts, tables.opportunities, tables.tasks
cv = tables.customer_values
_ANY_CONTACT = (
    text("SELECT 1 AS one FROM contacts WHERE workspace_id = :ws LIMIT 1")
    .bindparams(bindparam("ws", type_=Uuid))
    .columns(one=Integer)
)


def _json_list_has(column: Any, value: str, postgres: bool) -> Any:
    """A JSON array column holds `value`: JSONB containment on PostgreSQL, json_each on SQLite."""
    if postgres:
        return column.op("@>")(func.jsonb_build_array(bindparam(None, value, type_=String)))
    items = func.json_each(column).table_valued("value")
    return exists().select_from(items).where(items.c.value == value)


class _Records(TenantRepository):
    """CRUD with equality filters and keyset pages; archived rows only when asked."""

    sortable: Mapping[str, SortKey]

    async def get(self, record_id: UUID) -> Row | None:
        return await self._get_by_id(record_id)

    async def existing(self, record_ids: Sequence[UUID]) -> set[UUID]:
        ids = [i for i in record_ids if i is not None]
        if not ids:
            return set()
        statement = select(self.table.c.id).where(self.scope, self.table.c.id.in_(ids))
        return set((await self.uow.execute(statement)).scalars())

    async def create(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def by_column(self, column: str, value: Any) -> Row | None:
        """The record whose unique `column` (a number, a reference) is `value`."""
        return await self._one(select(self.table).where(self.scope, self.table.c[column] == value))

    async def update(self, record_id: UUID, version: int, values: Mapping[str, Any]) -> Row | None:
        return await self._update_versioned(record_id, version, values)

    async def list(
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        archived: bool | None = False,
        ranges: Sequence[tuple[str, Any, Any]] = (),
        conditions: Sequence[Any] = (),
        **equal: Any,
    ) -> Page:
        t: Table = self.table
        statement = select(t).where(self.scope, *conditions)
        if archived is not None and "archived_at" in t.c:
            statement = statement.where(t.c.archived_at.is_not(None) if archived else t.c.archived_at.is_(None))
        for column, value in equal.items():
            if value is not None:
                statement = statement.where(t.c[column] == value)
        for column, lower, upper in ranges:
            if lower is not None:
                statement = statement.where(t.c[column] >= lower)
            if upper is not None:
                statement = statement.where(t.c[column] < upper)
        return await self._page(statement, sortable=self.sortable, sort=sort, cursor=cursor, limit=limit)


class AccountRepository(_Records):
    table = ac
    sortable = {"created_at": datetime_key(ac.c.created_at), "name": text_key(ac.c.name)}

    async def by_domain_or_name(self, domain: str | None, name: str) -> Row | None:
        """An account to link a qualified lead to: same domain, else same name (case-insensitive)."""
        live = (self.scope, ac.c.archived_at.is_(None))
        if domain:
            row = await self._one(select(ac).where(*live, ac.c.domain == domain).order_by(ac.c.created_at).limit(1))
            if row is not None:
                return row
        statement = select(ac).where(*live, func.lower(ac.c.name) == name.lower()).order_by(ac.c.created_at).limit(1)
        return await self._one(statement)


class ContactRepository(_Records):
    table = co
    sortable = {
        "created_at": datetime_key(co.c.created_at),
        "last_order_at": SortKey(
            co.c.last_order_at, lambda v: v.isoformat(), datetime.fromisoformat, only=co.c.last_order_at.is_not(None)
        ),
    }

    async def segment_conditions(
        self,
        *,
        now: datetime,
        active: bool | None = None,
        has_orders: bool | None = None,
        tag: str | None = None,
        interest: str | None = None,
        last_order_after: datetime | None = None,
        last_order_before: datetime | None = None,
        revenue_min_minor: int | None = None,
        revenue_max_minor: int | None = None,
        snapshot_id: UUID | None = None,
        rfm_segment: str | None = None,
        churn_level: str | None = None,
        clv_min_minor: int | None = None,
        clv_max_minor: int | None = None,
    ) -> list[Any]:
        """The conditions of the customer filters (lists and saved segments share them)."""
        conditions: list[Any] = []
        if active is True:
            conditions.append(co.c.active_until > now)
        elif active is False:
            conditions.append(or_(co.c.active_until.is_(None), co.c.active_until <= now))
        if has_orders is not None:
            conditions.append(co.c.orders_count > 0 if has_orders else co.c.orders_count == 0)
        postgres = await self._dialect() == "postgresql"
        for column, value in ((co.c.tags, tag), (co.c.interests, interest)):
            if value is not None:
                conditions.append(_json_list_has(column, value, postgres))
        if last_order_after is not None:
            conditions.append(co.c.last_order_at >= last_order_after)
        if last_order_before is not None:
            conditions.append(co.c.last_order_at < last_order_before)
        if revenue_min_minor is not None:
            conditions.append(co.c.revenue_minor >= revenue_min_minor)
        if revenue_max_minor is not None:
            conditions.append(co.c.revenue_minor <= revenue_max_minor)
        valued = [
            (cv.c.rfm_segment == rfm_segment) if rfm_segment is not None else None,
            (cv.c.churn_level == churn_level) if churn_level is not None else None,
            (cv.c.predicted_clv_minor >= clv_min_minor) if clv_min_minor is not None else None,
            (cv.c.predicted_clv_minor <= clv_max_minor) if clv_max_minor is not None else None,
        ]
        if any(c is not None for c in valued):
            # The latest analytics snapshot's values (none yet: nothing matches).
            conditions.append(co.c.id.in_(select(cv.c.contact_id).where(
                cv.c.workspace_id == self.workspace_id, cv.c.snapshot_id == snapshot_id,
                *(c for c in valued if c is not None),
            )))  # fmt: skip
        return conditions

    async def list_contacts(self, *, now: datetime, segment: dict[str, Any], **kwargs: Any) -> Page:
        """Contacts with the customer filters (`segment`) and the equality filters."""
        conditions = await self.segment_conditions(now=now, **segment)
        return await self.list(conditions=conditions, **kwargs)

    async def count_contacts(self, *, now: datetime, segment: dict[str, Any], **equal: Any) -> int:
        """How many live contacts a filter matches (a saved segment's count)."""
        conditions = await self.segment_conditions(now=now, **segment)
        statement = select(func.count()).select_from(co).where(self.scope, co.c.archived_at.is_(None), *conditions)
        for column, value in equal.items():
            if value is not None:
                statement = statement.where(co.c[column] == value)
        return int((await self.uow.execute(statement)).scalar_one())

    async def add_referrals(self, contact_id: UUID, delta: int) -> None:
        """Move a contact's referral count (no new version: a count kept for reads)."""
        statement = (
            update(co).where(self.scope, co.c.id == contact_id).values(referrals_count=co.c.referrals_count + delta)
        )
        await self.uow.execute(statement)

    async def take_referrers(self, referrers: Mapping[UUID, UUID], audit: Mapping[str, Any]) -> set[UUID]:
        """Make each contact ({contact id: referrer}) name its referrer when it names none yet, in
        id order (a new version); the contacts that took theirs. The condition is checked on the
        row as it is now: a contact a concurrent write made name someone keeps that referrer."""
        taken: set[UUID] = set()
        for contact_id in sorted(referrers, key=lambda i: i.int):
            statement = (
                update(co)
                .where(self.scope, co.c.id == contact_id, co.c.referred_by_contact_id.is_(None))
                .values(referred_by_contact_id=referrers[contact_id], version=co.c.version + 1, **audit)
                .returning(co.c.id)
            )
            if (await self.uow.execute(statement)).first() is not None:
                taken.add(contact_id)
        return taken

    async def referrers(self, contact_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        """{contact id: the contact it names as its referrer} of these contacts that name one."""
        out: dict[UUID, UUID] = {}
        ordered = sorted(set(contact_ids), key=lambda i: i.int)
        for start in range(0, len(ordered), 1000):
            statement = select(co.c.id, co.c.referred_by_contact_id).where(
                self.scope, co.c.id.in_(ordered[start : start + 1000]), co.c.referred_by_contact_id.is_not(None)
            )
            out.update({r[0]: r[1] for r in (await self.uow.execute(statement)).all()})
        return out

    async def any(self) -> bool:
        """Whether the workspace has a contact (a read outside the write transaction)."""
        return bool(await self.uow.fetch_read(_ANY_CONTACT, {"ws": self.workspace_id}))

    async def by_email_or_phone(self, email_key: str | None, phone_e164: str | None) -> Row | None:
        """The oldest live contact with this email, else with this phone."""
        for column, value in ((co.c.email_key, email_key), (co.c.phone_e164, phone_e164)):
            if value:
                statement = (
                    select(co)
                    .where(self.scope, co.c.archived_at.is_(None), column == value)
                    .order_by(co.c.created_at)
                    .limit(1)
                )
                row = await self._one(statement)
                if row is not None:
                    return row
        return None


class OpportunityRepository(_Records):
    table = op
    sortable = {"created_at": datetime_key(op.c.created_at)}


class TaskRepository(_Records):
    table = tk
    sortable = {"created_at": datetime_key(tk.c.created_at)}

    async def relink(self, lead_id: UUID, values: Mapping[str, Any]) -> int:
        """Point a lead's tasks at the records it became; how many."""
        statement = update(tk).where(self.scope, tk.c.lead_id == lead_id).values(**values)
        return int((await self.uow.execute(statement)).rowcount or 0)


class SegmentRepository(_Records):
    table = tables.segments
    sortable = {"created_at": datetime_key(tables.segments.c.created_at)}


def _created(table: Table) -> dict[str, SortKey]:
    return {"created_at": datetime_key(table.c.created_at)}


class TicketRepository(_Records):
    table = tables.tickets
    sortable = _created(tables.tickets)


class ContractRepository(_Records):
    table = tables.contracts
    sortable = _created(tables.contracts)


class QuoteRepository(_Records):
    table = tables.quotes
    sortable = _created(tables.quotes)


class InvoiceRepository(_Records):
    table = tables.invoices
    sortable = _created(tables.invoices)

    async def move_paid(self, invoice_id: UUID, delta: int, audit: Mapping[str, Any]) -> Row | None:
        """Add `delta` to the paid amount of a live, payable invoice unless that would pay more than
        is due or less than nothing; its status follows (open, partially_paid, paid). The updated
        invoice, or None. One statement: concurrent payments wait for the row and re-check."""
        iv = tables.invoices
        paid = iv.c.amount_paid_minor + delta
        payable = ("open", "partially_paid") if delta > 0 else ("partially_paid", "paid")
        statement = (
            update(iv)
            .where(
                self.scope,
                iv.c.id == invoice_id,
                iv.c.archived_at.is_(None),
                iv.c.status.in_(payable),
                paid >= 0,
                paid <= iv.c.amount_due_minor,
            )
            .values(
                amount_paid_minor=paid,
                status=case((paid >= iv.c.amount_due_minor, "paid"), (paid > 0, "partially_paid"), else_="open"),
                version=iv.c.version + 1,
                **audit,
            )
            .returning(iv)
        )
        return await self._one(statement)


class PaymentRepository(_Records):
    table = tables.payments
    sortable = _created(tables.payments)
