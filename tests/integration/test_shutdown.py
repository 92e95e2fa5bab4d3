"""`python -m app serve` stopped as a container runtime stops it (SIGTERM): it stops accepting
connections, lets the requests in flight finish, stops its worker, and exits 0."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ScratchDatabases, database_url
from tests.integration.server import Server, children, create_workspace, run_cli

GRACE = 30.0  # SHUTDOWN_GRACE_SECONDS here; the requests below take ~3 s after the signal
IN_FLIGHT = 6


def gone(pid: int) -> bool:
    """No such process, or a zombie waiting for a parent that has not reaped it."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


async def slow_body(i: int, sending: asyncio.Event) -> AsyncIterator[bytes]:
    """A member's JSON streamed over ~4 s: the request is in flight (its head read, the app
    waiting for the rest of its body) for as long."""
    yield b'{"name": "Slow %d", ' % i
    sending.set()
    for _ in range(16):
        await asyncio.sleep(0.25)
        yield b" "
    yield b'"email": "slow%d@shop.example"}' % i


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc (Linux)")
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_sigterm_finishes_requests_in_flight_stops_the_worker_and_exits_0(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    url = await database_url(kind, tmp_path, scratch)
    run_cli(url, "migrate")
    keys = create_workspace(url, "Shop")
    headers = {"Authorization": f"Bearer {keys['secret_key']}", "Content-Type": "application/json"}
    # A loaded machine may take a while to start it; the stop is what is measured.
    server = Server(url, tmp_path / "server.log", worker=True, start_seconds=120, SHUTDOWN_GRACE_SECONDS=str(GRACE))
    try:
        workers: list[int] = []
        if kind == "postgresql":  # the worker runs as a child process (on SQLite: in-process)
            deadline = time.monotonic() + 60  # the child's imports, on a loaded machine
            while not (workers := children(server.process.pid)) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert len(workers) == 1, server.output()
        async with httpx.AsyncClient(base_url=server.url, timeout=GRACE + 15) as client:
            sending = [asyncio.Event() for _ in range(IN_FLIGHT)]
            requests = [
                asyncio.create_task(client.post("/v1/members", content=slow_body(i, sent), headers=headers))
                for i, sent in enumerate(sending)
            ]
            await asyncio.wait_for(asyncio.gather(*(sent.wait() for sent in sending)), 15)
            await asyncio.sleep(1.0)  # their heads have reached the server
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            refused = False  # no new connections once stopping (the listener closes within moments)
            while not refused and time.monotonic() - signalled < 10:
                await asyncio.sleep(0.2)
                try:
                    await client.get("/healthz", headers={"Connection": "close"}, timeout=2)
                except httpx.TransportError:
                    refused = True
            assert refused, "the server still accepted connections 10 s after SIGTERM"
            answers = await asyncio.gather(*requests)
        assert [a.status_code for a in answers] == [201] * IN_FLIGHT, [a.text for a in answers]
        assert {a.json()["email"] for a in answers} == {f"slow{i}@shop.example" for i in range(IN_FLIGHT)}
        code = await asyncio.to_thread(server.process.wait, GRACE + 30)
        stopped_after = time.monotonic() - signalled
        assert code == 0, server.output()
        assert stopped_after < GRACE, f"stopped {stopped_after:.1f} s after SIGTERM"
        for pid in workers:
            assert gone(pid), f"worker {pid} outlived the server"
        assert "Traceback" not in server.output(), server.output()
    finally:
        if server.process.poll() is None:
            server.process.kill()
        server.stop()
