"""The temperature and stage history of leads (each change as it happened)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import Page, TenantRepository, datetime_key

h = tables.lead_state_changes
HISTORY_SORT = {"occurred_at": datetime_key(h.c.occurred_at)}


class StateChangeRepository(TenantRepository):
    table = h

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.uow.defer_insert(h, [{**row, "workspace_id": self.workspace_id} for row in rows])

    async def list(self, lead_id: UUID, *, sort: Any, cursor: str | None, limit: int) -> Page:
        statement = select(h).where(self.scope, h.c.lead_id == lead_id)
        return await self._page(statement, sortable=HISTORY_SORT, sort=sort, cursor=cursor, limit=limit)
