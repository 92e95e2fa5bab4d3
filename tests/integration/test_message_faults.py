"""A worker process killed between handing an email to the SMTP server and recording it: the
message ends `unknown` (a second worker settles it when the lease runs out) and is never sent
twice. Real processes on PostgreSQL: the API server, two workers in turn, an SMTP server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


async def test_a_worker_killed_after_the_hand_off_leaves_the_message_unknown(
    tmp_path: Path, scratch: ScratchDatabases
) -> None:
    url = await database_url("postgresql", tmp_path, scratch)
    spawned: list[subprocess.Popen[bytes]] = []
    try:
        await _scenario(url, tmp_path, spawned)
    finally:  # a failed assertion never leaves a worker behind
        for process in spawned:
            if process.poll() is None:
                process.kill()
                process.wait(10)


async def _scenario(url: str, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    run_cli(url, "migrate")
    keys = create_workspace(url, "Faults")
    auth = {"Authorization": f"Bearer {keys['secret_key']}"}
    async with SmtpServer() as smtp:
        with Server(url, tmp_path / "api.log", **ENV) as server:
            async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=30) as api:
                channel = {"type": "email", "provider": "smtp", "name": "Mail",
                           "settings": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                                        "from_email": "news@shop.example"}}  # fmt: skip
                assert (await api.post("/v1/channels", json=channel)).status_code == 201
                lead = (await api.post("/v1/leads", json={"email": "crash@example.com"})).json()
                first = _worker(url, tmp_path / "worker-1.log")
                spawned.append(first)

                def kill_the_worker(_: Received) -> None:  # the message is here; its answer never leaves
                    os.kill(first.pid, signal.SIGKILL)

                smtp.handler.on_data = kill_the_worker
                queued = await api.post("/v1/messages", json={"lead_id": lead["id"], "channel": "email",
                                                              "subject": "Receipt", "body_text": "Thanks",
                                                              "purpose": "transactional"})  # fmt: skip
                assert queued.status_code == 202, queued.text
                message_id = queued.json()["id"]
                await asyncio.to_thread(first.wait, 30)
                assert first.returncode == -signal.SIGKILL
                smtp.handler.on_data = None
                after_kill = (await api.get(f"/v1/messages/{message_id}")).json()
                assert after_kill["status"] == "sending"  # handed off, not recorded

                second = _worker(url, tmp_path / "worker-2.log")
                spawned.append(second)
                try:
                    deadline = time.monotonic() + 30
                    while True:
                        message = (await api.get(f"/v1/messages/{message_id}")).json()
                        if message["status"] != "sending":
                            break
                        assert time.monotonic() < deadline, "the lost send was never settled"
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(1.0)  # time for a wrong resend to happen
                finally:
                    second.terminate()
                    await asyncio.to_thread(second.wait, 30)
    assert message["status"] == "unknown" and message["sent_at"] is None
    assert [h["status"] for h in message["history"]] == ["queued", "unknown"]
    assert len(smtp.to("crash@example.com")) == 1  # never sent twice
