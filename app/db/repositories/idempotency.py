"""Stored results of requests sent with an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from app.db import tables
from app.db.repositories.base import TenantRepository
from app.domain.idempotency import StoredKey

t = tables.idempotency_keys


class IdempotencyRepository(TenantRepository):
    table = t

    async def find(self, key: str) -> tuple[StoredKey, dict[str, Any]] | None:
        row = await self._one(select(t).where(self.scope, t.c.key == key))
        if row is None:
            return None
        stored = StoredKey(
            fingerprint=row["fingerprint"],
            completed=row["completed_at"] is not None,
            locked_at=row["locked_at"],
            expires_at=row["expires_at"],
        )
        return stored, row

    async def lock(self, key: str, fingerprint: str, now: datetime, expires_at: datetime, *, replace: bool) -> bool:
        """Claim the key for a first request; False when another request claimed it first."""
        values = {
            "fingerprint": fingerprint,
            "locked_at": now,
            "expires_at": expires_at,
            "completed_at": None,
            "status_code": None,
            "headers": None,
            "body": None,
        }
        if replace:
            result = await self.uow.execute(update(t).where(self.scope, t.c.key == key).values(**values))
            return bool(result.rowcount)
        return await self._insert_unless_exists({"key": key, **values}) is not None

    async def complete(self, key: str, now: datetime, status_code: int, headers: dict[str, str], body: bytes) -> None:
        await self.uow.execute(
            update(t)
            .where(self.scope, t.c.key == key)
            .values(completed_at=now, status_code=status_code, headers=headers, body=body)
        )

    async def release(self, key: str) -> None:
        await self.uow.execute(delete(t).where(self.scope, t.c.key == key, t.c.completed_at.is_(None)))
