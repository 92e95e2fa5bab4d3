from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from app.db.session import Database
from app.domain.errors import InvalidInput, Unauthorized
from app.domain.workspace import api_keys as keys
from app.services.workspace.api_keys import Caller, KeyResolver, Standing


def test_admin_implies_every_scope_even_future_ones() -> None:
    assert keys.allows({"admin"}, "leads:write") and keys.allows({"admin"}, "anything:read")


def test_write_implies_read_of_the_same_resource_only() -> None:
    assert keys.allows({"members:write"}, "members:read")
    assert not keys.allows({"members:read"}, "members:write")
    assert not keys.allows({"members:write"}, "workspace:read")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("https://Example.com", "https://example.com"),
        ("https://example.com:443/", "https://example.com"),
        ("http://example.com:8080", "http://example.com:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("ftp://example.com", None),
        ("https://example.com/path", None),
        ("example.com", None),
        ("https://user@example.com", None),
    ],
)
def test_origins_are_normalized_or_refused(raw: str, normalized: str | None) -> None:
    assert keys.normalize_origin(raw) == normalized


def test_key_spec_rules() -> None:
    spec = keys.validate_key_spec(keys.KeyKind.SECRET, ["members:write", "members:write", "admin"], [])
    assert spec.scopes == ("admin", "members:write")
    with pytest.raises(InvalidInput) as err:
        keys.validate_key_spec(keys.KeyKind.SECRET, ["nope"], ["https://a.io"])
    assert {e.field for e in err.value.errors} == {"scopes.0", "allowed_origins"}
    with pytest.raises(InvalidInput):
        keys.validate_key_spec(keys.KeyKind.PUBLISHABLE, ["admin"], [])


def test_digest_and_redaction() -> None:
    token = "sk_abcdefghijklmnop"
    assert len(keys.digest(token)) == 64 and keys.digest(token) != keys.digest(token + "x")
    assert keys.redact(token) == "sk_…mnop"
    assert keys.kind_of("pk_x") is keys.KeyKind.PUBLISHABLE and keys.kind_of("xx") is None


def test_an_expiry_must_be_aware_and_in_the_future() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    spec = keys.validate_key_spec(keys.KeyKind.SECRET, ["admin"], [], expires_at=now + timedelta(days=1), now=now)
    assert spec.expires_at == now + timedelta(days=1)
    for bad in (now, now - timedelta(seconds=1), datetime(2027, 1, 1)):  # now, past, no time zone
        with pytest.raises(InvalidInput) as err:
            keys.validate_key_spec(keys.KeyKind.SECRET, ["admin"], [], expires_at=bad, now=now)
        assert [e.field for e in err.value.errors] == ["expires_at"]


def test_a_key_expires_at_its_expiry_instant() -> None:
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert not keys.expired(None, at)
    assert not keys.expired(at, at - timedelta(microseconds=1))
    assert keys.expired(at, at) and keys.expired(at, at + timedelta(days=1))


# -- the key resolver's cache across changes made in this process -----------------------------
#
# A revoke or a member's (de/re)activation tells the resolver before its transaction commits. A
# lookup in flight across the change, or begun between the call and the commit, reads the row as
# it was: it may answer its own request, but must not be cached for a whole TTL.


class Rows(KeyResolver):
    """A resolver over rows held in memory. A lookup reads its row when it starts, as a
    transaction would (`commit` makes a change visible to lookups that start after it); while
    `held` is set, lookups wait for it to clear before answering."""

    def __init__(self, ttl: float) -> None:
        super().__init__(cast(Database, None), ttl)
        self.rows: dict[str, Caller] = {}
        self.held: asyncio.Event | None = None
        self.loads = 0

    def commit(self, token: str, **changes: Any) -> None:
        digest = keys.digest(token)
        self.rows[digest] = replace(self.rows[digest], **changes)

    def hold(self) -> None:
        self.held = asyncio.Event()

    def release(self) -> None:
        assert self.held is not None
        self.held.set()
        self.held = None

    async def _load(self, digest: str) -> Caller | None:
        self.loads += 1
        row = self.rows.get(digest)
        if self.held is not None:
            await self.held.wait()
        return row


def key_row(resolver: Rows, member_id: UUID | None = None, *, member_active: bool = True) -> tuple[str, Caller]:
    token = "sk_" + uuid4().hex
    caller = Caller(
        workspace_id=uuid4(),
        key_id=uuid4(),
        kind=keys.KeyKind.SECRET,
        scopes=frozenset({"admin"}),
        allowed_origins=(),
        member_id=member_id,
        last_used_at=datetime.now(UTC),  # used just now: no last-used write
        member_active=member_active,
    )
    resolver.rows[keys.digest(token)] = caller
    return token, caller


async def answer(resolver: Rows, token: str) -> str:
    try:
        await resolver.resolve(token, datetime.now(UTC))
    except Unauthorized as refused:
        return str(refused.detail)
    return "ok"


async def until_loading(resolver: Rows, loads: int) -> None:
    for _ in range(1_000):
        if resolver.loads >= loads:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{resolver.loads} lookups started, expected {loads}")


@pytest.mark.parametrize("in_flight", [False, True], ids=["begun-after-revoke", "in-flight-across-revoke"])
async def test_a_lookup_that_read_the_key_before_its_revoke_committed_does_not_keep_it_alive(in_flight: bool) -> None:
    ttl = 1.0
    resolver = Rows(ttl)
    token, caller = key_row(resolver)
    resolver.hold()
    before = asyncio.create_task(answer(resolver, token)) if in_flight else None
    if before is not None:
        await until_loading(resolver, 1)

    resolver.forget(caller.key_id)  # the revoke, its transaction not yet committed
    revoked_at = time.monotonic()
    await asyncio.sleep(ttl / 2)  # the commit takes its time; a request comes in meanwhile
    during = asyncio.create_task(answer(resolver, token))
    await asyncio.sleep(0.05)
    resolver.commit(token, revoked=True)
    resolver.release()
    assert await during == "this API key was revoked"
    if before is not None:
        assert await before == "this API key was revoked"

    # Long after the revoke took effect here, the key is still refused: nothing cached it as good.
    await asyncio.sleep(max(revoked_at + ttl + 0.2 - time.monotonic(), 0))
    assert await answer(resolver, token) == "this API key was revoked"
    assert await answer(resolver, token) == "this API key was revoked"


async def test_a_deactivation_read_back_by_one_key_keeps_the_members_other_keys_out_of_the_cache() -> None:
    resolver = Rows(600)
    member = uuid4()
    first, _ = key_row(resolver, member)
    second, _ = key_row(resolver, member)
    resolver.member_deactivated(member)
    resolver.hold()
    stale = asyncio.create_task(answer(resolver, second))  # reads the member as active
    await until_loading(resolver, 1)
    for token in (first, second):
        resolver.commit(token, member_active=False)
    resolver.release()
    assert await answer(resolver, first) == "the member this API key acts as is deactivated"
    await stale
    assert await answer(resolver, second) == "the member this API key acts as is deactivated"


@pytest.mark.parametrize("in_flight", [False, True], ids=["begun-after-call", "in-flight-across-call"])
async def test_a_reactivation_is_seen_at_once_though_a_lookup_read_the_member_before_it_committed(
    in_flight: bool,
) -> None:
    resolver = Rows(600)  # a refusal cached for the TTL would be seen for ten minutes
    member = uuid4()
    token, _ = key_row(resolver, member, member_active=False)
    resolver.hold()
    before = None
    if in_flight:  # its refusal was not cached (or had expired): a lookup is under way
        before = asyncio.create_task(answer(resolver, token))
        await until_loading(resolver, 1)
    else:  # the refusal is cached
        resolver.release()
        assert await answer(resolver, token) == "the member this API key acts as is deactivated"
        resolver.hold()
    resolver.member_reactivated(member)  # its transaction not yet committed
    during = asyncio.create_task(answer(resolver, token))
    await asyncio.sleep(0.05)  # its lookup reads the member before the commit
    resolver.commit(token, member_active=True)
    resolver.release()
    await during  # read before the commit: either answer is right for a request made meanwhile
    if before is not None:
        await before

    assert await answer(resolver, token) == "ok"  # the reactivation is committed: served at once


async def test_a_lookup_begun_before_a_reactivation_does_not_clear_the_deactivation_that_followed_it() -> None:
    resolver = Rows(600)  # a key cached as good would be served for ten minutes
    member = uuid4()
    token, _ = key_row(resolver, member, member_active=False)
    resolver.hold()
    old = asyncio.create_task(answer(resolver, token))  # reads the member as deactivated
    await until_loading(resolver, 1)
    resolver.member_reactivated(member)
    resolver.commit(token, member_active=True)
    resolver.member_deactivated(member)  # its transaction not yet committed
    resolver.release()
    assert await old == "the member this API key acts as is deactivated"

    # A lookup now reads the member as active (the deactivation has not committed): it is refused
    # all the same, and not cached, so the key stays refused once the deactivation commits.
    assert await answer(resolver, token) == "the member this API key acts as is deactivated"
    resolver.commit(token, member_active=False)
    assert await answer(resolver, token) == "the member this API key acts as is deactivated"


async def test_a_revoke_read_back_by_one_lookup_still_refuses_requests_sharing_a_lookup_that_read_the_old_row() -> None:
    resolver = Rows(600)
    token, caller = key_row(resolver)
    _, other = key_row(resolver)
    resolver.forget(caller.key_id)  # the revoke, its transaction not yet committed
    resolver.hold()
    early = asyncio.create_task(answer(resolver, token))  # its lookup reads the key as not revoked
    await until_loading(resolver, 1)
    resolver.commit(token, revoked=True)  # the revoke is committed and answered
    late = asyncio.create_task(answer(resolver, token))  # shares the lookup under way
    await asyncio.sleep(0.05)
    assert resolver.loads == 1
    resolver.forget(other.key_id)  # another revoke: requests from now on look up anew
    held, resolver.held = resolver.held, None
    assert await answer(resolver, token) == "this API key was revoked"  # reads the committed revoke
    assert held is not None
    held.set()  # the first lookup answers with the row it read before the revoke committed
    assert await early == "this API key was revoked"
    assert await late == "this API key was revoked"
    assert await answer(resolver, token) == "this API key was revoked"


def test_a_key_never_seen_is_unknown_however_recently_the_process_started(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.services.workspace.api_keys as module

    clock = 300.0  # seconds since boot, as time.monotonic() counts on a fresh machine or container
    monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=lambda: clock))
    resolver = Rows(5)
    token, _ = key_row(resolver)
    assert resolver.standing(token) is Standing.UNKNOWN
    assert resolver.standing("sk_" + uuid4().hex) is Standing.UNKNOWN

    asyncio.run(answer(resolver, token))  # found good here
    clock += 60  # its cache entry has expired, but it was found good within KNOWN_GOOD_SECONDS
    assert resolver.standing(token) is Standing.KNOWN
