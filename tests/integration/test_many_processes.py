"""Several processes on one PostgreSQL, as production runs them: API processes and separate workers.

Two API processes and two workers take website form submissions under load and deliver their
events to a loopback receiver: every accepted submission is stored once, every event delivered,
no webhook-id twice (no worker died, so the at-least-once case does not arise). Rate limits are
counted once for both API processes through Redis; a key revoked through one is refused by the
other within API_KEY_CACHE_SECONDS. And `serve --workers N` itself: N API processes and one
worker child, refused on SQLite, stopped by SIGTERM with exit status 0 and nothing left behind."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import ScratchDatabases, database_url
from tests.integration.receiver import Receiver
from tests.integration.server import ROOT, Server, alive, children, cli_env, create_workspace, run_cli, started

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FORM_LIMIT = 25  # submissions an address may post per minute, counted across both API processes
KEY_CACHE_SECONDS = 1.0
SUBMISSIONS = 240


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and Redis at {REDIS_URL} is unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable ({exc}); set TEST_REDIS_URL")


@contextmanager
def workers(url: str, tmp_path: Path, count: int, **env: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    logs = [(tmp_path / f"worker{n}.log").open("w") for n in range(count)]
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env=cli_env(url, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def wait_for_next_minute_if_late() -> None:
    """Rate limits count in fixed one-minute windows: start a burst early in one."""
    into = time.time() % 60
    if into > 40:
        await asyncio.sleep(60 - into + 0.5)


@pytest.mark.slow
async def test_two_api_processes_and_two_workers_share_one_database(tmp_path: Path, scratch: ScratchDatabases) -> None:
    redis_or_skip()
    url = await database_url("postgresql", tmp_path, scratch)
    run_cli(url, "migrate")
    keys = create_workspace(url, "Many")
    env = {
        "REDIS_URL": REDIS_URL,
        "RATE_LIMIT_FORM_PER_MINUTE": str(FORM_LIMIT),
        "API_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
        "WEBHOOK_ALLOW_LOOPBACK": "true",
    }
    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    public = {"Authorization": f"Bearer {keys['publishable_key']}"}
    with (
        Server(url, tmp_path / "a.log", **env) as a,
        Server(url, tmp_path / "b.log", **env) as b,
        workers(url, tmp_path, 2, **env),
    ):
        # A connection per request: after the pauses below, a kept-alive connection may be closed by
        # the server (its keep-alive timeout) just as a request goes out on it, an HTTP/1.1 race no
        # server can prevent, that a client retries; here it would fail a burst for no fault of ours.
        fresh = httpx.Limits(max_keepalive_connections=0)
        async with (
            Receiver() as receiver,
            httpx.AsyncClient(base_url=a.url, timeout=60, limits=fresh) as on_a,
            httpx.AsyncClient(base_url=b.url, timeout=60, limits=fresh) as on_b,
        ):
            # Addresses of this run only: the limits' counters in Redis outlive it.
            net = f"10.{random.randrange(256)}.{random.randrange(256)}"
            endpoint = await on_a.post(
                "/v1/webhook-endpoints",
                json={"url": receiver.url, "event_types": ["form.submission_received"]},
                headers=admin,
            )
            assert endpoint.status_code == 201, endpoint.text
            form = (await on_b.post("/v1/forms", json={"name": "Load"}, headers=admin)).json()

            # -- form capture under load, through both processes ------------------------------
            answers: collections.Counter[int] = collections.Counter()
            gate = asyncio.Semaphore(16)

            async def submit(n: int, address: str) -> int:
                client = on_a if n % 2 else on_b
                body = {"email": f"person{n}-{address}@many.example", "first_name": f"P{n}"}
                headers = {**public, "X-Forwarded-For": address}  # a visitor's address, as a proxy passes it
                async with gate:
                    response = await client.post(f"/v1/forms/{form['id']}/submissions", json=body, headers=headers)
                return response.status_code

            for status in await asyncio.gather(*(submit(n, f"{net}.{n % 200 + 1}") for n in range(SUBMISSIONS))):
                answers[status] += 1  # each address posts once or twice: under the form limit
            accepted = sum(count for status, count in answers.items() if 200 <= status < 300)
            assert accepted == SUBMISSIONS, answers

            conn = await asyncpg.connect(asyncpg_url(url))
            try:
                stored = await conn.fetchval("SELECT count(*) FROM form_submissions")
                people = await conn.fetchval("SELECT count(DISTINCT lead_id) FROM form_submissions")
                events = {
                    str(r["id"])
                    for r in await conn.fetch("SELECT id FROM events WHERE type = 'form.submission_received'")
                }
            finally:
                await conn.close()
            assert stored == accepted and people == accepted  # each stored once, one lead each
            assert len(events) == accepted

            await receiver.wait_for(len(events), timeout=120)
            await asyncio.sleep(2)  # a duplicate would come now
            ids = [r.headers["webhook-id"] for r in receiver.received]
            delivered = {r.json["id"] for r in receiver.received}
            assert delivered == events
            assert len(ids) == len(set(ids)), "a webhook-id was delivered twice though no worker died"

            # -- one rate limit for both processes (Redis) ------------------------------------
            await wait_for_next_minute_if_late()
            # one address, alternating processes, all at once: the burst fits in the window's rest
            answers = await asyncio.gather(*(submit(SUBMISSIONS + n, f"{net}.250") for n in range(2 * FORM_LIMIT)))
            statuses = collections.Counter(answers)
            assert statuses == {201: FORM_LIMIT, 429: FORM_LIMIT}, statuses

            # -- a key revoked through one process, refused by the other -----------------------
            made = await on_a.post("/v1/api-keys", json={"name": "revoked", "scopes": ["leads:read"]}, headers=admin)
            revoked = {"Authorization": f"Bearer {made.json()['key']}"}
            assert (await on_a.get("/v1/leads?limit=1", headers=revoked)).status_code == 200
            assert (await on_b.get("/v1/leads?limit=1", headers=revoked)).status_code == 200  # cached in B now
            assert (await on_a.delete(f"/v1/api-keys/{made.json()['id']}", headers=admin)).status_code == 200
            started = time.monotonic()
            assert (await on_a.get("/v1/leads?limit=1", headers=revoked)).status_code == 401  # at once in A
            while (await on_b.get("/v1/leads?limit=1", headers=revoked)).status_code != 401:
                assert time.monotonic() - started < KEY_CACHE_SECONDS + 5, "B still accepts the revoked key"
                await asyncio.sleep(0.1)


def test_serve_refuses_several_processes_on_sqlite(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--workers", "2"],
        cwd=ROOT,
        env=cli_env(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--workers needs PostgreSQL" in result.stderr and "single-process" in result.stderr
    assert not (tmp_path / "one.db").exists()  # refused before anything was created


@pytest.mark.slow
async def test_serve_with_two_api_processes_and_its_worker_stops_cleanly(
    tmp_path: Path, scratch: ScratchDatabases
) -> None:
    url = await database_url("postgresql", tmp_path, scratch)
    run_cli(url, "migrate")
    keys = create_workspace(url, "Two")
    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    server = Server(url, tmp_path / "serve.log", worker=True, args=("--workers", "2"), WEBHOOK_ALLOW_LOOPBACK="true")
    try:
        tree = {pid: started(pid) for pid in children(server.process.pid)}
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in tree]
        assert sum("multiprocessing" in c and "spawn_main" in c for c in commands) == 2, commands  # API processes
        assert sum(" app worker" in c for c in commands) == 1, commands  # one worker for both
        async with Receiver() as receiver, httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            created = await client.post(
                "/v1/webhook-endpoints", json={"url": receiver.url, "event_types": ["lead.created"]}, headers=admin
            )
            assert created.status_code == 201, created.text
            made = await asyncio.gather(
                *(client.post("/v1/leads", json={"email": f"l{n}@two.example"}, headers=admin) for n in range(20))
            )
            assert all(r.status_code == 201 for r in made)
            await receiver.wait_for(20, timeout=120)  # the one worker child delivers for both
            assert {r.json["data"]["id"] for r in receiver.received} == {r.json()["id"] for r in made}
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=90) == 0, server.output()
        assert not [pid for pid, since in tree.items() if alive(pid, since)]
    finally:
        if server.process.poll() is None:
            server.stop()
        else:
            server._out.close()
