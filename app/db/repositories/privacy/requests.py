"""Privacy requests of one workspace: exports and erasures, listed newest first, followed by their
jobs, and the exports whose documents have expired."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, tuple_, update

from app.db import tables
from app.db.repositories.base import Page, Row, SortKey, TenantRepository, datetime_key

t = tables.privacy_requests
SORTABLE: dict[str, SortKey] = {"created_at": datetime_key(t.c.created_at)}


class PrivacyRequestRepository(TenantRepository[Row]):
    table = t

    async def add(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def get(self, request_id: UUID, kind: str | None = None) -> Row | None:
        statement = select(t).where(self.scope, t.c.id == request_id)
        if kind is not None:
            statement = statement.where(t.c.kind == kind)
        return await self._one(statement)

    async def list(self, *, kind: str, sort: Any, cursor: str | None, limit: int, status: str | None) -> Page[Row]:
        statement = select(t).where(self.scope, t.c.kind == kind)
        if status is not None:
            statement = statement.where(t.c.status == status)
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)

    async def set(self, request_id: UUID, values: Mapping[str, Any], *, unfinished: bool = False) -> Row | None:
        """Change a request; `unfinished`: only while it is pending or running."""
        statement = update(t).where(self.scope, t.c.id == request_id)
        if unfinished:
            statement = statement.where(t.c.status.in_(("pending", "running")))
        return await self._one(statement.values(version=t.c.version + 1, **values).returning(t))

    async def expired_exports(
        self, *, before: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> builtins.list[Row]:  # `list` in this class is the method above
        """Exports whose documents expire before `before`, oldest first, after [time, id]."""
        statement = select(t.c.id, t.c.expires_at).where(
            self.scope, t.c.status == "ready", t.c.expires_at.is_not(None), t.c.expires_at < before
        )
        if after is not None:
            statement = statement.where(tuple_(t.c.expires_at, t.c.id) > tuple_(*after))
        statement = statement.order_by(t.c.expires_at, t.c.id).limit(limit)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]
