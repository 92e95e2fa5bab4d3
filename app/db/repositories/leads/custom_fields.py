"""The workspace's custom field definitions (the extra fields its leads carry)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select

from app.db import tables
from app.db.repositories.base import Row, TenantRepository

cf = tables.custom_fields


class CustomFieldRepository(TenantRepository):
    table = cf

    async def all(self) -> list[Row]:
        statement = select(cf).where(self.scope).order_by(cf.c.created_at, cf.c.id)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def get(self, field_id: UUID) -> Row | None:
        return await self._get_by_id(field_id)

    async def create(self, values: Mapping[str, Any]) -> Row | None:
        """None when the key is taken."""
        return await self._insert_unless_exists(values)

    async def update(self, field_id: UUID, version: int, values: Mapping[str, Any]) -> Row | None:
        return await self._update_versioned(field_id, version, values)

    async def delete(self, field_id: UUID) -> None:
        await self.uow.execute(delete(cf).where(self.scope, cf.c.id == field_id))
