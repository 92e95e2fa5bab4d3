"""Real `python -m app worker` processes on PostgreSQL: killed mid-delivery and mid-import, sharing
work, and outliving no server. Each test gets its own database (separate processes must not see
other tests' work)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db import tables
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.events.webhooks import EndpointRules
from app.ids import utcnow
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.customers import imports
from app.services.events import webhooks
from app.services.workspace import members
from tests.conftest import ScratchDatabases, database_url
from tests.integration.receiver import Receiver
from tests.integration.server import ROOT, Server, children, cli_env, create_workspace, run_cli

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
        ctx = Context(uow, workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
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
            process.wait(timeout=60)  # within its stop_seconds, on a loaded machine
        except subprocess.TimeoutExpired:
            process.kill()
            return None
    return process.returncode


@pytest.mark.slow
async def test_worker_killed_mid_delivery_loses_nothing(scratch: ScratchDatabases, tmp_path: Path) -> None:
    database, workspace_id = await prepared(scratch, tmp_path)
    url = database.settings.database_url
    try:
        async with Receiver() as receiver:
            receiver.script.append((200, 30.0))  # the first delivery hangs: the worker is mid-delivery
            await subscribe(database, workspace_id, receiver.url)
            await add_members(database, workspace_id, 1)
            first = start_worker(url, tmp_path / "first.log", WORKER_LEASE_SECONDS="2")
            await receiver.wait_for(1, timeout=120)  # a new process's imports take a while under load
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            second = start_worker(url, tmp_path / "second.log", WORKER_LEASE_SECONDS="2")
            try:
                hooks = await receiver.wait_for(2, timeout=120)  # after the dead worker's lease expires
            finally:
                stop(second)
        assert hooks[0].headers["webhook-id"] == hooks[1].headers["webhook-id"]  # the same message, again
        async with UnitOfWork(database, write=False) as uow:
            backlog, _ = await uow.system().backlog()
        assert backlog == 0
    finally:
        await database.dispose()


@pytest.mark.slow
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


@pytest.mark.slow
async def test_an_import_whose_worker_is_killed_resumes_and_applies_no_batch_twice(
    scratch: ScratchDatabases, tmp_path: Path
) -> None:
    database, workspace_id = await prepared(scratch, tmp_path)
    url = database.settings.database_url
    rows = 5000  # ten batches
    text = "email,first_name,company\n" + "".join(f"k{i}@kill.io,K{i},Co {i % 97}\n" for i in range(rows))

    async def pieces() -> AsyncIterator[bytes]:
        data = text.encode()
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    limits = imports.UploadLimits(uploads=3, stored_bytes=1 << 30)
    options = imports.Options(entity="leads")
    stored = await imports.upload(
        database, workspace_id, SYSTEM, options, pieces(), dict, limits=limits, scopes=SERVICE_SCOPES
    )
    import_id = stored["id"]

    async def current() -> dict[str, object]:
        async with UnitOfWork(database, write=False) as uow:
            row = await WorkspaceRepositories(uow, workspace_id).imports.get(import_id)
        assert row is not None
        return row

    second = None
    first = start_worker(url, tmp_path / "first.log", WORKER_LEASE_SECONDS="2")
    try:
        deadline = time.monotonic() + 120
        while (await current())["rows_done"] == 0:  # the first batch committed: it is mid-import
            assert time.monotonic() < deadline and first.poll() is None, (tmp_path / "first.log").read_text()
            await asyncio.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        done_when_killed = int((await current())["rows_done"])  # type: ignore[call-overload]
        assert 0 < done_when_killed < rows, "the worker finished before it was killed: make the file larger"
        second = start_worker(url, tmp_path / "second.log", WORKER_LEASE_SECONDS="2")
        while (await current())["status"] != "completed":  # after the dead worker's lease expires
            assert time.monotonic() < deadline + 120 and second.poll() is None, (tmp_path / "second.log").read_text()
            await asyncio.sleep(0.1)
        assert stop(second) == 0
        final = await current()
        counts = {k: final[k] for k in ("rows_total", "rows_done", "rows_created", "rows_failed", "rows_updated")}
        assert counts == {"rows_total": rows, "rows_done": rows, "rows_created": rows, "rows_failed": 0,
                          "rows_updated": 0}  # fmt: skip
        leads = tables.leads
        async with UnitOfWork(database, write=False) as uow:
            counted = select(func.count(), func.count(leads.c.email_key.distinct()))
            stored_leads, emails = (await uow.execute(counted.where(leads.c.workspace_id == workspace_id))).one()
            errors = await WorkspaceRepositories(uow, workspace_id).imports.count_errors(import_id)
            job = await WorkspaceRepositories(uow, workspace_id).jobs.get(final["job_id"])  # type: ignore[arg-type]
        assert (stored_leads, emails, errors) == (rows, rows, 0)  # every row once, none twice
        assert job is not None and job["status"] == "succeeded" and job["attempts"] == 2
        assert "Traceback" not in (tmp_path / "second.log").read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        await database.dispose()


STUCK_WORKER = """
import sys, time
from app.cpu import run_cpu
from app.worker import jobs

async def stuck(run):  # a CPU step that cannot be interrupted (a long model fit)
    await run_cpu(time.sleep, 300)
    return {}

jobs.HANDLERS["events.redact"] = stuck
from app.__main__ import main
sys.exit(main(["worker"]))
"""


@pytest.mark.slow
async def test_a_worker_stopped_mid_cpu_step_exits_within_seconds_and_hands_its_job_back(
    scratch: ScratchDatabases, tmp_path: Path
) -> None:
    from app.services.events import jobs as job_service

    database, workspace_id = await prepared(scratch, tmp_path)
    url = database.settings.database_url
    async with UnitOfWork(database) as uow:
        job = await job_service.enqueue(
            Context(uow, workspace_id, SYSTEM, utcnow()), "events.redact", {"resource_id": "x"}
        )
        await uow.commit()
    worker = subprocess.Popen(
        [sys.executable, "-c", STUCK_WORKER],
        cwd=ROOT,
        env=cli_env(url, **WORKER_ENV, WORKER_LEASE_SECONDS="60"),
        stdout=(tmp_path / "stuck.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120  # includes the new process's imports
        while True:
            async with UnitOfWork(database, write=False) as uow:
                row = await WorkspaceRepositories(uow, workspace_id).jobs.get(job["id"])
            assert row is not None
            if row["status"] == "running":
                break
            assert time.monotonic() < deadline and worker.poll() is None, (tmp_path / "stuck.log").read_text()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # inside the CPU step
        stopped_at = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=150)  # before: it waited for the step (five minutes)
        assert time.monotonic() - stopped_at < 120 and worker.returncode == 0, (tmp_path / "stuck.log").read_text()
        async with UnitOfWork(database, write=False) as uow:
            row = await WorkspaceRepositories(uow, workspace_id).jobs.get(job["id"])
        assert row is not None and row["status"] == "running" and row["lease_until"] <= utcnow()  # handed back
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        await database.dispose()


IDLE_THREAD_WORKER = """
import atexit, sys
from concurrent.futures import ThreadPoolExecutor
from app.worker import jobs

atexit.register(print, "atexit handlers ran", flush=True)
pool = ThreadPoolExecutor(thread_name_prefix="outbound-lookup")  # as the webhook address lookups'

async def looks_up(run):  # leaves an idle pool thread behind, as a lookup does
    pool.submit(int).result()
    return {}

jobs.HANDLERS["events.redact"] = looks_up
from app.__main__ import main
sys.exit(main(["worker"]))
"""


@pytest.mark.slow
async def test_a_stopped_worker_with_no_cpu_step_running_exits_normally(
    scratch: ScratchDatabases, tmp_path: Path
) -> None:
    """Only a running CPU step makes a stopping worker skip the interpreter's exit (atexit handlers,
    flushing): an idle pool thread left by an earlier lookup does not."""
    from app.services.events import jobs as job_service

    database, workspace_id = await prepared(scratch, tmp_path)
    url = database.settings.database_url
    async with UnitOfWork(database) as uow:
        job = await job_service.enqueue(
            Context(uow, workspace_id, SYSTEM, utcnow()), "events.redact", {"resource_id": "x"}
        )
        await uow.commit()
    log = tmp_path / "idle.log"
    worker = subprocess.Popen(
        [sys.executable, "-c", IDLE_THREAD_WORKER],
        cwd=ROOT,
        env=cli_env(url, **WORKER_ENV),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120  # includes the new process's imports
        while True:
            async with UnitOfWork(database, write=False) as uow:
                row = await WorkspaceRepositories(uow, workspace_id).jobs.get(job["id"])
            assert row is not None
            if row["status"] == "succeeded":
                break
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
            await asyncio.sleep(0.05)
        assert stop(worker) == 0, log.read_text()
        assert "atexit handlers ran" in log.read_text()  # before: os._exit, which skips them
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        await database.dispose()


def alive(pid: int) -> bool:
    """Running (an exited child nobody reaped yet is a zombie: gone for this purpose)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
async def test_a_worker_exits_when_its_server_is_killed(scratch: ScratchDatabases, tmp_path: Path) -> None:
    database, _ = await prepared(scratch, tmp_path)
    url = database.settings.database_url
    await database.dispose()
    with Server(url, tmp_path / "serve.log", worker=True, WORKER_POLL_SECONDS="0.05") as server:
        deadline = time.monotonic() + 30
        while not (workers := children(server.process.pid)):
            assert time.monotonic() < deadline, server.output()
            await asyncio.sleep(0.1)
        (worker,) = workers
        assert b"worker" in Path(f"/proc/{worker}/cmdline").read_bytes()
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 90  # it looks for its parent every second, once its imports are done
        while alive(worker):
            if time.monotonic() > deadline:
                os.kill(worker, signal.SIGKILL)
                raise AssertionError(f"the worker outlived its server: {server.output()[-3000:]}")
            await asyncio.sleep(0.1)


def test_worker_refuses_sqlite(tmp_path: Path) -> None:
    result = run_cli(f"sqlite:///{tmp_path / 'x.db'}", "worker", check=False)
    assert result.returncode == 2 and "PostgreSQL" in result.stderr
