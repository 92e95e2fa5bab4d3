"""A worker killed between handing an email to the SMTP server and recording it: the message ends
`unknown` (the next worker settles it when the lease runs out) and is never sent twice. Real
processes and an SMTP server, on both databases: on PostgreSQL the API server and two worker
processes in turn; on SQLite (one process owns the database file) `serve` with its worker
in-process, killed whole, then a second `serve` on the same file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ScratchDatabases, database_url
from tests.integration.server import ROOT, Server, cli_env, create_workspace, run_cli
from tests.smtp_server import Received, SmtpServer

ENV = {"OUTBOUND_ALLOW_LOOPBACK": "true", "WORKER_LEASE_SECONDS": "2", "WORKER_POLL_SECONDS": "0.1",
       "RATE_LIMIT_ENABLED": "false"}  # fmt: skip


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        cwd=ROOT,
        env=cli_env(url, **ENV),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_worker_killed_after_the_hand_off_leaves_the_message_unknown(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    url = await database_url(kind, tmp_path, scratch)
    spawned: list[subprocess.Popen[bytes]] = []
    try:
        await _scenario(url, tmp_path, spawned)
    finally:  # a failed assertion never leaves a worker behind
        for process in spawned:
            if process.poll() is None:
                process.kill()
                process.wait(10)


async def _scenario(url: str, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    sqlite = url.startswith("sqlite")
    run_cli(url, "migrate")
    keys = create_workspace(url, "Faults")
    auth = {"Authorization": f"Bearer {keys['secret_key']}"}
    async with SmtpServer() as smtp:
        # PostgreSQL: the workers are processes of their own; SQLite: the server's worker is in-process
        with Server(url, tmp_path / "api-1.log", worker=sqlite, **ENV) as server:
            async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as api:
                channel = {"type": "email", "provider": "smtp", "name": "Mail",
                           "settings": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                                        "from_email": "news@shop.example"}}  # fmt: skip
                assert (await api.post("/v1/channels", json=channel)).status_code == 201
                lead = (await api.post("/v1/leads", json={"email": "crash@example.com"})).json()
                first = server.process if sqlite else _worker(url, tmp_path / "worker-1.log")
                spawned.append(first)

                def kill_the_worker(_: Received) -> None:  # the message is here; its answer never leaves
                    os.kill(first.pid, signal.SIGKILL)

                smtp.handler.on_data = kill_the_worker
                # due in a second: the answer to this request has left before the worker (on SQLite,
                # this very server) dies
                due = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
                queued = await api.post("/v1/messages", json={"lead_id": lead["id"], "channel": "email",
                                                              "subject": "Receipt", "body_text": "Thanks",
                                                              "purpose": "transactional", "send_at": due})  # fmt: skip
                assert queued.status_code == 202, queued.text
                message_id = queued.json()["id"]
                await asyncio.to_thread(first.wait, 120)
                assert first.returncode == -signal.SIGKILL
                smtp.handler.on_data = None
                if not sqlite:
                    after_kill = (await api.get(f"/v1/messages/{message_id}")).json()
                    assert after_kill["status"] == "sending"  # handed off, not recorded
                    second = _worker(url, tmp_path / "worker-2.log")
                    spawned.append(second)
                    try:
                        message = await _settled(api, message_id)
                    finally:
                        second.terminate()
                        await asyncio.to_thread(second.wait, 30)
        if sqlite:
            assert _statuses(url) == ["sending"]  # handed off, not recorded (read with no server up)
            with Server(url, tmp_path / "api-2.log", worker=True, **ENV) as server:
                async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as api:
                    message = await _settled(api, message_id)
    assert message["status"] == "unknown" and message["sent_at"] is None
    assert [h["status"] for h in message["history"]] == ["queued", "unknown"]
    assert len(smtp.to("crash@example.com")) == 1  # never sent twice


async def _settled(api: httpx.AsyncClient, message_id: str) -> dict[str, Any]:
    """The message once a worker has settled the lost send, and a second later (a wrong resend
    would have happened by then)."""
    deadline = time.monotonic() + 120  # a new worker's imports, then the lost send's lease
    while True:
        message: dict[str, Any] = (await api.get(f"/v1/messages/{message_id}")).json()
        if message["status"] != "sending":
            break
        assert time.monotonic() < deadline, "the lost send was never settled"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    return message


def _statuses(url: str) -> list[str]:
    """Every message's status, read from the SQLite file itself."""
    with contextlib.closing(sqlite3.connect(url.split(":///", 1)[1])) as connection:
        return [str(row[0]) for row in connection.execute("SELECT status FROM messages")]
