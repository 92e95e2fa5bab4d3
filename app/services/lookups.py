"""Short-lived per-process caches for what the lead-capture path reads on every submission and
people change rarely: a form, a workspace's phone region, its custom field definitions. A change
made through this process drops its entry at once; other processes see it within the TTL
(`FORM_CACHE_SECONDS`, 5 s by default), like API-key revocations."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
_entries: dict[Hashable, tuple[float, Any]] = {}
_ttl = 5.0
_LIMIT = 50_000


def configure(seconds: float) -> None:
    global _ttl
    _ttl = seconds


async def cached(key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    entry = _entries.get(key)
    now = time.monotonic()
    if entry is not None and entry[0] > now:
        return entry[1]  # type: ignore[no-any-return]
    value = await load()
    if len(_entries) >= _LIMIT:
        _entries.clear()
    if _ttl > 0:
        _entries[key] = (now + _ttl, value)
    return value


def forget(key: Hashable) -> None:
    _entries.pop(key, None)
