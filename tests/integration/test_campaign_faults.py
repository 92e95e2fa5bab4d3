"""A worker process killed while a campaign is being sent: another worker takes over and the
campaign ends `sent` with no recipient messaged twice. Real processes on PostgreSQL: the API
server, two workers in turn, an SMTP server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ScratchDatabases, database_url
from tests.integration.server import Server, create_workspace, run_cli
from tests.integration.test_message_faults import ENV, _worker
from tests.smtp_server import Received, SmtpServer

RECIPIENTS = 400


@pytest.mark.slow
async def test_a_worker_killed_mid_campaign_messages_no_one_twice(tmp_path: Path, scratch: ScratchDatabases) -> None:
    url = await database_url("postgresql", tmp_path, scratch)
    spawned: list[subprocess.Popen[bytes]] = []
    try:
        await _scenario(url, tmp_path, spawned)
    finally:  # a failed assertion never leaves a worker behind
        for process in spawned:
            if process.poll() is None:
                process.kill()
                process.wait(10)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _scenario(url: str, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    run_cli(url, "migrate")
    keys = create_workspace(url, "Campaign faults")
    auth = {"Authorization": f"Bearer {keys['secret_key']}"}
    async with SmtpServer() as smtp:
        with Server(url, tmp_path / "api.log", **ENV) as server:
            async with httpx.AsyncClient(base_url=server.url, headers=auth, timeout=60) as api:
                channel = {"type": "email", "provider": "smtp", "name": "Mail",
                           "settings": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                                        "from_email": "news@shop.example", "max_per_second": 200}}  # fmt: skip
                await _ok(await api.post("/v1/channels", json=channel), 201)
                policy = {"quiet_hours": None, "frequency_cap": None, "marketing_requires_opt_in": False}
                await _ok(await api.patch("/v1/settings/messaging", json=policy))
                await _ok(await api.patch("/v1/settings/campaigns", json={"required_approvals": 1}))
                for start in range(0, RECIPIENTS, 200):
                    items = [{"email": f"r{i}@example.com", "tags": ["crash"]} for i in range(start, start + 200)]
                    await _ok(await api.post("/v1/leads/batch", json={"leads": items}))
                template = await _ok(await api.post("/v1/templates", json={
                    "name": "Sale", "channel": "email", "subject": "Sale", "body_text": "Hello"}), 201)  # fmt: skip
                campaign = await _ok(await api.post("/v1/campaigns", json={
                    "name": "Crash", "channel": "email",
                    "audience": {"type": "leads", "conditions": {"field": "tags", "op": "contains", "value": "crash"}},
                    "variants": [{"name": "a", "template_id": template["id"], "weight": 1}],
                }), 201)  # fmt: skip
                await _ok(await api.post(f"/v1/campaigns/{campaign['id']}/submit"))
                reza = {"name": "Reza", "email": f"reza-{uuid.uuid4().hex[:6]}@x.io"}
                member = await _ok(await api.post("/v1/members", json=reza), 201)
                key = await _ok(await api.post("/v1/api-keys", json={"name": "review", "scopes": ["campaigns:review"],
                                                                      "member_id": member["id"]}), 201)  # fmt: skip
                review = await api.post(f"/v1/campaigns/{campaign['id']}/reviews", json={"decision": "approve"},
                                        headers={"Authorization": f"Bearer {key['key']}"})  # fmt: skip
                assert (await _ok(review))["status"] == "approved"

                first = _worker(url, tmp_path / "worker-1.log")
                spawned.append(first)
                killed = asyncio.Event()

                def kill_midway(_: Received) -> None:  # a quarter sent: the worker dies mid-campaign
                    if len(smtp.received) >= RECIPIENTS // 4 and not killed.is_set():
                        os.kill(first.pid, signal.SIGKILL)
                        killed.set()

                smtp.handler.on_data = kill_midway
                launched = await _ok(await api.post(f"/v1/campaigns/{campaign['id']}/launch"))
                assert launched["progress"]["recipients"] == RECIPIENTS
                await asyncio.to_thread(first.wait, 60)
                assert first.returncode == -signal.SIGKILL
                smtp.handler.on_data = None
                midway = await _ok(await api.get(f"/v1/campaigns/{campaign['id']}"))
                assert midway["status"] == "sending" and midway["progress"]["pending"] + midway["progress"][
                    "queued"] > 0  # fmt: skip

                second = _worker(url, tmp_path / "worker-2.log")
                spawned.append(second)
                try:
                    deadline = time.monotonic() + 90
                    while True:
                        done = await _ok(await api.get(f"/v1/campaigns/{campaign['id']}"))
                        if done["status"] == "sent":
                            break
                        assert time.monotonic() < deadline, f"the campaign never finished: {done['progress']}"
                        await asyncio.sleep(0.3)
                finally:
                    second.terminate()
                    await asyncio.to_thread(second.wait, 30)
    counts = Counter(r.message["To"] for r in smtp.received)
    assert max(counts.values()) == 1, [a for a, n in counts.items() if n > 1]  # no one twice
    progress = done["progress"]
    assert progress["pending"] == 0 and progress["queued"] == 0 and progress["recipients"] == RECIPIENTS
    # every recipient's message went, but those the killed worker had handed off and not recorded
    # (`unknown`, never resent blindly): each of those arrived at most once
    assert progress["sent"] == RECIPIENTS
    assert len(counts) >= RECIPIENTS - 10
