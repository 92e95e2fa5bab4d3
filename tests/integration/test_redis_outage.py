"""The shared rate limiter (REDIS_URL) when Redis goes away: the API keeps answering (fails open,
logged once), and limits apply again as soon as Redis is back. The test runs a redis-server of its
own on a free port, so stopping it leaves the machine's Redis alone."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db.session import Database
from app.main import create_app
from tests.conftest import assert_problem, make_tenant
from tests.integration.server import free_port


class RedisServer:
    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


async def _statuses(send, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [(await send()).status_code for _ in range(count)]


async def test_with_redis_down_the_shared_limiter_fails_open_and_recovers_when_it_returns(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = RedisServer(free_port(), tmp_path)
    redis.start()
    try:
        settings = Settings(
            database_url=database.settings.database_url,
            redis_url=f"redis://127.0.0.1:{redis.port}/0",
            rate_limit_api_per_minute=3,
            rate_limit_auth_failures_per_minute=2,
        )
        app = create_app(settings, database=database)
        left = 60 - time.time() % 60  # the limits count per clock minute: run within one
        if left < 30:
            await asyncio.sleep(left + 0.05)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            tenant = await make_tenant(database, client)

            def good() -> object:
                return tenant.get("/v1/workspace")

            def wrong() -> object:
                return tenant.get("/v1/workspace", key="sk_" + secrets.token_urlsafe(32))

            assert await _statuses(good, 4) == [200, 200, 200, 429]  # counted in Redis
            assert await _statuses(wrong, 3) == [401, 401, 429]

            redis.stop()
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="app.ratelimit"):
                started = time.monotonic()
                assert await _statuses(good, 6) == [200] * 6  # fails open: over the limit, yet served
                assert await _statuses(wrong, 4) == [401] * 4  # refused, but not counted
                assert time.monotonic() - started < 30  # promptly, not after a timeout each
            outage_logs = [r for r in caplog.records if "unavailable" in r.getMessage()]
            assert len(outage_logs) == 1, "an outage is logged once, not once per request"

            redis.start()  # an empty Redis: every count starts again
            recovered = await _statuses(good, 6)
            assert recovered[0] == 200 and 429 in recovered, recovered
            limited = assert_problem(await good(), 429)
            assert limited["type"] == "/problems/rate-limited"
            wrong_again = await _statuses(wrong, 4)
            assert wrong_again[0] == 401 and wrong_again[-1] == 429, wrong_again
    finally:
        redis.stop()
