"""The reads of the customer 360 view: a fixed set of aggregate and short-list queries per
customer (a contact, or an account with its contacts), whatever the size of its history."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, or_, select

from app.db import tables
from app.db.repositories.base import Row, TenantRepository

co, tk, ct, qt, iv, op = (
    tables.contacts, tables.tickets, tables.contracts, tables.quotes, tables.invoices, tables.opportunities,
)  # fmt: skip
OPEN_TICKETS = ("open", "pending")
OPEN_QUOTES = ("draft", "sent")
UNPAID = ("open", "partially_paid")
VALUE_ADDED = ("upsell", "cross_sell")
RECENT = 5


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class CustomerViewRepository(TenantRepository):
    table = co

    def _of(self, table: Any, owner: str, owner_id: UUID) -> list[Any]:
        return [table.c.workspace_id == self.workspace_id, table.c[owner] == owner_id]

    async def account_facts(self, account_id: UUID) -> Row:
        """The orders and loyalty figures of an account's live contacts, summed (one query)."""
        statement = select(
            func.coalesce(func.sum(co.c.orders_count), 0).label("orders_count"),
            func.coalesce(func.sum(co.c.revenue_minor), 0).label("revenue_minor"),
            func.coalesce(func.sum(co.c.refunded_minor), 0).label("refunded_minor"),
            func.min(co.c.first_order_at).label("first_order_at"),
            func.max(co.c.last_order_at).label("last_order_at"),
            func.min(co.c.customer_since).label("customer_since"),
            func.coalesce(func.sum(co.c.loyalty_points), 0).label("loyalty_points"),
            func.coalesce(func.sum(co.c.referrals_count), 0).label("referrals_count"),
            func.count().label("contacts"),
        ).where(co.c.workspace_id == self.workspace_id, co.c.account_id == account_id, co.c.archived_at.is_(None))
        return dict((await self.uow.execute(statement)).mappings().one())

    async def ticket_summary(self, owner: str, owner_id: UUID) -> Row:
        statement = select(
            func.count().label("total"),
            _count(tk.c.status.in_(OPEN_TICKETS)).label("open"),
            func.avg(tk.c.satisfaction).label("satisfaction_average"),
            func.count(tk.c.satisfaction).label("satisfaction_count"),
        ).where(*self._of(tk, owner, owner_id), tk.c.archived_at.is_(None))
        return dict((await self.uow.execute(statement)).mappings().one())

    async def recent(self, table: Any, owner: str, owner_id: UUID, *conditions: Any, order: Any = None) -> list[Row]:
        """Up to RECENT live records of the customer matching `conditions`, newest first."""
        statement = (
            select(table)
            .where(*self._of(table, owner, owner_id), *conditions)
            .order_by(order if order is not None else table.c.created_at.desc(), table.c.id.desc())
            .limit(RECENT)
        )
        if "archived_at" in table.c:
            statement = statement.where(table.c.archived_at.is_(None))
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def open_tickets(self, owner: str, owner_id: UUID) -> list[Row]:
        return await self.recent(tk, owner, owner_id, tk.c.status.in_(OPEN_TICKETS))

    async def renewals(self, owner: str, owner_id: UUID, today: date, until: date) -> list[Row]:
        """Contracts ending between today and `until`, soonest first."""
        return await self.recent(ct, owner, owner_id, ct.c.end_on >= today, ct.c.end_on <= until, order=ct.c.end_on)

    async def open_quotes(self, owner: str, owner_id: UUID) -> list[Row]:
        return await self.recent(qt, owner, owner_id, qt.c.status.in_(OPEN_QUOTES))

    async def unpaid_invoices(self, owner: str, owner_id: UUID) -> list[Row]:
        return await self.recent(iv, owner, owner_id, iv.c.status.in_(UNPAID))

    async def referred(self, contact_id: UUID) -> list[Row]:
        """The latest contacts this one referred."""
        return await self.recent(co, "referred_by_contact_id", contact_id)

    async def contract_summary(self, owner: str, owner_id: UUID, today: date, renew_by: date) -> list[Row]:
        """Active contracts and their value, and those ending by `renew_by`, per currency."""
        active = or_(ct.c.end_on.is_(None), ct.c.end_on >= today)
        statement = (
            select(
                ct.c.currency,
                _count(active & (ct.c.start_on <= today)).label("active"),
                func.coalesce(func.sum(case((active & (ct.c.start_on <= today), ct.c.value_minor), else_=0)), 0)
                .label("active_value_minor"),
                _count((ct.c.end_on >= today) & (ct.c.end_on <= renew_by)).label("ending_soon"),
            )
            .where(*self._of(ct, owner, owner_id), ct.c.archived_at.is_(None))
            .group_by(ct.c.currency)
        )  # fmt: skip
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def quote_summary(self, owner: str, owner_id: UUID) -> list[Row]:
        statement = (
            select(qt.c.currency, func.count().label("open"), func.sum(qt.c.total_minor).label("total_minor"))
            .where(*self._of(qt, owner, owner_id), qt.c.archived_at.is_(None), qt.c.status.in_(OPEN_QUOTES))
            .group_by(qt.c.currency)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def invoice_summary(self, owner: str, owner_id: UUID, today: date) -> list[Row]:
        statement = (
            select(
                iv.c.currency,
                func.count().label("unpaid"),
                func.sum(iv.c.amount_due_minor - iv.c.amount_paid_minor).label("balance_minor"),
                _count(iv.c.due_on < today).label("overdue"),
            )
            .where(*self._of(iv, owner, owner_id), iv.c.archived_at.is_(None), iv.c.status.in_(UNPAID))
            .group_by(iv.c.currency)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def value_added(self, owner: str, owner_id: UUID) -> list[Row]:
        """Won upsell and cross-sell opportunities: count and amount per currency."""
        statement = (
            select(op.c.currency, func.count().label("count"), func.sum(op.c.amount_minor).label("amount_minor"))
            .where(
                *self._of(op, owner, owner_id),
                op.c.archived_at.is_(None),
                op.c.stage == "won",
                op.c.type.in_(VALUE_ADDED),
            )
            .group_by(op.c.currency)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]
