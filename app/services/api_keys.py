"""API keys: issue, list, revoke, and resolve a presented key to who is calling."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Hashable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain import api_keys as keys
from app.domain import events as types
from app.domain.concurrency import check_if_match
from app.domain.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.api_keys import ApiKeyRead
from app.services import events, lookups
from app.services.context import Actor, Context

LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    """The resolved key behind a request."""

    workspace_id: UUID
    key_id: UUID
    kind: keys.KeyKind
    scopes: frozenset[str]
    allowed_origins: tuple[str, ...]
    member_id: UUID | None
    last_used_at: datetime | None

    @property
    def actor(self) -> Actor:
        if self.member_id is not None:
            return Actor("member", str(self.member_id))
        return Actor("api_key", str(self.key_id))

    def allows(self, scope: str) -> bool:
        return self.kind is keys.KeyKind.SECRET and keys.allows(self.scopes, scope)

    def require(self, *scopes: str) -> None:
        """A secret key with at least one of `scopes` (Forbidden otherwise)."""
        if self.kind is not keys.KeyKind.SECRET:
            raise Forbidden("publishable keys can only submit lead-capture forms; use a secret key")
        if not any(keys.allows(self.scopes, scope) for scope in scopes):
            raise Forbidden(f"this key lacks the {' or '.join(repr(s) for s in scopes)} scope")


def generate(kind: keys.KeyKind) -> str:
    prefix = keys.SECRET_PREFIX if kind is keys.KeyKind.SECRET else keys.PUBLISHABLE_PREFIX
    return prefix + secrets.token_urlsafe(32)  # 256 random bits


async def issue(
    uow: UnitOfWork,
    workspace_id: UUID,
    *,
    name: str,
    spec: keys.KeySpec,
    member_id: UUID | None,
    actor: Actor,
    now: datetime,
) -> tuple[Row, str]:
    token = generate(spec.kind)
    row = await uow.api_keys(workspace_id).create(
        {
            "id": new_id(),
            "name": name,
            "kind": spec.kind.value,
            "digest": keys.digest(token),
            "redacted": keys.redact(token),
            "scopes": list(spec.scopes),
            "allowed_origins": list(spec.allowed_origins),
            "member_id": member_id,
            "created_at": now,
            "updated_at": now,
            "created_by": str(actor),
            "updated_by": str(actor),
        }
    )
    return row, token


async def create(
    ctx: Context,
    *,
    name: str,
    kind: keys.KeyKind,
    scopes: list[str],
    member_id: UUID | None,
    allowed_origins: list[str],
) -> tuple[Row, str]:
    spec = keys.validate_key_spec(kind, scopes, allowed_origins)
    if member_id is not None and await ctx.uow.members(ctx.workspace_id).get(member_id) is None:
        raise InvalidInput.field("member_id", "no member with this id in the workspace")
    row, token = await issue(
        ctx.uow, ctx.workspace_id, name=name, spec=spec, member_id=member_id, actor=ctx.actor, now=ctx.now
    )
    await events.record(ctx, types.API_KEY_CREATED, ApiKeyRead.model_validate(row))
    return row, token


async def get(ctx: Context, key_id: UUID) -> Row:
    row = await ctx.uow.api_keys(ctx.workspace_id).get(key_id)
    if row is None:
        raise NotFound("no API key with this id")
    return row


async def list_keys(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, kind: str | None, revoked: bool | None
) -> Page:
    return await ctx.uow.api_keys(ctx.workspace_id).list(
        sort=sort, cursor=cursor, limit=limit, kind=kind, revoked=revoked
    )


async def revoke(ctx: Context, key_id: UUID, *, if_match: str | None, resolver: KeyResolver) -> Row:
    row = await get(ctx, key_id)
    check_if_match(if_match, row["version"])
    if row["revoked_at"] is None:
        updated = await ctx.uow.api_keys(ctx.workspace_id).revoke(
            key_id, row["version"], {"revoked_at": ctx.now, **ctx.audit_change()}
        )
        if updated is None:
            raise NotFound("no API key with this id")
        await events.record(
            ctx, types.API_KEY_REVOKED, ApiKeyRead.model_validate(updated), previous=ApiKeyRead.model_validate(row)
        )
        row = updated
    resolver.forget(key_id)
    return row


class KeyResolver:
    """Resolves bearer tokens, with a short per-process cache (`API_KEY_CACHE_SECONDS`). A revoke
    evicts the key here at once; other processes see it when their cached entry expires."""

    def __init__(self, database: Database, ttl_seconds: float) -> None:
        self.database = database
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Caller | None]] = {}
        # Concurrent requests with an expired entry share one load, and one last-used write.
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}
        # Revoked here, possibly not yet committed: refuse even if a concurrent load cached it.
        self._revoked: dict[UUID, float] = {}

    def forget(self, key_id: UUID) -> None:
        self._revoked[key_id] = time.monotonic() + self.ttl
        for digest, (_, caller) in list(self._cache.items()):
            if caller is not None and caller.key_id == key_id:
                del self._cache[digest]

    async def resolve(self, token: str | None, now: datetime) -> Caller:
        if not token:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
        if keys.kind_of(token) is None:
            raise Unauthorized("malformed API key")
        digest = keys.digest(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            caller = cached[1]
        else:
            caller = await lookups.shared(self._loading, digest, lambda: self._load(digest))
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (time.monotonic() + self.ttl, caller)
        if caller is None or self._revoked.get(caller.key_id, 0.0) > time.monotonic():
            raise Unauthorized("unknown or revoked API key")
        if caller.last_used_at is None or now - caller.last_used_at >= LAST_USED_RESOLUTION:
            caller = await lookups.shared(self._loading, ("touch", digest), lambda: self._touch(digest, caller, now))
        return caller

    async def _load(self, digest: str) -> Caller | None:
        async with UnitOfWork(self.database, write=False) as uow:
            row: dict[str, Any] | None = await uow.system().key_by_digest(digest)
        if row is None or row["revoked_at"] is not None:
            return None
        return Caller(
            workspace_id=row["workspace_id"],
            key_id=row["id"],
            kind=keys.KeyKind(row["kind"]),
            scopes=frozenset(row["scopes"]),
            allowed_origins=tuple(row["allowed_origins"]),
            member_id=row["member_id"],
            last_used_at=row["last_used_at"],
        )

    async def _touch(self, digest: str, caller: Caller, now: datetime) -> Caller:
        async with UnitOfWork(self.database, write=True) as uow:
            await uow.api_keys(caller.workspace_id).touch(caller.key_id, now)
            await uow.commit()
        caller = replace(caller, last_used_at=now)
        entry = self._cache.get(digest)
        if entry is not None:
            self._cache[digest] = (entry[0], caller)
        return caller
