"""A customer's service and finance records: tickets, contracts, quotes, invoices and payments.
Each is a record kind (app/services/customers/records.py: CRUD, versions, events); their own rules live here:
ticket times follow its status, a quote's total follows its lines, an invoice's paid amount and
status follow its payments, which never pay more than the balance (one conditional UPDATE)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.db.repositories.customers.service_records import InvoiceRepository, QuoteRepository
from app.domain.concurrency import check_if_match
from app.domain.errors import Conflict, ErrorList, InvalidInput, NotFound
from app.domain.money import MAX_MINOR, from_minor, round_to_currency, to_minor
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.customers.service_records import ContractRead, InvoiceRead, PaymentRead, QuoteRead, TicketRead
from app.services.context import Context, write_changes
from app.services.customers import records
from app.services.customers.records import Kind
from app.services.events import events
from app.services.workspace import workspaces


async def _unique_number(
    kind: str, repo: QuoteRepository | InvoiceRepository, values: Mapping[str, Any], current: Row | None
) -> None:
    """A quote's or invoice's number is unique in the workspace (409 naming the holder)."""
    number = values.get("number")
    if number and number != (current or {}).get("number"):
        holder = await repo.by_column("number", number)
        if holder is not None:
            raise Conflict(f"another {kind} has this number", extensions={f"existing_{kind}_id": str(holder["id"])})


async def _customer(ctx: Context, values: dict[str, Any], current: Row | None, errors: ErrorList) -> None:
    """Links name live records of the workspace; a new record names its customer."""
    await records.check_links(ctx, values, errors)
    if current is None and not values.get("contact_id") and not values.get("account_id"):
        errors.add("contact_id", "name the customer: contact_id or account_id")


# -- tickets -------------------------------------------------------------------------------------
SOLVED = ("solved", "closed")


async def _ticket(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    errors = ErrorList()
    await _customer(ctx, values, current, errors)
    prepared = dict(values)
    if current is None:
        prepared["opened_at"] = values.get("opened_at") or ctx.now
    status = prepared.get("status") or (current or {}).get("status")
    before = (current or {}).get("status")
    if status != before:
        if status in SOLVED:
            prepared["solved_at"] = (current or {}).get("solved_at") or ctx.now
            prepared["closed_at"] = ctx.now if status == "closed" else None
        else:  # reopened
            prepared["solved_at"] = prepared["closed_at"] = None
    if values.get("satisfaction") is not None and status not in SOLVED:
        errors.add("satisfaction", "a customer rates a ticket once it is solved or closed")
    errors.raise_if_any()
    return prepared


# -- contracts -----------------------------------------------------------------------------------
async def _contract(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    errors = ErrorList()
    await _customer(ctx, values, current, errors)
    prepared = dict(values)
    await records.money_field(ctx, "value", values, current, prepared, errors)
    start = prepared.get("start_on", (current or {}).get("start_on"))
    end = prepared["end_on"] if "end_on" in prepared else (current or {}).get("end_on")
    if start is not None and end is not None and end < start:
        errors.add("end_on", "before start_on")
    errors.raise_if_any()
    return prepared


# -- quotes --------------------------------------------------------------------------------------
DECIDED = ("accepted", "declined", "expired")


def _lines(lines: list[dict[str, Any]], currency: str, errors: ErrorList) -> tuple[list[dict[str, Any]], int]:
    """Each line with its total (quantity x unit_price - discount, in the currency's decimals)."""
    out, total = [], 0
    for index, line in enumerate(lines):
        try:
            to_minor(line["unit_price"], currency)
            to_minor(line.get("discount") or "0", currency)
        except ValueError as exc:
            errors.add(f"lines.{index}.unit_price", str(exc))
            continue
        amount = Decimal(line["unit_price"]) * line["quantity"] - Decimal(line.get("discount") or "0")
        if amount < 0:
            errors.add(f"lines.{index}.discount", "more than the line's amount")
            continue
        try:
            minor = to_minor(round_to_currency(amount, currency), currency)
        except ValueError as exc:  # too large
            errors.add(f"lines.{index}.quantity", f"the line's total: {exc}")
            continue
        total += minor
        out.append({**line, "total": from_minor(minor, currency)})
    if total >= MAX_MINOR:
        errors.add("lines", "the quote's total is too large")
    return out, total


async def _quote(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    await _unique_number("quote", ctx.quotes, values, current)
    errors = ErrorList()
    await records.check_links(ctx, values, errors)  # a new quote's customer defaults to its opportunity's
    prepared = dict(values)
    if current is None:
        opportunity = await ctx.opportunities.get(values["opportunity_id"])
        currency = values.get("currency") or (opportunity["currency"] if opportunity is not None else None)
        prepared["currency"] = currency or (await workspaces.get(ctx))["currency"]
        prepared["status"] = "draft"
        if opportunity is not None:  # the quote's customer defaults to the opportunity's
            prepared.setdefault("contact_id", None)
            prepared["contact_id"] = prepared["contact_id"] or opportunity.get("contact_id")
            prepared["account_id"] = prepared.get("account_id") or opportunity.get("account_id")
    elif current["status"] in DECIDED and ("lines" in values or values.get("status") not in (None, current["status"])):
        raise Conflict(f"the quote is {current['status']}: make a new one")
    if "lines" in values and values["lines"] is not None:
        currency = prepared.get("currency") or (current or {})["currency"]
        prepared["lines"], prepared["total_minor"] = _lines(values["lines"], currency, errors)
    status, before = prepared.get("status"), (current or {}).get("status")
    if current is not None and status is not None and status != before:
        if status == "sent":
            prepared["sent_at"] = ctx.now
        elif status in DECIDED:
            prepared["decided_at"] = ctx.now
        elif status == "draft" and before != "draft":
            errors.add("status", "a sent quote does not go back to draft")
    errors.raise_if_any()
    return prepared


# -- invoices and payments -------------------------------------------------------------------------
async def _invoice(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    await _unique_number("invoice", ctx.invoices, values, current)
    errors = ErrorList()
    await _customer(ctx, values, current, errors)
    prepared = dict(values)
    await records.money_field(ctx, "amount_due", values, current, prepared, errors)
    if current is not None:
        paid = current["amount_paid_minor"]
        due = prepared.get("amount_due_minor", current["amount_due_minor"])
        if due is not None and due < paid:
            errors.add("amount_due", f"less than what was paid ({from_minor(paid, current['currency'])})")
        status = values.get("status")
        if status in ("draft", "open") and paid > 0:
            errors.add("status", "payments were made: the status follows them")
        elif status == "void" and paid > 0:
            raise Conflict("void its payments first")
        elif status is None and "amount_due_minor" in prepared and paid > 0 and due is not None:
            prepared["status"] = "paid" if paid >= due else "partially_paid"
        if current["status"] == "void" and status not in (None, "void"):
            errors.add("status", "a void invoice stays void")
    errors.raise_if_any()
    return prepared


async def _payment(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    return dict(values)  # only method and paid_at change after creation


TICKET = Kind("ticket", lambda repos: repos.tickets, TicketRead, _ticket)
CONTRACT = Kind("contract", lambda repos: repos.contracts, ContractRead, _contract)
QUOTE = Kind("quote", lambda repos: repos.quotes, QuoteRead, _quote)
INVOICE = Kind("invoice", lambda repos: repos.invoices, InvoiceRead, _invoice)
PAYMENT = Kind("payment", lambda repos: repos.payments, PaymentRead, _payment)


async def create_payment(ctx: Context, values: dict[str, Any]) -> Row:
    """A payment of an open or partially paid invoice: never more than its balance, even when
    payments race (one conditional UPDATE moves the invoice's paid amount and status)."""
    invoices = ctx.invoices
    invoice = await invoices.get(values["invoice_id"])
    if invoice is None or invoice["archived_at"] is not None:
        raise InvalidInput.field("invoice_id", "no invoice with this id in the workspace")
    currency = invoice["currency"]
    if values.get("currency") not in (None, currency):
        raise InvalidInput.field("currency", f"the invoice is in {currency}")
    try:
        amount = to_minor(values["amount"], currency)
    except ValueError as exc:
        raise InvalidInput.field("amount", str(exc)) from exc
    if amount <= 0:
        raise InvalidInput.field("amount", "a payment pays something")
    reference = values.get("reference")
    known = await ctx.payments.by_column("reference", reference) if reference else None
    if known is not None:
        raise Conflict(
            "a payment with this reference is recorded", extensions={"existing_payment_id": str(known["id"])}
        )
    if invoice["status"] not in ("open", "partially_paid"):
        raise Conflict(f"the invoice is {invoice['status']}: it takes no payment")
    updated = await invoices.move_paid(invoice["id"], amount, ctx.audit_change())
    if updated is None:
        current = await invoices.get(invoice["id"])
        balance = from_minor(current["amount_due_minor"] - current["amount_paid_minor"], currency) if current else "0"
        raise InvalidInput.field("amount", f"more than the invoice's balance ({balance})")
    row = await ctx.payments.create({
        "id": new_id(), "invoice_id": invoice["id"], "contact_id": invoice["contact_id"],
        "account_id": invoice["account_id"], "amount_minor": amount, "currency": currency,
        "paid_at": values.get("paid_at") or ctx.now, "method": values.get("method") or "other",
        "reference": values.get("reference"), **ctx.audit_new(),
    })  # fmt: skip
    await events.record(ctx, "payment.created", PaymentRead.model_validate(row))
    await events.record(
        ctx, "invoice.updated", InvoiceRead.model_validate(updated), previous=InvoiceRead.model_validate(invoice)
    )
    return row


async def void_payment(ctx: Context, payment_id: UUID, *, if_match: str | None) -> Row:
    """A payment taken back: its amount no longer counts; the invoice's status follows. Idempotent."""
    payments = ctx.payments
    payment = await records.get(ctx, PAYMENT, payment_id)
    check_if_match(if_match, payment["version"])
    if payment["voided_at"] is not None:
        return payment
    invoices = ctx.invoices
    invoice = await invoices.get(payment["invoice_id"])
    updated = await invoices.move_paid(payment["invoice_id"], -payment["amount_minor"], ctx.audit_change())
    if updated is None or invoice is None:
        raise Conflict("the invoice no longer takes this change")
    voided = await write_changes(ctx, payment, {"voided_at": ctx.now}, partial(payments.update, payment_id),
                                 if_match=if_match)  # fmt: skip
    await events.record(ctx, "payment.voided", PaymentRead.model_validate(voided), previous=PaymentRead.model_validate(
        payment))  # fmt: skip
    await events.record(
        ctx, "invoice.updated", InvoiceRead.model_validate(updated), previous=InvoiceRead.model_validate(invoice)
    )
    return voided


# -- lists with their own filters ----------------------------------------------------------------
async def list_contracts(ctx: Context, *, ends_before: date | None = None, **filters: Any) -> Page:
    repo = ctx.contracts
    conditions = [repo.table.c.end_on < ends_before] if ends_before is not None else []
    return await repo.list(conditions=conditions, **filters)


async def list_invoices(
    ctx: Context, *, unpaid: bool | None = None, due_before: date | None = None, **filters: Any
) -> Page:
    repo = ctx.invoices
    c = repo.table.c
    conditions: list[Any] = []
    if unpaid is not None:
        open_ = c.status.in_(("open", "partially_paid"))
        conditions.append(open_ if unpaid else ~open_)
    if due_before is not None:
        conditions.append(c.due_on < due_before)
    return await repo.list(conditions=conditions, **filters)


async def list_payments(ctx: Context, *, sort: Sort, cursor: str | None, limit: int, **filters: Any) -> Page:
    return await ctx.payments.list(sort=sort, cursor=cursor, limit=limit, archived=None, **filters)


async def get_invoice(ctx: Context, invoice_id: UUID) -> Row:
    row = await ctx.invoices.get(invoice_id)
    if row is None:
        raise NotFound("no invoice with this id")
    return row
