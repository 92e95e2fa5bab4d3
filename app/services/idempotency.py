"""Idempotency-Key on POST: the first request claims the key in its own short transaction; its
result is stored in the use case's own transaction, so a committed change always has its stored
response and a rolled-back one leaves the key free for a retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.errors import IdempotencyKeyInUse
from app.domain.idempotency import Decision, decide
from app.services import settings
from app.services.context import SYSTEM, Context


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Claim:
    workspace_id: UUID
    key: str


async def begin(
    database: Database, workspace_id: UUID, key: str, fingerprint: str, now: datetime
) -> Claim | StoredResponse:
    """Claim the key, or return the stored response to replay. Raises when the key is in use by an
    unfinished request (409) or was used for another request (422)."""
    for _ in range(2):  # a second pass when a concurrent first request claimed the key before us
        async with UnitOfWork(database, write=True) as uow:
            repo = uow.idempotency(workspace_id)
            found = await repo.find(key)
            decision = decide(found[0] if found else None, fingerprint, now)
            if decision == Decision.REPLAY and found is not None:
                row = found[1]
                return StoredResponse(row["status_code"], dict(row["headers"] or {}), bytes(row["body"] or b""))
            hours = await settings.retention_hours(Context(uow, workspace_id, SYSTEM, now))
            expires_at = now + timedelta(hours=hours)
            if await repo.lock(key, fingerprint, now, expires_at, replace=found is not None):
                await uow.commit()
                return Claim(workspace_id, key)
    raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being processed; retry later")


async def complete(
    uow: UnitOfWork, claim: Claim, now: datetime, status_code: int, headers: dict[str, str], body: bytes
) -> None:
    await uow.idempotency(claim.workspace_id).complete(claim.key, now, status_code, headers, body)


async def release(database: Database, claim: Claim) -> None:
    async with UnitOfWork(database, write=True) as uow:
        await uow.idempotency(claim.workspace_id).release(claim.key)
        await uow.commit()
