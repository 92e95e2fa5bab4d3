"""Loyalty points: a ledger per contact whose running balance never goes below zero, even when
redemptions race (one conditional UPDATE of the balance per entry; see LoyaltyRepository)."""

from __future__ import annotations

from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.customers import loyalty
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.customers.loyalty import LoyaltyEntryCreate, LoyaltyEntryRead
from app.services.context import Context
from app.services.events import events


async def record(ctx: Context, contact_id: UUID, entry: LoyaltyEntryCreate) -> tuple[Row, bool]:
    """(the entry, whether it is new). A known `reference` answers its entry and changes nothing."""
    repo = ctx.loyalty
    try:
        change = loyalty.delta(entry.kind, entry.points)
    except ValueError as exc:
        raise InvalidInput.field("points", str(exc)) from exc
    recorded = await _recorded(ctx, contact_id, entry, change)
    if recorded is not None:
        return recorded, False
    if entry.order_id is not None and await ctx.orders.get(entry.order_id) is None:
        raise InvalidInput.field("order_id", "no order with this id in the workspace")
    balance = await repo.move_balance(contact_id, change)
    if balance is None:
        # The same reference sent concurrently: the other request took the points first (this
        # one waited for it to commit): answer its entry.
        recorded = await _recorded(ctx, contact_id, entry, change)
        if recorded is not None:
            return recorded, False
        current = await repo.balance(contact_id)
        if current is None:
            raise NotFound("no contact with this id")
        raise Conflict(f"not enough points: the balance is {current}", extensions={"balance": current})
    row = await repo.add(_row(ctx, contact_id, entry, change, balance))
    await events.record(
        ctx, types.CONTACT_LOYALTY_CHANGED, LoyaltyEntryRead.model_validate(row), resource_id=contact_id
    )
    return row, True


def _row(ctx: Context, contact_id: UUID, entry: LoyaltyEntryCreate, change: int, balance: int) -> Row:
    return {
        "id": new_id(), "contact_id": contact_id, "kind": entry.kind.value, "points": change,
        "balance_after": balance, "reason": entry.reason, "reference": entry.reference, "order_id": entry.order_id,
        "created_at": ctx.now, "created_by": ctx.audit_new()["created_by"],
    }  # fmt: skip


async def earn_once(ctx: Context, contact_id: UUID, entry: LoyaltyEntryCreate) -> Row | None:
    """Points the service gives on its own (a referral reward): an `earn` entry recorded once per
    `reference`, by the ledger's rule. None, and nothing changed, when the reference is recorded
    already (with whatever points: the first entry stands) or the contact is gone."""
    assert entry.kind == loyalty.EntryKind.EARN and entry.reference is not None
    repo = ctx.loyalty
    if await repo.by_reference(contact_id, entry.reference) is not None:
        return None
    balance = await repo.move_balance(contact_id, entry.points)
    if balance is None:
        return None
    row = await repo.add_unless_recorded(_row(ctx, contact_id, entry, entry.points, balance))
    if row is None:  # a concurrent transaction recorded this reference first: give the points back
        await repo.move_balance(contact_id, -entry.points)
        return None
    await events.record(
        ctx, types.CONTACT_LOYALTY_CHANGED, LoyaltyEntryRead.model_validate(row), resource_id=contact_id
    )
    return row


async def _recorded(ctx: Context, contact_id: UUID, entry: LoyaltyEntryCreate, change: int) -> Row | None:
    """The entry recorded with this reference, if any (409 when it moved other points)."""
    if entry.reference is None:
        return None
    existing = await ctx.loyalty.by_reference(contact_id, entry.reference)
    if existing is not None and (existing["kind"] != entry.kind or existing["points"] != change):
        raise Conflict(
            "this reference was recorded with other points", extensions={"existing_entry_id": str(existing["id"])}
        )
    return existing


async def entries(ctx: Context, contact_id: UUID, *, sort: Sort, cursor: str | None, limit: int) -> Page:
    if await ctx.loyalty.balance(contact_id) is None:
        raise NotFound("no contact with this id")
    return await ctx.loyalty.list(contact_id, sort=sort, cursor=cursor, limit=limit)
