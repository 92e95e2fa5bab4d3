"""Benchmark the journeys engine: many enrolments falling due within one minute, advanced by real
worker processes (`python -m app worker`), on a real database.

    .venv/bin/python -m benchmarks.journeys [--enrolments 100000] [--workers 1 2] [--sends 10000]

Set-up, not measured (a fresh database for every run): a workspace made with the CLI; through the
API (`serve --no-worker`, stopped before the run) a manual-trigger journey, published, whose steps
are `wait` (WAIT_SECONDS) then `update` (adds a tag), and one seed lead. The N leads are copies of
the seed's row (COPY), and the N enrolments are written as the engine leaves an enrolment that
began its wait (`engine.run` / `_begin_wait`): at the wait step, visit 1, version 2, `due_at` set,
with the wait's step run (number 1, started, not finished). Their `due_at` are spread evenly over
`--spread` seconds (60) from T0, a moment after the workers are up; the wait began WAIT_SECONDS
before each one's `due_at`. The `journey.enrolled` events of those enrolments are not written.

Measured, for each `--workers` count: from T0 (the first due_at) until every enrolment completed;
the lag of each enrolment from its due_at to its `ended_at` (p50, p99, max; `ended_at` is the time
its pass began, its commit comes up to a batch later), and the lag until it was seen ended (polled
every POLL seconds, matched by rank: enrolments are taken in due order); each worker's peak
resident memory (VmHWM) and CPU; the database's CPU.

Then, with `--sends` enrolments, the step after the wait is a `send` (email, transactional, from a
template) through a channel pointing at a local SMTP server (aiosmtpd), quiet hours and the
frequency cap off, the channel's `max_per_second` raised: the time from T0 until every email was
received, and that each arrived once (distinct Message-IDs).

`--profile DIR` runs each worker under cProfile (its statistics written to DIR when it stops):
slower, for finding where the time goes, not for the figures."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.ids import new_id
from benchmarks import postgres
from benchmarks.loadgen import cpu_seconds
from benchmarks.members import _cli, _start, _stop
from benchmarks.messaging import Counting, peak_rss_mb, smtp_server

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 300
POLL = 0.5
TAG = "journeyed"
ACTOR = "bench"


@dataclass
class Setup:
    url: str
    env: dict[str, str]
    workspace_id: uuid.UUID
    journey_id: uuid.UUID
    seed: dict[str, Any]


@dataclass
class Outcome:
    label: str
    workers: int
    enrolments: int
    lead_in: float
    total: float = math.nan  # T0 until the last ended_at
    seen: float = math.nan  # T0 until the poll saw every enrolment ended
    lag: dict[str, float] = field(default_factory=dict)  # due_at -> ended_at
    seen_lag: dict[str, float] = field(default_factory=dict)  # due_at -> seen ended (by rank)
    peak_mb: list[float] = field(default_factory=list)
    worker_cpu: list[float] = field(default_factory=list)
    db_cpu: float = math.nan
    statuses: dict[str, int] = field(default_factory=dict)
    steps_ok: int = 0
    tagged: int = 0
    received: int = 0
    distinct: int = 0
    mail_total: float = math.nan  # T0 until the last email arrived
    errors: list[str] = field(default_factory=list)


def _env(url: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false", "OUTBOUND_ALLOW_LOOPBACK": "true",
        "PUBLIC_BASE_URL": "https://crm.bench.example", "SECRETS_KEY": os.environ.get("SECRETS_KEY", ""),
    }  # fmt: skip
    if not env["SECRETS_KEY"]:
        from cryptography.fernet import Fernet

        env["SECRETS_KEY"] = Fernet.generate_key().decode()
    return env


async def _create_database() -> tuple[str, str]:
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres.admin_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, postgres.database_url(name)


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(postgres.admin_url())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def prepare(url: str, smtp_port: int | None) -> Setup:
    """Workspace, journey (wait, then update or send), seed lead: through the CLI and the API."""
    env = _env(url)
    _cli(env, "migrate")
    keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
    server, port = _start(["-m", "app", "serve", "--no-worker"], env, "/readyz")
    try:
        auth = {"Authorization": f"Bearer {keys['secret_key']}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=60) as api:
            if smtp_port is None:
                following: dict[str, Any] = {"id": "tag", "type": "update", "set": {"tags": {"add": [TAG]}}}
            else:
                channel = {"type": "email", "provider": "smtp", "name": "Bench", "settings": {
                    "host": "127.0.0.1", "port": smtp_port, "security": "none", "from_email": "news@bench.example",
                    "from_name": "Bench", "max_per_second": 1000}}  # fmt: skip
                created = await api.post("/v1/channels", json=channel)
                created.raise_for_status()
                policy = {"quiet_hours": None, "frequency_cap": None}
                (await api.patch("/v1/settings/messaging", json=policy)).raise_for_status()
                template = {"name": "Receipt", "channel": "email", "subject": "Hello {{ person.first_name }}",
                            "body_text": "Hello {{ person.first_name }}, your receipt."}  # fmt: skip
                made = await api.post("/v1/templates", json=template)
                made.raise_for_status()
                following = {"id": "mail", "type": "send", "channel": "email", "purpose": "transactional",
                             "template_id": made.json()["id"], "channel_id": created.json()["id"]}  # fmt: skip
            document = {"name": "Bench", "audience": "leads", "trigger": {"type": "manual"},
                        "steps": [{"id": "pause", "type": "wait", "seconds": WAIT_SECONDS}, following]}  # fmt: skip
            journey = await api.post("/v1/journeys", json=document)
            journey.raise_for_status()
            (await api.post(f"/v1/journeys/{journey.json()['id']}/publish")).raise_for_status()
            seed = await api.post("/v1/leads", json={"first_name": "Seed", "email": "seed@bench.example"})
            seed.raise_for_status()
            seed_id = uuid.UUID(seed.json()["id"])
    finally:
        _stop(server)
    conn = await asyncpg.connect(url)
    try:
        row = dict(await conn.fetchrow("SELECT * FROM leads WHERE id = $1", seed_id))
    finally:
        await conn.close()
    return Setup(url, env, row["workspace_id"], uuid.UUID(journey.json()["id"]), row)


async def copy_leads(conn: asyncpg.Connection, setup: Setup, count: int) -> list[uuid.UUID]:
    """N leads, each the seed's row with its own id, name and address."""
    columns = list(setup.seed)
    ids = [new_id() for _ in range(count)]

    def lead(n: int, lead_id: uuid.UUID) -> tuple[Any, ...]:
        values = dict(setup.seed, id=lead_id, external_id=None)
        for column, value in values.items():
            if isinstance(value, str) and column not in ("tags", "custom_fields"):
                values[column] = value.replace("seed", f"person{n}").replace("Seed", f"Person{n}")
        return tuple(values[c] for c in columns)

    await conn.copy_records_to_table("leads", records=[lead(n, i) for n, i in enumerate(ids)], columns=columns)
    await conn.execute("ANALYZE leads")
    return ids


async def copy_enrolments(conn: asyncpg.Connection, setup: Setup, leads: list[uuid.UUID], t0: datetime,
                          spread: float) -> None:  # fmt: skip
    """The enrolments as the engine leaves one that began its wait: current step the wait, visit 1,
    due_at set, version 2 (enrolled, then moved by `_begin_wait`), and the wait's step run."""
    trigger = json.dumps({"type": "manual", "by": ACTOR})
    count = len(leads)
    enrolments, steps = [], []
    for n, lead_id in enumerate(leads):
        due = t0 + timedelta(seconds=spread * n / count)
        began = due - timedelta(seconds=WAIT_SECONDS)
        enrolment_id = new_id()
        enrolments.append((setup.workspace_id, enrolment_id, setup.journey_id, 1, lead_id, None, "active", None,
                           "pause", 1, None, due, None, 0, began, None, trigger, 2, began, began, ACTOR,
                           ACTOR))  # fmt: skip
        steps.append((setup.workspace_id, enrolment_id, "pause", 1, 1, new_id(), setup.journey_id, lead_id, None,
                      "wait", None, began, None))  # fmt: skip
    await conn.copy_records_to_table("enrolments", records=enrolments, columns=[
        "workspace_id", "id", "journey_id", "journey_version", "lead_id", "contact_id", "status", "exit_reason",
        "current_step", "visit", "variant", "due_at", "waiting_event", "failures", "enrolled_at", "ended_at",
        "trigger", "version", "created_at", "updated_at", "created_by", "updated_by"])  # fmt: skip
    await conn.copy_records_to_table("enrolment_steps", records=steps, columns=[
        "workspace_id", "enrolment_id", "step_id", "visit", "number", "id", "journey_id", "lead_id", "contact_id",
        "step_type", "result", "started_at", "finished_at"])  # fmt: skip
    await conn.execute("ANALYZE enrolments")
    await conn.execute("ANALYZE enrolment_steps")


def _worker(env: dict[str, str], log: Path, profile: Path | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "app", "worker"]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "app", "worker"]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"))  # fmt: skip


async def _ready(conn: asyncpg.Connection, count: int, timeout: float = 60) -> None:
    """Each worker LISTENs (its loops are running)."""
    deadline = time.monotonic() + timeout
    query = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND application_name = 'crm-worker-listen'")  # fmt: skip
    while await conn.fetchval(query) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start (see their logs)")
        await asyncio.sleep(0.1)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {"p50": at(0.50), "p99": at(0.99), "max": ordered[-1]}


async def measure(
    setup: Setup, label: str, count: int, workers: int, spread: float, lead_in: float, timeout: float,
    profile: Path | None, handler: Counting | None,
) -> Outcome:  # fmt: skip
    outcome = Outcome(label, workers, count, lead_in)
    conn = await asyncpg.connect(setup.url)
    logs = Path(tempfile.mkdtemp(prefix="crm-bench-journeys-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        leads = await copy_leads(conn, setup, count)
        started = time.time()
        t0 = datetime.now(UTC) + timedelta(seconds=lead_in)
        await copy_enrolments(conn, setup, leads, t0, spread)
        del leads
        written = time.time() - started
        for n in range(workers):
            where = profile / f"{label}-{workers}w-{n}.prof" if profile is not None else None
            processes.append(_worker(setup.env, logs / f"worker-{n}.log", where))
        await _ready(conn, workers)
        await conn.execute("SELECT pg_notify('crm_outbox', 'journeys')")
        margin = t0.timestamp() - time.time()
        print(f"  {label}, {workers} worker(s): {count:,} enrolments written in {written:.1f} s, workers up, "
              f"{margin:.1f} s before the first due_at", flush=True)  # fmt: skip
        if margin < 0.5:
            raise RuntimeError(f"the workers came up {-margin:.1f} s after the first due_at: raise --lead-in")
        if handler is not None:
            handler.reset()
        cpu_before = [cpu_seconds([p.pid]) for p in processes]
        db_before = postgres.cpu_seconds()
        samples: list[tuple[float, int]] = []
        query = "SELECT count(*) FROM enrolments WHERE journey_id = $1 AND status <> 'active'"
        deadline = time.time() + lead_in + spread + timeout
        done = 0
        last_report = time.time()
        while done < count or (handler is not None and handler.count() < count):
            now = time.time()
            if now > deadline:
                outcome.errors.append(f"timed out: {done:,} of {count:,} ended")
                break
            if done < count:
                done = int(await conn.fetchval(query, setup.journey_id))
                samples.append((time.time(), done))
            if now - last_report > 30:
                mail = f", {handler.count():,} emails" if handler is not None else ""
                print(f"    {now - t0.timestamp():6.0f} s after T0: {done:,} ended{mail}", flush=True)
                last_report = now
            for p in processes:
                if p.poll() is not None:
                    raise RuntimeError(f"a worker exited ({p.returncode}); see {logs}")
            await asyncio.sleep(POLL)
        if handler is not None:
            await asyncio.sleep(2.0)  # anything sent twice would arrive now
            outcome.received, outcome.distinct = handler.count(), len(set(handler.ids))
            outcome.mail_total = (handler.last_wall - t0.timestamp()) if handler.count() else math.nan
        outcome.db_cpu = postgres.cpu_seconds() - db_before
        outcome.worker_cpu = [cpu_seconds([p.pid]) - b for p, b in zip(processes, cpu_before, strict=True)]
        outcome.peak_mb = [peak_rss_mb(p.pid) for p in processes]
        rows = await conn.fetch(
            "SELECT e.status, extract(epoch FROM e.ended_at)::float8 AS ended, "
            "extract(epoch FROM s.started_at)::float8 + $2 AS due, "
            "(SELECT count(*) FILTER (WHERE r.finished_at IS NOT NULL) FROM enrolment_steps r "
            " WHERE r.workspace_id = e.workspace_id AND r.enrolment_id = e.id) AS finished "
            "FROM enrolments e JOIN enrolment_steps s ON s.workspace_id = e.workspace_id "
            "AND s.enrolment_id = e.id AND s.step_id = 'pause' AND s.visit = 1 WHERE e.journey_id = $1",
            setup.journey_id, float(WAIT_SECONDS),
        )  # fmt: skip
        for r in rows:
            outcome.statuses[r["status"]] = outcome.statuses.get(r["status"], 0) + 1
        outcome.steps_ok = sum(1 for r in rows if r["finished"] == 2)
        ended = [r for r in rows if r["ended"] is not None]
        outcome.lag = _percentiles([r["ended"] - r["due"] for r in ended])
        if len(ended) == count:
            outcome.total = max(r["ended"] for r in ended) - t0.timestamp()
        dues = sorted(r["due"] for r in rows)
        seen_lags, j = [], 0
        for k, due in enumerate(dues):
            while j < len(samples) and samples[j][1] <= k:
                j += 1
            if j == len(samples):
                break
            seen_lags.append(samples[j][0] - due)
        outcome.seen_lag = _percentiles(seen_lags)
        if samples and samples[-1][1] == count:
            outcome.seen = next(t for t, c in samples if c == count) - t0.timestamp()
        if handler is None:
            outcome.tagged = int(await conn.fetchval("SELECT count(*) FROM leads WHERE tags @> $1::jsonb",
                                                     json.dumps([TAG])))  # fmt: skip
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        await conn.close()
        kept = False
        for log in sorted(logs.glob("*.log")):
            lines = log.read_text(errors="replace").strip().splitlines()
            if lines:  # kept for reading: the worker logged warnings or errors
                outcome.errors.append(f"{log}: {len(lines)} lines on stderr, first: {lines[0][:200]}")
                kept = True
            else:
                log.unlink()
        if not kept:
            logs.rmdir()
    return outcome


@dataclass
class WallCounting(Counting):
    """Counting, with the wall-clock time of the last message (compared with the database's times)."""

    last_wall: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        self.last_wall = time.time()
        return answer

    def reset(self) -> None:
        super().reset()
        self.last_wall = 0.0


async def scenario(
    label: str, count: int, workers: int, args: argparse.Namespace, handler: Counting | None, smtp_port: int | None
) -> Outcome:
    name, url = await _create_database()
    try:
        setup = await prepare(url, smtp_port)
        lead_in = args.lead_in if args.lead_in is not None else 10 + count / 5_000
        return await measure(setup, label, count, workers, args.spread, lead_in, args.timeout, args.profile, handler)
    finally:
        await _drop_database(name)


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def report(outcomes: list[Outcome]) -> None:
    print(f"\n{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} after\n")
    print("| run | workers | enrolments | T0 → all ended s | T0 → all seen s | lag p50 s | lag p99 s | lag max s "
          "| seen lag p50 s | seen lag p99 s | worker peak MB | worker CPU s | DB CPU s | emails / distinct "
          "| T0 → last email s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for o in outcomes:
        mail = f"{o.received:,} / {o.distinct:,}" if o.label == "send" else "-"
        print(f"| {o.label} | {o.workers} | {o.enrolments:,} | {_fmt(o.total)} | {_fmt(o.seen)} "
              f"| {_fmt(o.lag.get('p50', math.nan))} | {_fmt(o.lag.get('p99', math.nan))} "
              f"| {_fmt(o.lag.get('max', math.nan))} | {_fmt(o.seen_lag.get('p50', math.nan))} "
              f"| {_fmt(o.seen_lag.get('p99', math.nan))} | {' + '.join(_fmt(m, 0) for m in o.peak_mb)} "
              f"| {' + '.join(_fmt(c, 0) for c in o.worker_cpu)} | {_fmt(o.db_cpu, 0)} | {mail} "
              f"| {_fmt(o.mail_total)} |")  # fmt: skip
    print()
    for o in outcomes:
        extra = f", leads tagged {o.tagged:,}" if o.label == "update" else ""
        print(f"{o.label}, {o.workers} worker(s): statuses {o.statuses}, both steps finished {o.steps_ok:,}{extra}")
        for error in o.errors:
            print(f"  ! {error}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrolments", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sends", type=int, default=10_000, help="0: no send run")
    parser.add_argument("--send-workers", type=int, nargs="+", default=[1])
    parser.add_argument("--spread", type=float, default=60.0, help="seconds the due_at are spread over")
    parser.add_argument("--lead-in", type=float, default=None,
                        help="seconds from writing the enrolments to the first due_at "
                             "(default 10 + N/5000)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds after the last due_at")
    parser.add_argument("--profile", type=Path, default=None, help="run the workers under cProfile, to this dir")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    try:
        if args.enrolments:
            for workers in args.workers:
                outcomes.append(await scenario("update", args.enrolments, workers, args, None, None))
        if args.sends:
            handler = WallCounting()
            controller = smtp_server(handler)
            try:
                for workers in args.send_workers:
                    outcomes.append(await scenario("send", args.sends, workers, args, handler, controller.port))
            finally:
                controller.stop()
    finally:
        report(outcomes)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
