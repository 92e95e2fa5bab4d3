"""The commands a newcomer runs, as separate processes on real databases."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ScratchDatabases, database_url
from tests.integration.receiver import Receiver
from tests.integration.server import ROOT, Server, children, cli_env, create_workspace, run_cli

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


@pytest.mark.slow
def test_serve_on_an_empty_sqlite_database_creates_demo_and_prints_its_keys_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    with Server(url, tmp_path / "first.log") as server:
        output = server.output()
        secret = re.search(r"secret key \(admin\):\s+(sk_\S+)", output)
        assert secret, output
        assert re.search(r"publishable key:\s+pk_\S+", output)
        headers = {"Authorization": f"Bearer {secret.group(1)}"}
        assert httpx.get(f"{server.url}/v1/workspace", headers=headers).json()["name"] == "demo"
        assert httpx.get(f"{server.url}/readyz").json() == {"status": "ok"}
        ready = httpx.get(f"{server.url}/readyz", params={"verbose": "1"}, headers=headers).json()
        assert ready["status"] == "ok" and ready["migration"] == ready["expected_migration"]
    with Server(url, tmp_path / "second.log") as server:
        assert "sk_" not in server.output()
        assert httpx.get(f"{server.url}/v1/workspace", headers=headers).status_code == 200


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~150 operations x 10 examples against a real server: minutes on a loaded machine
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_api_conforms_to_its_openapi_document(kind: str, tmp_path: Path, scratch: ScratchDatabases) -> None:
    """A short schemathesis run against the real server: no 5xx, every response as documented."""
    url = await database_url(kind, tmp_path, scratch)
    run_cli(url, "migrate")
    created = create_workspace(url, "Fuzz", "--region", "IR", "--timezone", "Asia/Tehran", "--currency", "IRR")
    with Server(url, tmp_path / "server.log") as server:
        headers = {"Authorization": f"Bearer {created['secret_key']}"}
        workspace = httpx.get(f"{server.url}/v1/workspace", headers=headers).json()
        assert (workspace["id"], workspace["currency"], workspace["timezone"], workspace["default_region"]) == (
            created["workspace_id"],
            "IRR",
            "Asia/Tehran",
            "IR",
        )
        # The document is built on its first request: seconds on a loaded machine, past the
        # fuzzer's 10 s read timeout for loading it. Built here first, it is then served as made.
        assert httpx.get(f"{server.url}/openapi.json", timeout=120).status_code == 200
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "run",
                f"{server.url}/openapi.json",
                "-H",
                f"Authorization: Bearer {created['secret_key']}",
                "--checks",
                CHECKS,
                "--max-examples",
                "10",
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "7",
                "--generation-database",
                "none",
                # One worker: with threads, schemathesis on CPython 3.11 sometimes dies with
                # "AST constructor recursion depth mismatch" (its error, not the API's).
                "--workers",
                "1",
                "--request-timeout",
                "10",
            ],
            cwd=tmp_path,  # schemathesis keeps a cache in its working directory
            env=cli_env(url),
            capture_output=True,
            text=True,
            timeout=840,
        )
        failures = result.stdout[result.stdout.find("FAILURES") :][:8000]  # the cases, with a curl to replay
        assert result.returncode == 0, failures + result.stderr[-2000:] + server.output()[-3000:]


def test_create_workspace_refuses_bad_locale_with_exit_code_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    run_cli(url, "migrate")
    result = run_cli(url, "create-workspace", "X", "--currency", "EURO", "--timezone", "Moon/Base", check=False)
    assert result.returncode == 2
    assert "currency" in result.stderr and "timezone" in result.stderr and "Traceback" not in result.stderr


async def test_replicas_migrating_at_once_on_postgresql_all_succeed(tmp_path: Path, scratch: ScratchDatabases) -> None:
    url = await database_url("postgresql", tmp_path, scratch)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "migrate"],
            cwd=ROOT,
            env=cli_env(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
    assert all(code == 0 for code, _ in outcomes), outcomes
    created = create_workspace(url, "After")
    assert created["secret_key"].startswith("sk_")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc (Linux)")
async def test_serve_on_postgresql_runs_the_worker_as_a_child_and_stops_it(
    tmp_path: Path, scratch: ScratchDatabases
) -> None:
    """`serve` on PostgreSQL delivers webhooks from a worker child process, restarts it when it
    dies, and takes it down when the server stops."""
    url = await database_url("postgresql", tmp_path, scratch)
    run_cli(url, "migrate")
    keys = create_workspace(url, "Shop")
    headers = {"Authorization": f"Bearer {keys['secret_key']}"}
    async with Receiver() as receiver:
        server = Server(
            url, tmp_path / "server.log", worker=True, WEBHOOK_ALLOW_LOOPBACK="true", WORKER_LEASE_SECONDS="2"
        )
        try:
            deadline = time.monotonic() + 10
            while not (workers := children(server.process.pid)) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert len(workers) == 1, server.output()
            created = httpx.post(
                f"{server.url}/v1/webhook-endpoints",
                json={"url": receiver.url, "event_types": ["member.created"]},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            httpx.post(f"{server.url}/v1/members", json={"name": "A", "email": "a@x.io"}, headers=headers)
            await receiver.wait_for(1, timeout=90)  # the worker child's imports under load

            os.kill(workers[0], signal.SIGKILL)  # a crashed worker is replaced
            deadline = time.monotonic() + 30
            while (replaced := children(server.process.pid)) in ([], workers) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert replaced and replaced != workers, server.output()
            httpx.post(f"{server.url}/v1/members", json={"name": "B", "email": "b@x.io"}, headers=headers)
            await receiver.wait_for(2, timeout=90)  # a new child: imports, then the lease
        finally:
            # Stop from a thread: the receiver runs on this event loop, and the worker may still be
            # delivering to it (a redelivery after the killed worker's lease) while it shuts down.
            await asyncio.to_thread(server.stop)
        # uvicorn shuts down gracefully, then re-raises SIGTERM; -9 would mean it hung and was killed
        assert server.process.returncode in (0, -signal.SIGTERM), server.output()
        assert not Path(f"/proc/{replaced[0]}").exists() or "Z" in Path(f"/proc/{replaced[0]}/stat").read_text()
