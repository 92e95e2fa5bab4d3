"""Service and finance records of one workspace: tickets, contracts, quotes, invoices and payments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import Table, case, update

from app.db import tables
from app.db.repositories.base import RecordRepository, Row, SortKey, datetime_key, next_version


def _created(table: Table) -> dict[str, SortKey]:
    return {"created_at": datetime_key(table.c.created_at)}


class TicketRepository(RecordRepository):
    table = tables.tickets
    sortable = _created(tables.tickets)


class ContractRepository(RecordRepository):
    table = tables.contracts
    sortable = _created(tables.contracts)


class QuoteRepository(RecordRepository):
    table = tables.quotes
    sortable = _created(tables.quotes)


class InvoiceRepository(RecordRepository):
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
                version=next_version(iv),
                **audit,
            )
            .returning(iv)
        )
        return await self._one(statement)


class PaymentRepository(RecordRepository):
    table = tables.payments
    sortable = _created(tables.payments)
