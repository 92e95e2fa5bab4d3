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
from app.domain.idempotency import RETENTION, Decision, decide
from app.services import settings
from app.services.context import Context


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
    unfinished request (409) or was used for another request (422). The common case, a new key,
    is one INSERT."""
    placeholder_expiry = now + RETENTION  # the real expiry is set when the response is stored
    for _ in range(2):  # once more if the row we collided with was released before we could read it
        async with UnitOfWork(database, write=True) as uow:
            repo = uow.idempotency(workspace_id)
            if await repo.claim(key, fingerprint, now, placeholder_expiry):
                await uow.commit()
                return Claim(workspace_id, key)
            found = await repo.find(key)
            if found is None:
                continue
            stored, row = found
            if decide(stored, fingerprint, now) == Decision.REPLAY:
                return StoredResponse(row["status_code"], dict(row["headers"] or {}), bytes(row["body"] or b""))
            if await repo.take_over(key, stored.locked_at, fingerprint, now, placeholder_expiry):
                await uow.commit()
                return Claim(workspace_id, key)
    raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being processed; retry later")


async def complete(ctx: Context, claim: Claim, status_code: int, headers: dict[str, str], body: bytes) -> None:
    """Store the response in the use case's own transaction, kept for the workspace's retention."""
    hours = await settings.retention_hours(ctx)
    await ctx.uow.idempotency(claim.workspace_id).complete(
        claim.key, ctx.now, ctx.now + timedelta(hours=hours), status_code, headers, body
    )


async def release(database: Database, claim: Claim) -> None:
    async with UnitOfWork(database, write=True) as uow:
        await uow.idempotency(claim.workspace_id).release(claim.key)
        await uow.commit()
