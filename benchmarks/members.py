"""Benchmark the skeleton's request path: authenticated JSON writes and reads through the real
server on a real database, against the raw-asyncpg baseline measured in the same run.

    .venv/bin/python -m benchmarks.members [--seconds 10] [--runs 3] [--connections 32] [--sqlite]

Each server is uvicorn with one worker (one core); the load generator takes the other core."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx

from benchmarks import postgres
from benchmarks.loadgen import Result, build_request, process_tree, run

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(args: list[str], env: dict[str, str], ready_path: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    process = subprocess.Popen(
        [sys.executable, *args, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=1).status_code == 200:
                return process, port
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{args} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server and wait until its whole process tree (serve's worker child) has exited."""
    tree = process_tree(process.pid)
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 15
    alive = tree
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in tree if os.path.exists(f"/proc/{pid}") and _not_zombie(pid)]
        if alive:
            time.sleep(0.1)
    for pid in alive:  # the server's own children, by id
        os.kill(pid, signal.SIGKILL)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(postgres.admin_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _json(body: dict[str, object]) -> bytes:
    return json.dumps(body).encode()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sqlite", action="store_true", help="also run the API on the embedded SQLite default")
    args = parser.parse_args()

    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    pg_url = postgres.database_url(name)
    targets = [("PostgreSQL", pg_url)]
    if args.sqlite:
        targets.append(("SQLite", f"sqlite:////tmp/{name}.db"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        base, base_port = _start(
            ["-m", "uvicorn", "benchmarks.baseline_app:app", "--log-level", "warning"],
            {"BASELINE_DSN": pg_url},
            "/openapi.json",
        )
        processes.append(base)
        scenarios: list[tuple[str, int, Callable[[int], bytes]]] = []
        tag = uuid.uuid4().hex[:6]
        unique = itertools.count()  # the load generator's own counter restarts every run

        def baseline_post(n: int) -> bytes:
            body = _json({"name": f"Member {n}", "email": f"b{n}-{tag}@bench.io"})
            return build_request("POST", "/members", {"Content-Type": "application/json"}, body)

        scenarios.append(("baseline: FastAPI + raw asyncpg INSERT (PostgreSQL)", base_port, baseline_post))

        for label, url in targets:
            env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
            _cli(env, "migrate")
            keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
            server, port = _start(["-m", "app", "serve", "--no-worker"], env, "/readyz")
            processes.append(server)
            auth = {"Authorization": f"Bearer {keys['secret_key']}", "Content-Type": "application/json"}
            member = httpx.post(
                f"http://127.0.0.1:{port}/v1/members",
                headers=auth,
                json={"name": "Seed", "email": f"seed-{tag}@bench.io"},
            ).json()
            for i in range(100):
                httpx.post(
                    f"http://127.0.0.1:{port}/v1/members",
                    headers=auth,
                    json={"name": f"Fill {i}", "email": f"fill{i}-{tag}@bench.io"},
                )

            def api_post(n: int, auth: dict[str, str] = auth, label: str = label) -> bytes:
                n = next(unique)
                body = _json({"name": f"Member {n}", "email": f"m{n}-{label[0]}{tag}@bench.io"})
                return build_request("POST", "/v1/members", auth, body)

            def api_post_idem(n: int, auth: dict[str, str] = auth, label: str = label) -> bytes:
                n = next(unique)
                body = _json({"name": f"Member {n}", "email": f"i{n}-{label[0]}{tag}@bench.io"})
                return build_request("POST", "/v1/members", {**auth, "Idempotency-Key": f"k{n}-{tag}"}, body)

            def api_get(n: int, auth: dict[str, str] = auth, member_id: str = member["id"]) -> bytes:
                return build_request("GET", f"/v1/members/{member_id}", auth)

            def api_list(n: int, auth: dict[str, str] = auth) -> bytes:
                return build_request("GET", "/v1/members?limit=50", auth)

            scenarios += [
                (f"API POST /v1/members ({label})", port, api_post),
                (f"API POST /v1/members + Idempotency-Key ({label})", port, api_post_idem),
                (f"API GET /v1/members/{{id}} ({label})", port, api_get),
                (f"API GET /v1/members?limit=50 ({label})", port, api_list),
            ]

        results: dict[str, list[Result]] = {label: [] for label, _, _ in scenarios}
        for _ in range(args.runs):
            for label, port, factory in scenarios:
                results[label].append(await run(port, factory, connections=args.connections, seconds=args.seconds))

        baseline_rps = statistics.median(r.rps for r in results[scenarios[0][0]])
        print(f"\n{args.runs} runs x {args.seconds:g} s, {args.connections} connections, medians\n")
        print("| scenario | req/s | vs baseline | p50 ms | p99 ms | errors |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, runs in results.items():
            rps = statistics.median(r.rps for r in runs)
            p50 = statistics.median(r.percentile(50) for r in runs)
            p99 = statistics.median(r.percentile(99) for r in runs)
            errors = sum(r.errors for r in runs)
            print(f"| {label} | {rps:,.0f} | {rps / baseline_rps:.2f} | {p50:.1f} | {p99:.1f} | {errors} |")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for suffix in ("", "-wal", "-shm"):
            Path(f"/tmp/{name}.db{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    with postgres.server():
        asyncio.run(main())
