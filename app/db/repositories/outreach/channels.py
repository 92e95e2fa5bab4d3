"""Channels of one workspace: how it reaches people (email, SMS, WhatsApp) through a provider."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import RecordRepository, Row, datetime_key, next_version

ch = tables.channels


class ChannelRepository(RecordRepository[Row]):
    table = ch
    sortable = {"created_at": datetime_key(ch.c.created_at)}

    async def default_of(self, channel_type: str) -> Row | None:
        """The live default channel of a type."""
        statement = select(ch).where(
            self.scope, ch.c.type == channel_type, ch.c.is_default.is_(True), ch.c.archived_at.is_(None)
        )
        return await self._row(statement)

    async def oldest_live(self, channel_type: str) -> Row | None:
        """The oldest live channel of a type (the one that becomes its default)."""
        statement = (
            select(ch)
            .where(self.scope, ch.c.type == channel_type, ch.c.archived_at.is_(None))
            .order_by(ch.c.created_at, ch.c.id)
            .limit(1)
        )
        return await self._row(statement)

    async def set_default(self, channel_id: UUID, is_default: bool, audit: dict[str, Any]) -> Row | None:
        """Mark or unmark a channel as its type's default (a new version)."""
        statement = (
            update(ch)
            .where(self.scope, ch.c.id == channel_id)
            .values(is_default=is_default, version=next_version(ch), **audit)
            .returning(ch)
        )
        return await self._row(statement)
