"""Real `python -m app worker` processes on PostgreSQL: killed mid-delivery, and sharing work.
Each test gets its own database (separate processes must not see other tests' deliveries)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.webhooks import EndpointRules
from app.ids import utcnow
from app.services import members, webhooks
from app.services.context import SYSTEM, Context
from tests.conftest import ScratchDatabases, database_url
from tests.integration.receiver import Receiver
from tests.integration.server import ROOT, cli_env, create_workspace, run_cli

WORKER_ENV = {
    "WEBHOOK_ALLOW_LOOPBACK": "true",
    "WORKER_POLL_SECONDS": "0.05",
    "WEBHOOK_RETRY_SCHEDULE": "0,0.5,0.5,0.5",
    "WEBHOOK_TIMEOUT_SECONDS": "10",
}


def start_worker(url: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        cwd=ROOT,
        env=cli_env(url, **WORKER_ENV, **env),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def prepared(scratch: ScratchDatabases, tmp_path: Path) -> tuple[Database, uuid.UUID]:
    url = await database_url("postgresql", tmp_path, scratch)
    run_cli(url, "migrate")
    workspace_id = uuid.UUID(create_workspace(url, "Workers")["workspace_id"])
    return Database(Settings(database_url=url)), workspace_id


async def subscribe(database: Database, workspace_id: uuid.UUID, url: str) -> None:
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, workspace_id, SYSTEM, utcnow())
        endpoint = {"url": url, "event_types": ["member.created"], "description": "", "enabled": True}
        await webhooks.create(ctx, endpoint, rules=EndpointRules(max_per_workspace=50, allow_loopback=True))
        await uow.commit()


async def add_members(database: Database, workspace_id: uuid.UUID, count: int) -> None:
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, workspace_id, SYSTEM, utcnow())
        for i in range(count):
            await members.create(
                ctx,
                {
                    "name": f"M{i}",
                    "email": f"m{i}@x.io",
                    "role": "member",
                    "active": True,
                    "timezone": None,
                    "capacity": None,
                    "manager_id": None,
                },
            )
        await uow.commit()


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM, as an orchestrator stops it; the exit code (None if it had to be killed)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            return None
    return process.returncode


async def test_worker_killed_mid_delivery_loses_nothing(scratch: ScratchDatabases, tmp_path: Path) -> None:
    database, workspace_id = await prepared(scratch, tmp_path)
    url = database.settings.database_url
    try:
        async with Receiver() as receiver:
            receiver.script.append((200, 30.0))  # the first delivery hangs: the worker is mid-delivery
            await subscribe(database, workspace_id, receiver.url)
            await add_members(database, workspace_id, 1)
            first = start_worker(url, tmp_path / "first.log", WORKER_LEASE_SECONDS="2")
            await receiver.wait_for(1, timeout=20)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            second = start_worker(url, tmp_path / "second.log", WORKER_LEASE_SECONDS="2")
            try:
                hooks = await receiver.wait_for(2, timeout=30)  # after the dead worker's lease expires
            finally:
                stop(second)
        assert hooks[0].headers["webhook-id"] == hooks[1].headers["webhook-id"]  # the same message, again
        async with UnitOfWork(database, write=False) as uow:
            backlog, _ = await uow.outbox().backlog()
        assert backlog == 0
    finally:
        await database.dispose()


async def test_two_workers_deliver_a_thousand_events_with_none_lost(scratch: ScratchDatabases, tmp_path: Path) -> None:
    database, workspace_id = await prepared(scratch, tmp_path)
    url = database.settings.database_url
    workers: list[subprocess.Popen[bytes]] = []
    try:
        async with Receiver() as one, Receiver() as two:
            await subscribe(database, workspace_id, one.url)
            await subscribe(database, workspace_id, two.url)
            await add_members(database, workspace_id, 1000)
            workers = [start_worker(url, tmp_path / f"w{i}.log", WORKER_LEASE_SECONDS="30") for i in range(2)]
            for receiver in (one, two):
                await receiver.wait_for(1000, timeout=120)
            await asyncio.sleep(0.5)
            for receiver in (one, two):
                ids = Counter(h.headers["webhook-id"] for h in receiver.received)
                assert len(ids) == 1000
                assert max(ids.values()) == 1  # no lease expired, so no duplicates
                sequences = [h.json["sequence"] for h in receiver.received]
                assert sequences == sorted(sequences)
        assert [stop(worker) for worker in workers] == [0, 0]  # graceful shutdown on SIGTERM
        logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(2))
        assert "Traceback" not in logs, logs[-3000:]
    finally:
        for worker in workers:
            stop(worker)
        await database.dispose()


def test_worker_refuses_sqlite(tmp_path: Path) -> None:
    result = run_cli(f"sqlite:///{tmp_path / 'x.db'}", "worker", check=False)
    assert result.returncode == 2 and "PostgreSQL" in result.stderr
