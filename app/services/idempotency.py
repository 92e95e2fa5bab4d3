"""Idempotency-Key on POST: the first request claims the key in its own short transaction; its
result is stored in the use case's own transaction, so a committed change always has its stored
response and a rolled-back one leaves the key free for a retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app import jsonio
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.errors import IdempotencyKeyInUse, SecretNotReplayable
from app.domain.idempotency import RETENTION, Decision, decide
from app.services.context import Context
from app.services.privacy import subjects
from app.services.workspace import settings


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes
    # Set when the response carried a new secret: the created resource's path; nothing else of
    # the response was stored, so it cannot be replayed.
    secret_resource: str | None = None


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
            repo = WorkspaceRepositories(uow, workspace_id).idempotency
            if await repo.claim(key, fingerprint, now, placeholder_expiry):
                await uow.commit()
                return Claim(workspace_id, key)
            found = await repo.find(key)
            if found is None:
                continue
            stored, row = found
            if decide(stored, fingerprint, now) == Decision.REPLAY:
                return StoredResponse(
                    row["status_code"], dict(row["headers"] or {}), bytes(row["body"] or b""), row["secret_resource"]
                )
            if await repo.take_over(key, stored.locked_at, fingerprint, now, placeholder_expiry):
                await uow.commit()
                return Claim(workspace_id, key)
    raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being processed; retry later")


async def complete(
    ctx: Context, claim: Claim, status_code: int, headers: dict[str, str], body: bytes, *, path: str
) -> None:
    """Store the response in the use case's own transaction, kept for the workspace's retention,
    with refs to the people it holds data of (`subjects.answer_person_ids` for the request's
    `path`), so erasing one finds the stored answers that name them."""
    hours = await settings.retention_hours(ctx)
    repositories = WorkspaceRepositories(ctx.uow, claim.workspace_id)
    await repositories.idempotency.complete(
        claim.key, ctx.now, ctx.now + timedelta(hours=hours), status_code, headers, body
    )
    people = subjects.answer_person_ids(path, _json(headers, body))
    if people:
        # At once and idempotent: a key taken over once expired is stored again, its refs may exist
        await repositories.personal_refs.add_now(people, subjects.IDEMPOTENCY, claim.key)


def _json(headers: dict[str, str], body: bytes) -> Any:
    """The answer's JSON document (None for any other answer)."""
    if not body or "json" not in headers.get("content-type", ""):
        return None
    try:
        return jsonio.loads(body)
    except ValueError:
        return None


async def complete_secret(ctx: Context, claim: Claim, status_code: int, resource: str) -> None:
    """Store what a response that carried a new secret created (its path), never the response: a
    stored secret would outlive the one answer meant to show it (backups, replicas, anyone with
    the key and the same request). A replay answers 409 secret-not-replayable naming `resource`."""
    hours = await settings.retention_hours(ctx)
    await WorkspaceRepositories(ctx.uow, claim.workspace_id).idempotency.complete(
        claim.key, ctx.now, ctx.now + timedelta(hours=hours), status_code, None, None, secret_resource=resource
    )


def replay(stored: StoredResponse) -> StoredResponse:
    """The stored response to answer again; SecretNotReplayable when it carried a secret."""
    if stored.secret_resource is not None:
        raise SecretNotReplayable(
            "the first request with this Idempotency-Key created a resource whose secret was shown only in "
            f"its answer and never stored: revoke {stored.secret_resource} and create a new one",
            resource=stored.secret_resource,
        )
    return stored


async def release(database: Database, claim: Claim) -> None:
    async with UnitOfWork(database, write=True) as uow:
        await WorkspaceRepositories(uow, claim.workspace_id).idempotency.release(claim.key)
        await uow.commit()
