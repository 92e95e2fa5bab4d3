"""The outbound address guard (app/outbound.py) on its own: what providers will reuse. A name is
refused when any of its addresses is; only checked addresses are connected to; and nothing else in
the application opens outbound connections by itself."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import outbound
from tests.integration.receiver import Receiver

APP = Path(__file__).resolve().parents[2] / "app"


def answering(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    """Patch the guard's resolver with a fixed table; returns the names it was asked."""
    asked: list[str] = []

    async def lookup(host: str) -> list[str]:
        asked.append(host)
        if host not in table:
            raise outbound.HostNotFound(host)
        return table[host]

    monkeypatch.setattr(outbound, "lookup", lookup)
    return asked


async def test_a_name_with_one_inside_address_is_refused_whatever_its_others(monkeypatch: pytest.MonkeyPatch) -> None:
    answering(monkeypatch, {"mixed.test": ["93.184.216.34", "10.0.0.7"], "public.test": ["93.184.216.34"]})
    with pytest.raises(outbound.AddressNotAllowed) as refused:
        await outbound.checked_addresses("mixed.test", 443, allow_loopback=False)
    assert str(refused.value) == "address not allowed"
    assert await outbound.checked_addresses("public.test", 443, allow_loopback=False) == ["93.184.216.34"]
    with pytest.raises(outbound.AddressNotAllowed):  # loopback only when allowed, and a literal needs no lookup
        await outbound.checked_addresses("::1", 443, allow_loopback=False)
    assert await outbound.checked_addresses("[::1]", 443, allow_loopback=True) == ["::1"]


async def test_the_client_connects_only_to_checked_addresses_trying_each_in_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`two.test` resolves to an address where nothing listens, then to the receiver's: the
    connection falls back to the second checked address, with the name kept in Host."""
    asked = answering(monkeypatch, {"two.test": ["127.0.0.3", "127.0.0.1"]})
    async with Receiver() as receiver, outbound.guarded_client(allow_loopback=True) as client:
        reply = await outbound.exchange(
            client,
            "POST",
            f"http://two.test:{receiver.port}/hooks",
            headers={},
            content=b"{}",
            deadline_seconds=5,
            keep=4096,
        )
    assert (reply.status_code, reply.error, reply.excerpt) == (200, None, '{"ok":true}')
    assert asked == ["two.test"] and receiver.received[0].headers["host"] == f"two.test:{receiver.port}"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://inside.test/", "address not allowed"),
        ("http://169.254.169.254/latest/meta-data/", "address not allowed"),
        ("http://[::ffff:127.0.0.1]:1/", "address not allowed"),
        ("http://nowhere.test/", "cannot resolve nowhere.test"),
        ("http://xn--/", "invalid URL"),  # no resolver takes it; once an exception out of the worker
    ],
)
async def test_refusals_say_what_happened_and_never_where(
    monkeypatch: pytest.MonkeyPatch, url: str, error: str
) -> None:
    answering(monkeypatch, {"inside.test": ["192.168.4.2"]})
    async with outbound.guarded_client(allow_loopback=False) as client:
        reply = await outbound.exchange(client, "GET", url, headers={}, content=b"", deadline_seconds=5, keep=10)
    assert (reply.status_code, reply.error) == (None, error)
    assert "192.168" not in str(reply)


def test_no_other_module_opens_outbound_connections() -> None:
    """HTTP clients, transports and raw sockets for tenant-chosen targets are made only by the
    guard; a new integration reuses `outbound.guarded_client`."""
    opening = re.compile(
        r"httpx\.(Async)?Client\(|AsyncHTTPTransport\(|HTTPTransport\(|aiohttp|urllib\.request|http\.client"
        r"|open_connection\(|create_connection\(|socket\.socket\(|AsyncConnectionPool\("
    )
    offenders = [
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if path.name != "outbound.py" and opening.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"outbound connections outside app/outbound.py: {offenders}"


async def test_a_name_being_looked_up_is_looked_up_once_and_a_waiter_giving_up_stops_no_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A resolver that takes 0.5 s: ten attempts at once make one lookup (one thread, however
    long the resolver takes), and an attempt whose deadline passes first leaves the others theirs."""
    original, calls = socket.getaddrinfo, []

    def slow(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "slow.test":
            calls.append(host)
            time.sleep(0.5)
            return original("93.184.216.34", port, *args, **kwargs)
        return original(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    impatient = asyncio.ensure_future(asyncio.wait_for(outbound.lookup("slow.test"), 0.1))
    answers = await asyncio.gather(*(outbound.lookup("slow.test") for _ in range(10)))
    with pytest.raises(TimeoutError):
        await impatient
    assert answers == [["93.184.216.34"]] * 10 and calls == ["slow.test"]
    assert await outbound.lookup("slow.test") == ["93.184.216.34"] and len(calls) == 2  # no stale cache


@contextlib.contextmanager
def hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Names under `.dead.test` hang in the resolver until the block ends (then fail), like names
    whose name servers drop every packet; any other name resolves to a public address at once.
    Yields the names the resolver was asked, in order."""
    asked: list[str] = []
    gate = threading.Event()

    def getaddrinfo(host: str) -> list[tuple[object, ...]]:
        asked.append(host)
        if host.endswith(".dead.test"):
            gate.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "no answer")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]

    monkeypatch.setattr(outbound, "_getaddrinfo", getaddrinfo)
    try:
        yield asked
    finally:
        gate.set()  # the hanging lookups end, freeing their threads for the next test
        deadline = time.monotonic() + 10
        while any(host.endswith(".dead.test") for host in list(outbound._IN_FLIGHT)) and time.monotonic() < deadline:
            time.sleep(0.01)


async def gave_up(host: str, seconds: float) -> BaseException | list[str]:
    try:
        return await asyncio.wait_for(outbound.lookup(host), seconds)
    except (TimeoutError, outbound.LookupBusy) as exc:
        return exc


async def test_lookups_every_attempt_gave_up_on_never_run_and_hold_up_no_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """48 attempts give up on names that never resolve: the 16 lookups running go on (a resolver
    call cannot be stopped), the 32 queued ones are dropped, and a name looked up next gets the
    first thread to come free instead of queuing behind them."""
    with hanging_resolver(monkeypatch) as asked:
        outcomes = await asyncio.gather(*(gave_up(f"n{i}.given-up.dead.test", 0.5) for i in range(48)))
        assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
        assert len(outbound._IN_FLIGHT) == outbound.LOOKUP_THREADS  # the running ones only
    assert await asyncio.wait_for(outbound.lookup("hooks.example.test"), 10) == ["93.184.216.34"]
    assert len([name for name in asked if name.endswith(".dead.test")]) == outbound.LOOKUP_THREADS
    assert asked[-1] == "hooks.example.test"


async def test_a_workspace_whose_names_never_resolve_leaves_lookup_threads_to_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One workspace's endpoints point at names whose servers never answer: it gets a few lookups
    at a time (past that its attempts fail at once, "name lookup busy", and are retried later),
    and another workspace's lookup answers while those still hang."""
    with hanging_resolver(monkeypatch) as asked:
        with outbound.on_behalf_of("workspace-a"):
            outcomes = await asyncio.gather(*(gave_up(f"n{i}.workspace-a.dead.test", 0.5) for i in range(48)))
        busy = [outcome for outcome in outcomes if isinstance(outcome, outbound.LookupBusy)]
        assert len(busy) == 48 - outbound.MAX_PENDING_LOOKUPS_PER_WORKSPACE
        assert {str(outcome) for outcome in busy} == {"name lookup busy"}
        with outbound.on_behalf_of("workspace-b"):
            assert await asyncio.wait_for(outbound.lookup("hooks.example.test"), 5) == ["93.184.216.34"]
        started = [name for name in asked if name.endswith(".dead.test")]
        assert len(started) == outbound.MAX_PENDING_LOOKUPS_PER_WORKSPACE


async def test_pending_lookups_are_capped_and_past_the_cap_an_attempt_fails_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with hanging_resolver(monkeypatch):
        names = [f"n{i}.capped.dead.test" for i in range(outbound.MAX_PENDING_LOOKUPS)]
        waiting = [asyncio.ensure_future(gave_up(name, 5)) for name in names]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        async with outbound.guarded_client(allow_loopback=False) as client:
            reply = await outbound.exchange(
                client, "POST", "https://one-more.test/", headers={}, content=b"", deadline_seconds=5, keep=10
            )
        assert (reply.status_code, reply.error) == (None, "name lookup busy")
        assert time.monotonic() - started < 2
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)


async def test_a_name_is_looked_up_once_whatever_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections to h:443 and h:8080 at once make one resolver call (the answer is the same)."""
    with hanging_resolver(monkeypatch) as asked:
        attempts = [
            asyncio.wait_for(outbound.checked_addresses("twice.dead.test", port, allow_loopback=False), 0.5)
            for port in (443, 8080)
        ]
        outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [TimeoutError, TimeoutError]
    assert asked == ["twice.dead.test"]


def test_a_client_is_never_made_when_its_connections_could_not_be_guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    """An httpx whose transport keeps no httpcore pool where the guard replaces it: refused at
    once, whatever the interpreter's optimisation level, rather than connecting unguarded."""
    original = httpx.AsyncHTTPTransport.__init__

    def without_pool(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        del self._pool

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "__init__", without_pool)
    with pytest.raises(RuntimeError, match="cannot be guarded"):
        outbound.guarded_client(allow_loopback=False)
