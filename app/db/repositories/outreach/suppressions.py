"""Suppressed addresses of one workspace, found by their keyed hash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, or_, select

from app.db import tables
from app.db.repositories.base import Page, RecordRepository, Row, datetime_key

sp = tables.suppressions


class SuppressionRepository(RecordRepository[Row]):
    table = sp
    sortable = {"created_at": datetime_key(sp.c.created_at)}

    async def by_hash(self, channel: str, address_hash: str) -> Row | None:
        statement = select(sp).where(self.scope, sp.c.channel == channel, sp.c.address_hash == address_hash)
        return await self._one(statement)

    async def list(  # type: ignore[override]
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        channel: str | None = None,
        reason: str | None = None,
        address_hashes: Mapping[str, str] | None = None,
    ) -> Page[Row]:
        """Entries matching the filters given; `address_hashes` ({channel: keyed hash of the address
        on it}): only the entries of that address on those channels, erased ones included."""
        conditions = []
        if address_hashes is not None:
            conditions.append(
                or_(*(and_(sp.c.channel == c, sp.c.address_hash == h) for c, h in sorted(address_hashes.items())))
            )
        return await super().list(
            sort=sort, cursor=cursor, limit=limit, conditions=conditions, channel=channel, reason=reason
        )

    async def any_erased(self) -> bool:
        """Whether the workspace has any entry an erasure left (most never do)."""
        statement = select(sp.c.id).where(self.scope, sp.c.reason == "erased").limit(1)
        return (await self.uow.execute(statement)).first() is not None

    async def erased_among(self, hashes: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (channel, keyed hash) pairs an erasure suppressed (reason `erased`): one
        indexed lookup however many people and channels are asked about."""
        if not hashes:
            return set()
        statement = select(sp.c.channel, sp.c.address_hash).where(
            self.scope,
            sp.c.channel.in_(sorted({c for c, _ in hashes})),
            sp.c.address_hash.in_(sorted({h for _, h in hashes})),
            sp.c.reason == "erased",
        )
        found = {(c, h) for c, h in (await self.uow.execute(statement)).all()}
        return found & set(hashes)

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
