"""Benchmark first-response SLA breaches on PostgreSQL: 10,000 leads whose deadlines fall over one
minute, breached by a real `python -m app worker` process; lag = the breach event's time minus
the lead's deadline. Target: p99 under 2 s.

    .venv/bin/python -m benchmarks.sla [--leads 10000] [--spread 60]

Baseline in the same run: a bare asyncpg loop marking due leads breached with one UPDATE every
100 ms (no events, no escalation, no worker), on its own 10,000 leads. The leads are written with
COPY as capture would leave them (pending, with a deadline), so setting up costs little."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from app.ids import new_id
from benchmarks import postgres
from benchmarks.loadgen import cpu_seconds
from benchmarks.members import ROOT, _admin, _cli

COLUMNS = [
    "workspace_id",
    "id",
    "email",
    "email_key",
    "source",
    "channel",
    "tags",
    "status",
    "custom_fields",
    "sla_status",
    "first_response_due_at",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
]


async def seed(conn: asyncpg.Connection, workspace_id: uuid.UUID, count: int, first: datetime, spread: float) -> None:
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        due = first + timedelta(seconds=spread * n / count)
        email = f"sla{n}-{uuid.uuid4().hex[:6]}@bench.io"
        lead = (workspace_id, new_id(), email, email, "web_form", "online", "[]", "new", "{}", "pending", due)
        rows.append((*lead, now, now, "bench", "bench"))
    await conn.copy_records_to_table("leads", records=rows, columns=COLUMNS)
    await conn.execute("ANALYZE leads")


def summary(lags: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(lags, n=100, method="inclusive")
    return q[49], q[98], max(lags)


async def bare_sweeper(url: str, workspace_id: uuid.UUID, count: int, timeout: float) -> list[float]:
    conn = await asyncpg.connect(url)
    lags: list[float] = []
    deadline = time.monotonic() + timeout
    try:
        while len(lags) < count and time.monotonic() < deadline:
            rows = await conn.fetch(
                "UPDATE leads SET sla_status = 'breached' WHERE workspace_id = $1 AND sla_status = 'pending' "
                "AND first_response_due_at <= clock_timestamp() "
                "RETURNING extract(epoch FROM clock_timestamp() - first_response_due_at) AS lag",
                workspace_id,
            )
            lags.extend(float(r["lag"]) for r in rows)
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return lags


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds the deadlines are spread over")
    args = parser.parse_args()
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = postgres.database_url(name)
    env = {"DATABASE_URL": url.replace("postgresql://", "postgresql+asyncpg://", 1), "LOG_LEVEL": "warning"}
    worker: subprocess.Popen[bytes] | None = None
    timeout = args.spread + 60
    try:
        _cli(env, "migrate")
        base_ws = uuid.UUID(json.loads(_cli(env, "create-workspace", "Baseline", "--json"))["workspace_id"])
        api_ws = uuid.UUID(json.loads(_cli(env, "create-workspace", "Bench", "--json"))["workspace_id"])
        conn = await asyncpg.connect(url)

        await seed(conn, base_ws, args.leads, datetime.now(UTC) + timedelta(seconds=3), args.spread)
        base = await bare_sweeper(url, base_ws, args.leads, timeout)

        worker = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"], cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE
        )
        await asyncio.sleep(3)  # started and idle
        worker_cpu, database_cpu = cpu_seconds([worker.pid]), postgres.cpu_seconds()
        await seed(conn, api_ws, args.leads, datetime.now(UTC) + timedelta(seconds=3), args.spread)
        started = time.monotonic()
        done = 0
        while time.monotonic() - started < timeout:
            done = await conn.fetchval(
                "SELECT count(*) FROM leads WHERE workspace_id = $1 AND sla_status = 'breached'", api_ws
            )
            if done >= args.leads:
                break
            await asyncio.sleep(0.5)
        worker_cpu = cpu_seconds([worker.pid]) - worker_cpu
        database_cpu = postgres.cpu_seconds() - database_cpu
        await asyncio.sleep(1)
        rows = await conn.fetch(
            "SELECT extract(epoch FROM e.occurred_at - l.first_response_due_at) AS lag FROM events e "
            "JOIN leads l ON l.workspace_id = e.workspace_id AND l.id::text = e.resource_id "
            "WHERE e.workspace_id = $1 AND e.type = 'lead.sla_breached'",
            api_ws,
        )
        await conn.close()
        lags = [float(r["lag"]) for r in rows]
        print(f"\n{args.leads} leads, deadlines over {args.spread:g} s, lag = breach time - deadline\n")
        print("| breached by | breached | events | lag p50 s | lag p99 s | max s | worker CPU s | PostgreSQL CPU s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        b50, b99, bmax = summary(base)
        print(f"| baseline: bare UPDATE every 100 ms | {len(base)} | - | {b50:.3f} | {b99:.3f} | {bmax:.3f} | - | - |")
        w50, w99, wmax = summary(lags) if lags else (float("nan"),) * 3
        print(
            f"| `python -m app worker` | {done} | {len(lags)} | {w50:.3f} | {w99:.3f} | {wmax:.3f} | "
            f"{worker_cpu:.1f} | {database_cpu:.1f} |"
        )
        print(f"\nTarget p99 < 2 s: {'met' if w99 < 2 else 'NOT met'}; every lead breached once: {done == len(lags)}")
        assert done == len(lags) == args.leads, "a breach was lost or emitted twice"
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
