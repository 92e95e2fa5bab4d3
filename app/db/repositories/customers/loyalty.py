"""A workspace's loyalty points: the ledger and the contacts' running balances."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import case, func, select, update

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key, next_version

le, co = tables.loyalty_entries, tables.contacts
SORTABLE = {"created_at": datetime_key(le.c.created_at)}


class LoyaltyRepository(TenantRepository):
    table = le

    async def move_balance(self, contact_id: UUID, delta: int) -> int | None:
        """Add `delta` to the live contact's balance unless it would go below zero; the new
        balance, or None (no such live contact, or not enough points). One statement: on
        PostgreSQL a concurrent change waits for the row and the condition is checked again on
        the balance it left, so concurrent redemptions never overdraw."""
        statement = (
            update(co)
            .where(
                co.c.workspace_id == self.workspace_id,
                co.c.id == contact_id,
                co.c.archived_at.is_(None),
                co.c.loyalty_points + delta >= 0,
            )
            .values(loyalty_points=co.c.loyalty_points + delta, version=next_version(co))
            .returning(co.c.loyalty_points)
        )
        return (await self.uow.execute(statement)).scalar_one_or_none()

    async def balance(self, contact_id: UUID) -> int | None:
        statement = select(co.c.loyalty_points).where(
            co.c.workspace_id == self.workspace_id, co.c.id == contact_id, co.c.archived_at.is_(None)
        )
        return (await self.uow.execute(statement)).scalar_one_or_none()

    async def add(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def add_unless_recorded(self, values: Mapping[str, Any]) -> Row | None:
        """The entry, or None when its contact has an entry with its reference already."""
        return await self._insert_unless_exists(values)

    async def by_reference(self, contact_id: UUID, reference: str) -> Row | None:
        statement = select(le).where(self.scope, le.c.contact_id == contact_id, le.c.reference == reference)
        return await self._one(statement)

    async def list(self, contact_id: UUID, *, sort: Any, cursor: str | None, limit: int) -> Page:
        statement = select(le).where(self.scope, le.c.contact_id == contact_id)
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)

    async def lifetime_totals(self) -> dict[UUID, Row]:
        """Per contact with a ledger: points ever earned and ever redeemed (both positive), whatever
        expired or was spent since: what advocacy counts as rewards given."""
        earned = func.sum(case((le.c.kind == "earn", le.c.points), else_=0))
        redeemed = func.sum(case((le.c.kind == "redeem", -le.c.points), else_=0))
        statement = (
            select(le.c.contact_id, earned.label("earned"), redeemed.label("redeemed"))
            .where(self.scope)
            .group_by(le.c.contact_id)
        )
        return {row["contact_id"]: dict(row) for row in (await self.uow.execute(statement)).mappings()}
