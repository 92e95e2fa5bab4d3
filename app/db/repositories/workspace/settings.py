"""Per-feature settings sections of one workspace, stored as one JSON document per section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import Row, TenantRepository, next_version

t = tables.workspace_settings


class SettingsRepository(TenantRepository):
    table = t

    async def get(self, section: str) -> Row | None:
        return await self._one(select(t).where(self.scope, t.c.section == section))

    async def create(self, values: Mapping[str, Any]) -> Row | None:
        """None when a concurrent request created the section first."""
        return await self._insert_unless_exists(values)

    async def update(self, section: str, version: int, values: Mapping[str, Any]) -> Row | None:
        statement = (
            t.update()
            .where(self.scope, t.c.section == section, t.c.version == version)
            .values(version=next_version(t), **values)
            .returning(t)
        )
        return await self._one(statement)
