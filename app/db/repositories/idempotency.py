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

    async def claim(self, key: str, fingerprint: str, now: datetime, expires_at: datetime) -> bool:
        """Claim an unused key for a first request (one statement); False when a row exists."""
        return await self._insert_unless_exists({"key": key, **_fresh(fingerprint, now, expires_at)}) is not None

    async def take_over(
        self, key: str, stale_locked_at: datetime, fingerprint: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Reclaim an expired or abandoned key; compare-and-set, so only one request wins it."""
        statement = (
            update(t)
            .where(self.scope, t.c.key == key, t.c.locked_at == stale_locked_at)
            .values(**_fresh(fingerprint, now, expires_at))
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def complete(
        self,
        key: str,
        now: datetime,
        expires_at: datetime,
        status_code: int,
        headers: dict[str, str] | None,
        body: bytes | None,
        *,
        secret_resource: str | None = None,
    ) -> None:
        await self.uow.execute(
            update(t)
            .where(self.scope, t.c.key == key)
            .values(
                completed_at=now,
                expires_at=expires_at,
                status_code=status_code,
                headers=headers,
                body=body,
                secret_resource=secret_resource,
            )
        )

    async def purge_expired(self, now: datetime) -> list[str]:
        """Delete the answers kept past their time; the keys deleted."""
        statement = delete(t).where(self.scope, t.c.expires_at < now, t.c.completed_at.is_not(None)).returning(t.c.key)
        return list((await self.uow.execute(statement)).scalars())

    async def release(self, key: str) -> None:
        await self.uow.execute(delete(t).where(self.scope, t.c.key == key, t.c.completed_at.is_(None)))


def _fresh(fingerprint: str, now: datetime, expires_at: datetime) -> dict[str, object]:
    return {
        "fingerprint": fingerprint,
        "locked_at": now,
        "expires_at": expires_at,
        "completed_at": None,
        "status_code": None,
        "headers": None,
        "body": None,
        "secret_resource": None,
    }
