"""API keys of one workspace (the cross-workspace lookup by digest is in system.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key, where_equal
from app.domain.pagination import Sort

t = tables.api_keys
SORTABLE = {"created_at": datetime_key(t.c.created_at)}


class ApiKeyRepository(TenantRepository):
    table = t

    async def get(self, key_id: UUID) -> Row | None:
        return await self._get_by_id(key_id)

    async def create(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def revoke(self, key_id: UUID, version: int, values: Mapping[str, Any]) -> Row | None:
        return await self._update_versioned(key_id, version, values)

    async def list(
        self, *, sort: Sort, cursor: str | None, limit: int, kind: str | None = None, revoked: bool | None = None
    ) -> Page:
        statement = where_equal(select(t).where(self.scope), {t.c.kind: kind})
        if revoked is not None:
            statement = statement.where(t.c.revoked_at.is_not(None) if revoked else t.c.revoked_at.is_(None))
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)

    async def touch(self, key_id: UUID, used_at: Any) -> None:
        """Record use; callers throttle this to once a minute. Not a resource change: no version bump."""
        await self.uow.execute(update(t).where(self.scope, t.c.id == key_id).values(last_used_at=used_at))
