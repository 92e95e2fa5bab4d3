"""API keys: issue, list, revoke, and resolve a presented key to who is calling."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.audit.entries import diff
from app.domain.concurrency import check_if_match
from app.domain.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.domain.events import events as types
from app.domain.pagination import Sort
from app.domain.workspace import api_keys as keys
from app.ids import new_id
from app.schemas.workspace.api_keys import ApiKeyRead
from app.services.audit import audit
from app.services.context import Actor, Context
from app.services.events import events
from app.services.leads import lookups

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
    expires_at: datetime | None = None
    revoked: bool = False
    member_active: bool = True  # an unbound key has no member to be deactivated

    def refusal(self, now: datetime) -> str | None:
        """Why this key does not authenticate at `now` (None: it does). Said only to whoever holds
        the key itself, so the reason is no secret."""
        if self.revoked:
            return "this API key was revoked"
        if not self.member_active:
            return "the member this API key acts as is deactivated"
        if keys.expired(self.expires_at, now):
            return "this API key has expired"
        return None

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
    row = await WorkspaceRepositories(uow, workspace_id).api_keys.create(
        {
            "id": new_id(),
            "name": name,
            "kind": spec.kind.value,
            "digest": keys.digest(token),
            "redacted": keys.redact(token),
            "scopes": list(spec.scopes),
            "allowed_origins": list(spec.allowed_origins),
            "member_id": member_id,
            "expires_at": spec.expires_at,
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
    expires_at: datetime | None = None,
) -> tuple[Row, str]:
    spec = keys.validate_key_spec(kind, scopes, allowed_origins, expires_at=expires_at, now=ctx.now)
    if member_id is not None:
        member = await ctx.members.get(member_id)
        if member is None:
            raise InvalidInput.field("member_id", "no member with this id in the workspace")
        if not member["active"]:  # the key would be refused from its first request
            raise InvalidInput.field("member_id", "this member is deactivated; reactivate them first")
    row, token = await issue(
        ctx.uow, ctx.workspace_id, name=name, spec=spec, member_id=member_id, actor=ctx.actor, now=ctx.now
    )
    await events.record(ctx, types.API_KEY_CREATED, ApiKeyRead.model_validate(row))
    audit.record(ctx, resource="api_keys", action="create", resource_id=row["id"], changes=_key_created(row, token))
    return row, token


# What an API key's audit entry shows of it (its secret only as masked: the diff never holds it).
AUDITED_KEY_FIELDS = ("name", "kind", "scopes", "allowed_origins", "member_id", "expires_at", "redacted")


def _key_created(row: Row, token: str) -> dict[str, dict[str, Any]]:
    created = ApiKeyRead.model_validate(row).model_dump(mode="json")
    return {**diff(None, created, AUDITED_KEY_FIELDS), "key": {"before": None, "after": token}}


async def get(ctx: Context, key_id: UUID) -> Row:
    row = await ctx.api_keys.get(key_id)
    if row is None:
        raise NotFound("no API key with this id")
    return row


async def list_keys(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, kind: str | None, revoked: bool | None
) -> Page:
    return await ctx.api_keys.list(sort=sort, cursor=cursor, limit=limit, kind=kind, revoked=revoked)


async def revoke(ctx: Context, key_id: UUID, *, if_match: str | None, resolver: KeyResolver) -> Row:
    row = await get(ctx, key_id)
    check_if_match(if_match, row["version"])
    if row["revoked_at"] is None:
        updated = await ctx.api_keys.revoke(key_id, row["version"], {"revoked_at": ctx.now, **ctx.audit_change()})
        if updated is None:
            raise NotFound("no API key with this id")
        await events.record(
            ctx, types.API_KEY_REVOKED, ApiKeyRead.model_validate(updated), previous=ApiKeyRead.model_validate(row)
        )
        before = ApiKeyRead.model_validate(row).model_dump(mode="json")
        after = ApiKeyRead.model_validate(updated).model_dump(mode="json")
        audit.record(
            ctx, resource="api_keys", action="revoke", resource_id=key_id, changes=diff(before, after, ["revoked_at"])
        )
        row = updated
    else:  # revoked before: the request changed nothing, and says so
        audit.record(ctx, resource="api_keys", action="revoke", resource_id=key_id)
    resolver.forget(key_id)
    return row


# Keys seen to be refused (unknown, revoked, expired, member deactivated) are remembered apart
# from the good ones, in a table of their own this size: a flood of made-up keys churns only this
# table and never pushes a good key out of the lookup cache.
REFUSED_CACHE_SIZE = 1_024
# How long a key this process authenticated stays "known good" after its last lookup found it good
# (`KeyResolver.standing`): such a key is still looked up from an address that is over the
# failed-authentication limit. Far longer than the lookup cache, so a key in steady use never
# drops out while its address is refused for other keys' failures.
KNOWN_GOOD_SECONDS = 15 * 60.0
# A revoke made here refuses its key for this long whatever a lookup read; a deactivation or
# reactivation is pending until a lookup begun after it reads it from the database, or for this
# long (it commits with the request that made it, after the resolver was told; one whose
# transaction rolled back is never read). Far longer than any request's transaction or lookup may
# run (pool and lock timeouts are 30 s and 5 s), so no lookup that read the row as it was outlives
# the marker.
PENDING_SECONDS = 120.0


class Standing(Enum):
    """What this process knows of a presented key before looking it up."""

    CACHED = "cached"  # good, in the lookup cache: resolved from memory
    KNOWN = "known"  # found good by a lookup within KNOWN_GOOD_SECONDS
    UNKNOWN = "unknown"


class KeyResolver:
    """Resolves bearer tokens, with a short per-process cache (`API_KEY_CACHE_SECONDS`): good keys
    in a table of at most `capacity` entries (`API_KEY_CACHE_SIZE`), refused ones in a small table
    of their own. A revoke, a member's deactivation or reactivation takes effect here at once; other
    processes see it when their cached entry expires. An expiry is checked on every request, cached
    or not.

    A change made here is told to the resolver before its transaction commits, so until then a
    lookup reads the row as it was. Three rules keep such a read from outliving the change:
    - the change is *pending* (a marker per key or member): while it is, a revoked or deactivated
      key is refused whatever a lookup read, and no lookup that contradicts it is cached (so a
      reactivated member's keys are not cached as refused either). A revoke's marker stays its
      full PENDING_SECONDS (a revoke is never undone, and any lookup may be one that read the row
      before it committed). A (de/re)activation's marker goes once a lookup begun after it was
      told reads the changed row: that row speaks for itself. One begun earlier may have read the
      same state from before an earlier change (a deactivation, reactivation, deactivation in
      turn), so it proves nothing;
    - every change and every confirmation starts a new *generation*: a lookup begun under an older
      one may have read the old row, so its answer serves its own request but is not cached, and
      each request it serves checks the markers first;
    - lookups in flight are forgotten on each new generation, so a request that arrives after it
      starts a lookup of its own instead of sharing one that may have read the old row."""

    def __init__(self, database: Database, ttl_seconds: float, capacity: int = 10_000) -> None:
        self.database = database
        self.ttl = ttl_seconds
        self.capacity = max(capacity, 1)
        self._cache: dict[str, tuple[float, Caller]] = {}
        self._refused: dict[str, tuple[float, Caller | None]] = {}
        # Digests of keys a lookup found good, with when (oldest first; at most `capacity`).
        self._known_good: dict[str, float] = {}
        # Concurrent requests with an expired entry share one load, and one last-used write.
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}
        # Pending changes made here, until when, and (de/re)activations the generation they began.
        self._revoked: dict[UUID, float] = {}
        self._deactivated: dict[UUID, tuple[float, int]] = {}
        self._reactivated: dict[UUID, tuple[float, int]] = {}
        self._generation = 0

    def forget(self, key_id: UUID) -> None:
        """The key was revoked in this process."""
        self._revoked[key_id] = time.monotonic() + PENDING_SECONDS
        self._drop(lambda caller: caller.key_id == key_id)

    def member_deactivated(self, member_id: UUID) -> None:
        """The member's keys stop working in this process at once."""
        self._reactivated.pop(member_id, None)
        self._drop(lambda caller: caller.member_id == member_id)
        self._deactivated[member_id] = (time.monotonic() + PENDING_SECONDS, self._generation)

    def member_reactivated(self, member_id: UUID) -> None:
        """The member's keys (those not revoked or expired) work again: forget that they were refused."""
        self._deactivated.pop(member_id, None)
        self._drop(lambda caller: caller.member_id == member_id)
        self._reactivated[member_id] = (time.monotonic() + PENDING_SECONDS, self._generation)

    def standing(self, token: str) -> Standing:
        digest = keys.digest(token)
        clock = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > clock:
            return Standing.CACHED
        seen = self._known_good.get(digest)  # no default: the clock may count from a boot minutes ago
        if seen is not None and seen > clock - KNOWN_GOOD_SECONDS:
            return Standing.KNOWN
        return Standing.UNKNOWN

    def _new_generation(self) -> None:
        self._generation += 1
        self._loading.clear()  # shared() leaves a load it no longer finds here to its own callers

    def _drop(self, matches: Callable[[Caller], bool]) -> None:
        self._new_generation()
        for table in (self._cache, self._refused):
            for digest, (_, caller) in list(table.items()):
                if caller is not None and matches(caller):
                    del table[digest]
        now = time.monotonic()
        if len(self._revoked) > 1_000:  # kept until they lapse
            for key_id, until in list(self._revoked.items()):
                if until <= now:
                    del self._revoked[key_id]
        for markers in (self._deactivated, self._reactivated):
            if len(markers) > 1_000:  # a change never read back (rolled back, or its key unused)
                for member_id, (until, _) in list(markers.items()):
                    if until <= now:
                        del markers[member_id]

    async def resolve(self, token: str | None, now: datetime) -> Caller:
        if not token:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
        if keys.kind_of(token) is None:
            raise Unauthorized("malformed API key")
        digest = keys.digest(token)
        clock = time.monotonic()
        cached = self._cache.get(digest) or self._refused.get(digest)
        if cached is not None and cached[0] > clock:
            caller = cached[1]
        else:
            generation = self._generation  # shared loads all began in this generation (see above)
            caller = await lookups.shared(self._loading, digest, lambda: self._load(digest))
            self._remember(digest, caller, clock, now, generation)
        if caller is None:
            raise Unauthorized("unknown API key")
        clock = time.monotonic()
        if self._revoked.get(caller.key_id, 0.0) > clock:
            raise Unauthorized("this API key was revoked")
        if caller.member_id is not None and self._pending(self._deactivated, caller.member_id, clock):
            raise Unauthorized("the member this API key acts as is deactivated")
        refusal = caller.refusal(now)
        if refusal is not None:
            raise Unauthorized(refusal)
        good: Caller = caller
        if good.last_used_at is None or now - good.last_used_at >= LAST_USED_RESOLUTION:
            good = await lookups.shared(self._loading, ("touch", digest), lambda: self._touch(digest, good, now))
        return good

    def _remember(self, digest: str, caller: Caller | None, clock: float, now: datetime, generation: int) -> None:
        stale = generation != self._generation  # checked before a confirmation starts another
        if caller is not None:
            self._confirm(caller, generation)
            if self._contradicts(caller):
                return
        if stale:
            return
        good = caller is not None and caller.refusal(now) is None
        table: dict[str, Any] = self._cache if good else self._refused
        other: dict[str, Any] = self._refused if good else self._cache
        other.pop(digest, None)
        table.pop(digest, None)  # re-inserted last: the table drops its oldest entries first
        if len(table) >= (self.capacity if good else REFUSED_CACHE_SIZE):
            del table[next(iter(table))]
        table[digest] = (clock + self.ttl, caller)
        self._known_good.pop(digest, None)
        if good:
            if len(self._known_good) >= self.capacity:
                del self._known_good[next(iter(self._known_good))]
            self._known_good[digest] = clock

    def _confirm(self, caller: Caller, generation: int) -> None:
        """Drop the (de/re)activation this row, read by a lookup begun in `generation`, shows
        committed: only one the lookup began after, as an earlier lookup may have read the same
        state from before a change that came between. Lookups begun before the confirmation may
        have read the row as it was, and once the marker is gone nothing else would keep them out
        of the cache: a new generation does. A revoke's marker is never dropped here (see
        PENDING_SECONDS)."""
        member = caller.member_id
        if member is None:
            return
        markers = self._reactivated if caller.member_active else self._deactivated
        marker = markers.get(member)
        if marker is not None and marker[1] <= generation:
            del markers[member]
            self._new_generation()

    @staticmethod
    def _pending(markers: dict[UUID, tuple[float, int]], member_id: UUID, clock: float) -> bool:
        marker = markers.get(member_id)
        return marker is not None and marker[0] > clock

    def _contradicts(self, caller: Caller) -> bool:
        """The row predates a change made here that is still pending."""
        clock = time.monotonic()
        if not caller.revoked and self._revoked.get(caller.key_id, 0.0) > clock:
            return True
        member = caller.member_id
        if member is None:
            return False
        return self._pending(self._deactivated if caller.member_active else self._reactivated, member, clock)

    async def _load(self, digest: str) -> Caller | None:
        async with UnitOfWork(self.database, write=False) as uow:
            row: dict[str, Any] | None = await uow.system().key_by_digest(digest)
        if row is None:
            return None
        return Caller(
            workspace_id=row["workspace_id"],
            key_id=row["id"],
            kind=keys.KeyKind(row["kind"]),
            scopes=frozenset(row["scopes"]),
            allowed_origins=tuple(row["allowed_origins"]),
            member_id=row["member_id"],
            last_used_at=row["last_used_at"],
            expires_at=row["expires_at"],
            revoked=row["revoked_at"] is not None,
            member_active=row["member_active"] is not False,
        )

    async def _touch(self, digest: str, caller: Caller, now: datetime) -> Caller:
        generation = self._generation
        async with UnitOfWork(self.database, write=True) as uow:
            await WorkspaceRepositories(uow, caller.workspace_id).api_keys.touch(caller.key_id, now)
            await uow.commit()
        caller = replace(caller, last_used_at=now)
        entry = self._cache.get(digest)
        if entry is not None and entry[1].key_id == caller.key_id and generation == self._generation:
            self._cache[digest] = (entry[0], caller)  # not over a row read after a change made here
        return caller
