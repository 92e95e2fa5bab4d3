"""Durable timers of one workspace: scheduled and cancelled by key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import Row, TenantRepository
from app.db.wakeups import TIMERS

t = tables.timers


class TimerRepository(TenantRepository):
    table = t

    async def add(self, values: Mapping[str, Any]) -> Row | None:
        """None when a timer with this key exists already (scheduling is idempotent by key)."""
        row = await self._insert_unless_exists(values)
        if row is not None:
            self.uow.wake(TIMERS)
        return row

    async def by_key(self, key: str) -> Row | None:
        return await self._one(select(t).where(self.scope, t.c.key == key))

    async def cancel(self, key: str) -> bool:
        statement = update(t).where(self.scope, t.c.key == key, t.c.status == "pending").values(status="cancelled")
        return bool((await self.uow.execute(statement)).rowcount)
