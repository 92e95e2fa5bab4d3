"""Benchmark event delivery and timers on PostgreSQL with real worker processes.

    .venv/bin/python -m benchmarks.webhooks [--rate 200] [--seconds 20] [--backlog 5000] [--timer-seconds 60]
        [--max-in-flight 1,8] [--only lag,drain,timers]

1. Lag: events committed at a fixed rate (one transaction each, as the API writes them) and
   delivered by `python -m app worker` to a local receiver (one endpoint, max_in_flight 1):
   commit-to-delivery lag p50/p99, with one worker and with two.
2. Drain: a backlog of events delivered to one endpoint as fast as one worker can, at each
   `--max-in-flight`, against the baseline of the same receiver fed by a bare httpx loop
   (sequential POSTs, no database) in the same run: deliveries/s as a ratio. The rate counts from
   the first delivery to the last (the worker's start-up is left out); the rate from the worker's
   start is shown beside it. Then the same against a receiver that takes `--slow-receiver-ms` to
   answer (a receiver doing work): where `max_in_flight` > 1 pays.
3. Timers: `--timer-seconds` of timers falling due at `--rate` per second: firing lag p50/p99.

Targets: drain at max_in_flight 1 >= 0.6 of the baseline; 200 events/s with one worker: lag p99 < 1 s.
"""

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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.events.webhooks import EndpointRules
from app.ids import utcnow
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import timers, webhooks
from app.services.workspace import members
from benchmarks import postgres

ROOT = Path(__file__).resolve().parents[1]


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, tuple[float, dict]] = {}
        self.port = 0
        self.delay = 0.0  # seconds each answer takes (a receiver doing work before it answers)

    async def start(self) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (ln.partition(":") for ln in head.decode("latin-1").split("\r\n")[1:] if ln)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.time()
                message = headers.get("webhook-id", uuid.uuid4().hex)
                if message not in self.arrivals:
                    self.arrivals[message] = (arrived, json.loads(body) if body else {})
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def lags_ms(self) -> list[float]:
        lags = []
        for arrived, payload in self.arrivals.values():
            if "occurred_at" in payload:
                occurred = datetime.fromisoformat(payload["occurred_at"].replace("Z", "+00:00")).timestamp()
                lags.append((arrived - occurred) * 1000)
        return lags


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


def start_worker(url: str, tag: str) -> subprocess.Popen[bytes]:
    # Logging as shipped (the Dockerfile's JSON lines at info: one line per delivery attempt), to a file.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WEBHOOK_ALLOW_LOOPBACK": "true",
        "LOG_LEVEL": "info",
        "LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        cwd=ROOT,
        env=env,
        stdout=open(f"/tmp/bench-worker-{tag}.log", "wb"),
        stderr=subprocess.STDOUT,
    )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        p.wait(timeout=30)


@dataclass
class Scratch:
    """A fresh, migrated PostgreSQL database with one workspace, a receiver, and workers to stop."""

    url: str
    database: Database
    workspace_id: uuid.UUID
    receiver: Receiver
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    async def subscribe(self, ctx: Context, max_in_flight: int = 1) -> None:
        endpoint = {
            "url": f"http://127.0.0.1:{self.receiver.port}/h",
            "event_types": ["member.created"],
            "description": "",
            "enabled": True,
        }
        if max_in_flight != 1:  # (the default: also what code before the setting does)
            endpoint["max_in_flight"] = max_in_flight
        await webhooks.create(ctx, endpoint, rules=EndpointRules(max_per_workspace=50, allow_loopback=True))


@asynccontextmanager
async def scratch() -> AsyncIterator[Scratch]:
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(postgres.admin_url())
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = postgres.database_url(name)
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    out = subprocess.run(
        [sys.executable, "-m", "app", "create-workspace", "Bench", "--json"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    receiver = Receiver()
    await receiver.start()
    run = Scratch(url, Database(Settings(database_url=url)), uuid.UUID(json.loads(out)["workspace_id"]), receiver)
    try:
        yield run
    finally:
        stop(run.processes)
        await run.database.dispose()
        conn = await asyncpg.connect(postgres.admin_url())
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


MEMBER = {"role": "member", "active": True, "timezone": None, "capacity": None, "manager_id": None}


async def produce(database: Database, workspace_id: uuid.UUID, rate: float, seconds: float, tag: str) -> int:
    """Commit one event per transaction at `rate` per second."""
    count, start = 0, time.perf_counter()
    total = int(rate * seconds)
    while count < total:
        due = start + count / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        async with UnitOfWork(database) as uow:
            ctx = Context(uow, workspace_id, SYSTEM, utcnow())
            await members.create(ctx, {"name": f"M{count}", "email": f"{tag}{count}@bench.io", **MEMBER})
            await uow.commit()
        count += 1
    return count


async def wait_for(receiver: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.arrivals) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def lag_run(workers: int, rate: float, seconds: float) -> dict[str, float]:
    async with scratch() as run:
        async with UnitOfWork(run.database) as uow:
            await run.subscribe(Context(uow, run.workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES))
            await uow.commit()
        run.processes += [start_worker(run.url, f"lag{i}") for i in range(workers)]
        # Started when a first event has gone through (a loaded machine may take seconds to start a
        # worker): the lag is the running worker's, not its start-up's.
        await produce(run.database, run.workspace_id, 1, 1, "warm")
        await wait_for(run.receiver, 1, 120)
        await asyncio.sleep(2)
        run.receiver.arrivals.clear()
        started = time.perf_counter()
        produced = await produce(run.database, run.workspace_id, rate, seconds, "l")
        produce_seconds = time.perf_counter() - started
        await wait_for(run.receiver, produced, 60)
        lags = run.receiver.lags_ms()
        return {
            "events": produced,
            "delivered": len(run.receiver.arrivals),
            "commit_rate": produced / produce_seconds,
            "p50": pct(lags, 50),
            "p99": pct(lags, 99),
            "max": max(lags),
        }


async def drain_run(
    backlog: int, max_in_flight: int, predispatch: bool = True, delay_ms: float = 0
) -> dict[str, float]:
    async with scratch() as run:
        run.receiver.delay = delay_ms / 1000
        # Baseline: the same receiver fed by a bare sequential httpx loop (no database, no signing).
        async with httpx.AsyncClient() as client:
            body = json.dumps({"data": {"x": 1}})
            t0 = time.perf_counter()
            calls = 2000 if not delay_ms else 200
            for i in range(calls):
                await client.post(
                    f"http://127.0.0.1:{run.receiver.port}/b",
                    content=body,
                    headers={"webhook-id": f"b{i}", "content-type": "application/json"},
                )
            baseline = calls / (time.perf_counter() - t0)
        run.receiver.arrivals.clear()
        async with UnitOfWork(run.database) as uow:
            ctx = Context(uow, run.workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
            await run.subscribe(ctx, max_in_flight)
            for i in range(backlog):
                await members.create(ctx, {"name": f"D{i}", "email": f"d{i}@bench.io", **MEMBER})
            await uow.commit()
        if predispatch:
            # The events numbered and their deliveries made beforehand: the drain is the sending alone.
            from app.worker.dispatcher import dispatch

            while (await dispatch(run.database, utcnow())).events:
                pass
        t0 = time.perf_counter()
        run.processes.append(start_worker(run.url, "drain"))
        started = time.time()
        await wait_for(run.receiver, backlog, 300)
        from_start = len(run.receiver.arrivals) / (time.perf_counter() - t0)
        arrivals = sorted(arrived for arrived, _ in run.receiver.arrivals.values())
        rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else float("nan")
        return {
            "backlog": backlog,
            "max_in_flight": max_in_flight,
            "delivered": len(run.receiver.arrivals),
            "rate": rate,
            "from_start": from_start,
            "first_after": arrivals[0] - started if arrivals else float("nan"),
            "baseline": baseline,
        }


async def timer_run(rate: float, seconds: float) -> dict[str, float]:
    """Timers falling due at `rate` per second for `seconds`, fired by one worker that is up and idle
    before the first falls due: the timers are written a day ahead, the worker started and waited
    for, then every timer moved to start 3 s from now in one statement (an idle worker looks at its
    next due timer at least every WORKER_POLL_SECONDS, 1 s). Writing thousands of timers takes
    seconds, and a worker's start-up several more on a busy machine: neither is in the lag."""
    async with scratch() as run:
        far = utcnow() + timedelta(days=1)
        total = int(rate * seconds)
        async with UnitOfWork(run.database) as uow:
            ctx = Context(uow, run.workspace_id, SYSTEM, utcnow())
            for i in range(total):
                await timers.schedule(
                    ctx,
                    "notify",
                    far + timedelta(seconds=i / rate),
                    {"type": "task.due", "data": {"i": i}},
                    key=f"t{i}",
                )
            await uow.commit()
        run.processes.append(start_worker(run.url, "timers"))
        conn = await asyncpg.connect(run.url)
        try:
            deadline = time.monotonic() + 120
            while not await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'crm-worker'"
            ):
                assert time.monotonic() < deadline, "the worker did not connect"
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)  # its first passes done: idle
            start = utcnow() + timedelta(seconds=3)
            await conn.execute("UPDATE timers SET run_at = run_at - $1::interval WHERE kind = 'notify'", far - start)
            await asyncio.sleep(max((start - utcnow()).total_seconds(), 0) + seconds + 5)
            rows = await conn.fetch("SELECT run_at, fired_at FROM timers WHERE kind = 'notify'")
        finally:
            await conn.close()
        lags = [(r["fired_at"] - r["run_at"]).total_seconds() * 1000 for r in rows if r["fired_at"]]
        return {"timers": total, "fired": len(lags), "p50": pct(lags, 50), "p99": pct(lags, 99), "max": max(lags)}


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--timer-seconds", type=float, default=60)
    parser.add_argument("--max-in-flight", default="1,8", help="drain rows: the endpoint's max_in_flight, each")
    parser.add_argument(
        "--slow-receiver-ms",
        type=float,
        default=20,
        help="drain rows too against a receiver taking this long (0: none)",
    )
    parser.add_argument("--slow-backlog", type=int, default=1000)
    parser.add_argument("--only", default="lag,drain,timers", help="which parts to run (comma-separated)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {load()}, rate {args.rate:g}/s "
        f"for {args.seconds:g} s\n"
    )
    if "lag" in parts:
        print("| scenario | events | delivered | commit rate /s | lag p50 ms | lag p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for workers in (1, 2):
            r = await lag_run(workers, args.rate, args.seconds)
            print(
                f"| {workers} worker(s), {args.rate:g} events/s | {r['events']:.0f} | {r['delivered']:.0f} | "
                f"{r['commit_rate']:.0f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['max']:.0f} |",
                flush=True,
            )
        print(f"({load()})")
    if "drain" in parts:
        print(
            f"\nDrain: {args.backlog} events to one endpoint, one worker; baseline: bare sequential httpx POSTs to "
            "the same receiver, in the same run\n"
        )
        print(
            "| receiver answers in | max_in_flight | delivered | deliveries/s | from worker start /s "
            "| baseline /s | ratio |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        delays = [(0.0, args.backlog)] + ([(args.slow_receiver_ms, args.slow_backlog)] if args.slow_receiver_ms else [])
        for delay_ms, backlog in delays:
            for max_in_flight in (int(n) for n in args.max_in_flight.split(",")):
                d = await drain_run(backlog, max_in_flight, delay_ms=delay_ms)
                print(
                    f"| {delay_ms:g} ms | {max_in_flight} | {d['delivered']:.0f} | {d['rate']:.0f} | "
                    f"{d['from_start']:.0f} | {d['baseline']:.0f} | {d['rate'] / d['baseline']:.2f} |",
                    flush=True,
                )
        print(f"({load()})")
    if "timers" in parts:
        t = await timer_run(args.rate, args.timer_seconds)
        print(
            f"\nTimers: {t['fired']:.0f} of {t['timers']} fired ({args.rate:g} due/s for {args.timer_seconds:g} s); "
            f"firing lag p50 {t['p50']:.0f} ms, p99 {t['p99']:.0f} ms, max {t['max']:.0f} ms"
        )


if __name__ == "__main__":
    with postgres.server():
        asyncio.run(main())
