"""Short-lived per-process caches for what the lead-capture path reads on every submission and
people change rarely: a form, a workspace's phone region, its custom field definitions. A change
made through this process drops its entry at once; other processes see it within the TTL
(`FORM_CACHE_SECONDS`, 5 s by default), like API-key revocations.

When an entry expires, the requests that find it expired at the same moment share ONE load: under
load every in-flight submission missed every entry together, each read it on its own, and the
burst of reads queued for pooled connections (a stall at every expiry: the benchmark's slowest
requests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
_entries: dict[Hashable, tuple[float, Any]] = {}
_loading: dict[Hashable, asyncio.Future[Any]] = {}
_remembered: dict[Hashable, tuple[float, Any]] = {}  # key -> (when `remember` set it, value)
_FAILED = object()
_ttl = 5.0
SHARED_WAIT = 1.0  # seconds a caller waits for another's load of the same entry (`shared`)
_LIMIT = 50_000


def configure(seconds: float) -> None:
    global _ttl
    _ttl = seconds


async def cached(key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    entry = _entries.get(key)
    now = time.monotonic()
    if entry is not None and entry[0] > now:
        return entry[1]  # type: ignore[no-any-return]
    loader = key not in _loading  # else someone is loading it, and stores it
    value = await shared(_loading, key, load)
    if loader and _ttl > 0:
        if len(_entries) >= _LIMIT:
            _entries.clear()
        remembered = _remembered.get(key)
        if remembered is not None and remembered[0] >= now:  # `remember`ed while this load ran: newer
            return remembered[1]  # type: ignore[no-any-return]
        _entries[key] = (now + _ttl, value)
    return value


def remember(key: Hashable, value: Any) -> None:
    """Set an entry now (a change made through this process: its new value, without a load); a
    load under way when it is set does not overwrite it."""
    _loading.pop(key, None)
    at = time.monotonic()
    if len(_remembered) >= _LIMIT:
        _remembered.clear()
    _remembered[key] = (at, value)
    if _ttl > 0:
        _entries[key] = (at + _ttl, value)


def forget(key: Hashable) -> None:
    _entries.pop(key, None)
    _loading.pop(key, None)  # a load already under way may predate the change: later callers load anew


async def shared(loading: dict[Hashable, asyncio.Future[Any]], key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    """`load()`, shared by concurrent callers with the same key: the first runs it, the others
    wait for its value; should it fail (or its caller be cancelled), each of them loads on its own.
    A waiter waits `SHARED_WAIT` seconds at most, then loads on its own: at a cold start a burst of
    requests larger than the pool can hold every pooled connection while waiting for a load whose
    own caller still waits for a connection (each then waited out the pool's 30 s timeout and
    answered 500); the waiters' own loads, on the connections they hold, end that at once."""
    pending = loading.get(key)
    if pending is not None:
        try:  # a waiter's cancellation leaves the load alone
            value = await asyncio.wait_for(asyncio.shield(pending), SHARED_WAIT)
        except TimeoutError:
            return await load()
        return await load() if value is _FAILED else value
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    loading[key] = future
    try:
        value = await load()
    except BaseException:
        future.set_result(_FAILED)
        raise
    finally:
        if loading.get(key) is future:
            del loading[key]
    future.set_result(value)
    return value
