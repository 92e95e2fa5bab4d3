"""Suppressed addresses of one workspace, found by their keyed hash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select

from app.db import tables
from app.db.repositories.base import RecordRepository, Row, datetime_key

sp = tables.suppressions


class SuppressionRepository(RecordRepository[Row]):
    table = sp
    sortable = {"created_at": datetime_key(sp.c.created_at)}

    async def by_hash(self, channel: str, address_hash: str) -> Row | None:
        statement = select(sp).where(self.scope, sp.c.channel == channel, sp.c.address_hash == address_hash)
        return await self._one(statement)

    async def existing_hashes(self, channel: str, address_hashes: Sequence[str]) -> set[str]:
        """Which of these keyed hashes are suppressed on `channel`."""
        if not address_hashes:
            return set()
        statement = select(sp.c.address_hash).where(
            self.scope, sp.c.channel == channel, sp.c.address_hash.in_(list(address_hashes))
        )
        return set((await self.uow.execute(statement)).scalars())

    async def add(self, values: Mapping[str, Any]) -> Row | None:
        """The new entry; None when the address is suppressed on the channel already."""
        return await self._insert_unless_exists(values)

    async def delete(self, suppression_id: UUID) -> bool:
        statement = delete(sp).where(self.scope, sp.c.id == suppression_id)
        return bool((await self.uow.execute(statement)).rowcount)
