"""Jobs of one workspace (the worker's cross-workspace claim is in outbox.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key
from app.db.wakeups import JOBS

t = tables.jobs
SORTABLE = {"created_at": datetime_key(t.c.created_at)}


class JobRepository(TenantRepository):
    table = t

    async def get(self, job_id: UUID) -> Row | None:
        return await self._get_by_id(job_id)

    async def create(self, values: Mapping[str, Any]) -> Row:
        self.uow.wake(JOBS)
        return await self._insert(values)

    async def list(
        self, *, sort: Any, cursor: str | None, limit: int, status: str | None = None, kind: str | None = None
    ) -> Page:
        statement = select(t).where(self.scope)
        if status is not None:
            statement = statement.where(t.c.status == status)
        if kind is not None:
            statement = statement.where(t.c.kind == kind)
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)
