"""The workspace row itself (the tenant), read and updated through its own keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from app.db import tables
from app.db.repositories.base import Row, TenantRepository


class WorkspaceRepository(TenantRepository):
    table = tables.workspaces

    @property
    def scope(self) -> ColumnElement[bool]:
        return self.table.c.id == self.workspace_id

    async def get(self) -> Row | None:
        return await self._one(select(self.table).where(self.scope))

    async def update(self, version: int, values: Mapping[str, Any]) -> Row | None:
        return await self._update_versioned(self.workspace_id, version, values)
