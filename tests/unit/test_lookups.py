"""Per-process lookup caches (app/services/leads/lookups.py): requests that find an entry expired at the
same moment share one load, and a failed or cancelled load never leaves the others without one."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.services.leads import lookups


class Loader:
    def __init__(self, *, fail_first: bool = False, delay: float = 0.01) -> None:
        self.calls = 0
        self.fail_first = fail_first
        self.delay = delay

    async def __call__(self) -> int:
        self.calls += 1
        call = self.calls
        await asyncio.sleep(self.delay)
        if self.fail_first and call == 1:
            raise ConnectionError("the database went away")
        return call


async def test_concurrent_misses_share_one_load() -> None:
    key, load = ("test", uuid.uuid4()), Loader()
    values = await asyncio.gather(*(lookups.cached(key, load) for _ in range(32)))
    assert values == [1] * 32 and load.calls == 1
    assert await lookups.cached(key, load) == 1 and load.calls == 1  # cached afterwards


async def test_a_failed_load_fails_its_caller_and_the_others_load_on_their_own() -> None:
    key, load = ("test", uuid.uuid4()), Loader(fail_first=True)
    outcomes = await asyncio.gather(*(lookups.cached(key, load) for _ in range(4)), return_exceptions=True)
    assert isinstance(outcomes[0], ConnectionError)
    assert all(isinstance(value, int) and value > 1 for value in outcomes[1:])


async def _loading_and_waiting(load: Loader) -> tuple[asyncio.Task[int], asyncio.Task[int]]:
    """Two callers of one key: the first loading (slowly), the second waiting for its load."""
    key = ("test", uuid.uuid4())
    first = asyncio.create_task(lookups.cached(key, load))
    waiter = asyncio.create_task(lookups.cached(key, load))
    await asyncio.sleep(0.01)
    return first, waiter


async def test_a_cancelled_waiter_leaves_the_load_alone() -> None:
    load = Loader(delay=0.05)
    first, waiter = await _loading_and_waiting(load)
    waiter.cancel()
    assert await first == 1
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert load.calls == 1


async def test_a_cancelled_loader_leaves_its_waiters_to_load() -> None:
    first, waiter = await _loading_and_waiting(Loader(delay=0.05))
    first.cancel()
    assert await waiter == 2


async def test_forget_during_a_load_makes_later_callers_load_anew() -> None:
    """A change made while a load was under way: callers after it do not get the older value."""
    key, load = ("test", uuid.uuid4()), Loader(delay=0.05)
    before = asyncio.create_task(lookups.cached(key, load))
    await asyncio.sleep(0.01)
    lookups.forget(key)
    assert await lookups.cached(key, load) == 2
    assert await before == 1


async def test_a_waiter_loads_on_its_own_when_the_shared_load_stalls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold start: the first caller's load waits for a pooled connection the waiters hold. The
    waiters stop waiting after SHARED_WAIT and load on their own (their connections), and the
    stalled load is not waited out."""
    monkeypatch.setattr(lookups, "SHARED_WAIT", 0.05)
    release = asyncio.Event()
    calls: list[str] = []

    async def load() -> str:
        calls.append("load")
        if len(calls) == 1:
            await release.wait()  # the loader that cannot get a connection
            return "late"
        return "own"

    key = ("test", uuid.uuid4())
    first = asyncio.create_task(lookups.cached(key, load))
    await asyncio.sleep(0.01)
    assert await asyncio.wait_for(lookups.cached(key, load), 1.0) == "own"
    release.set()
    assert await first == "late"


async def test_a_value_remembered_during_a_load_is_not_overwritten_by_it() -> None:
    """A change made in this process while another caller loads the older value: the change wins."""
    key, started, release = ("test", uuid.uuid4()), asyncio.Event(), asyncio.Event()

    async def load() -> bool:
        started.set()
        await release.wait()
        return False

    loading = asyncio.create_task(lookups.cached(key, load))
    await started.wait()
    lookups.remember(key, True)
    release.set()
    assert await loading is True
    assert await lookups.cached(key, load) is True
