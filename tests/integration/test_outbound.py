"""The outbound address guard (app/outbound.py) on its own: what providers will reuse. A name is
refused when any of its addresses is; only checked addresses are connected to; and nothing else in
the application opens outbound connections by itself."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path

import pytest

from app import outbound
from tests.integration.receiver import Receiver

APP = Path(__file__).resolve().parents[2] / "app"


def answering(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    """Patch the guard's resolver with a fixed table; returns the names it was asked."""
    asked: list[str] = []

    async def lookup(host: str, port: int) -> list[str]:
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
    impatient = asyncio.ensure_future(asyncio.wait_for(outbound.lookup("slow.test", 443), 0.1))
    answers = await asyncio.gather(*(outbound.lookup("slow.test", 443) for _ in range(10)))
    with pytest.raises(TimeoutError):
        await impatient
    assert answers == [["93.184.216.34"]] * 10 and calls == ["slow.test"]
    assert await outbound.lookup("slow.test", 443) == ["93.184.216.34"] and len(calls) == 2  # no stale cache
