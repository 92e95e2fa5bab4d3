"""Benchmark marketing email: personalised messages sent with `POST /v1/messages/batch` through the
real server and a real worker process to a local SMTP server (aiosmtpd), from the first request to
the last email received; against a baseline of aiosmtplib sending the very same messages (the bytes
the server received) over one connection, in the same run.

    .venv/bin/python -m benchmarks.messaging [--messages 10000] [--small 1000]

Conditions: PostgreSQL (a throwaway cluster, or BENCH_DATABASE_URL), `python -m app serve
--no-worker` and `python -m app worker` as separate processes, quiet hours and the frequency cap
off, every lead opted in by email, the channel's `max_per_second` raised past the run's rate (its
default, 10 a second, is a provider's politeness, not the service's speed). Each message is
rendered from a template with the lead's first name, links tracked.

It reports, for `--small` and then `--messages` messages (a fresh worker each): messages a second,
the baseline's, their ratio; the worker's peak resident memory (VmHWM); and that every message
arrived exactly once (distinct Message-IDs at the server)."""

from __future__ import annotations

import argparse
import asyncio
import email
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.policy import default
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import httpx
from aiosmtpd.controller import Controller

from benchmarks import postgres
from benchmarks.members import _cli, _port, _start, _stop

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Counting:
    """An SMTP handler that keeps each message's bytes and Message-ID, and when the last came."""

    data: list[bytes] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    last: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message_id = email.message_from_bytes(raw, policy=default)["Message-ID"]
        with self.lock:
            self.data.append(raw)
            self.ids.append(str(message_id))
            self.last = time.perf_counter()
        return "250 2.0.0 Accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.data)

    def reset(self) -> None:
        with self.lock:
            self.data, self.ids, self.last = [], [], 0.0


def smtp_server(handler: Counting) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=_port())
    controller.start()
    return controller


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_for(handler: Counting, count: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while handler.count() < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{handler.count()} of {count} emails arrived")
        await asyncio.sleep(0.05)


async def setup(api: httpx.AsyncClient, smtp_port: int, leads: int) -> tuple[str, list[str]]:
    channel = {"type": "email", "provider": "smtp", "name": "Bench", "settings": {
        "host": "127.0.0.1", "port": smtp_port, "security": "none", "from_email": "news@bench.example",
        "from_name": "Bench", "max_per_second": 1000}}  # fmt: skip
    (await api.post("/v1/channels", json=channel)).raise_for_status()
    (await api.patch("/v1/settings/messaging", json={"quiet_hours": None, "frequency_cap": None})).raise_for_status()
    template = {
        "name": "Offer",
        "channel": "email",
        "subject": "Hello {{ person.first_name }}",
        "body_text": "Hello {{ person.first_name }}, our offer: https://shop.example/offer",
        "body_html": '<p>Hello {{ person.first_name }}</p><p><a href="https://shop.example/offer">Offer</a></p>',
    }
    created = await api.post("/v1/templates", json=template)
    created.raise_for_status()
    ids: list[str] = []
    for start in range(0, leads, 500):
        items = [{"first_name": f"Name{n}", "email": f"person{n}@bench.example", "external_id": f"m-{n}"}
                 for n in range(start, min(leads, start + 500))]  # fmt: skip
        answer = await api.post("/v1/leads/batch", json={"leads": items})
        answer.raise_for_status()
        ids += [str(r["id"]) for r in answer.json()["results"]]
    gate = asyncio.Semaphore(16)

    async def opt_in(lead_id: str) -> None:
        async with gate:
            (await api.put(f"/v1/leads/{lead_id}/consents/email", json={"status": "opted_in", "source": "api"}))\
                .raise_for_status()  # fmt: skip

    await asyncio.gather(*(opt_in(i) for i in ids))
    return str(created.json()["id"]), ids


async def drain(api: httpx.AsyncClient, url: str, env: dict[str, str]) -> None:
    """Let a worker dispatch what setting up wrote (lead and consent events, the duplicate search of
    new leads), so the measured runs' workers only send messages."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"], cwd=ROOT, env={**os.environ, **env, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        while True:
            backlog = (await api.get("/readyz")).json().get("outbox_backlog", 0)
            queued = await conn.fetchval("SELECT count(*) FROM dedupe_queue")
            if not backlog and not queued:
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
        worker.terminate()
        worker.wait(timeout=60)


async def run(
    api: httpx.AsyncClient, url: str, env: dict[str, str], template_id: str, leads: list[str], handler: Counting
) -> dict[str, Any]:
    handler.reset()
    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"], cwd=ROOT, env={**os.environ, **env, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.sleep(1.0)  # the worker is up and idle
        start = time.perf_counter()
        for chunk in range(0, len(leads), 1000):
            items = [{"lead_id": lead, "channel": "email", "template_id": template_id, "purpose": "marketing"}
                     for lead in leads[chunk:chunk + 1000]]  # fmt: skip
            answer = await api.post("/v1/messages/batch", json={"messages": items}, timeout=300)
            answer.raise_for_status()
            assert all(r["status"] == "queued" for r in answer.json()["results"]), answer.text[:300]
        await wait_for(handler, len(leads), timeout=1800)
        elapsed = handler.last - start
        await asyncio.sleep(1.0)  # anything sent twice would arrive now
        memory = peak_rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    baseline = await baseline_rate(handler.data)
    return {
        "messages": len(leads), "rate": len(leads) / elapsed, "baseline": baseline, "worker_peak_mb": memory,
        "received": handler.count(), "distinct": len(set(handler.ids)),
    }  # fmt: skip


async def baseline_rate(messages: list[bytes]) -> float:
    """aiosmtplib sending the same messages, as received, over one connection to a fresh server."""
    handler = Counting()
    controller = smtp_server(handler)
    try:
        start = time.perf_counter()
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=controller.port, start_tls=False) as client:
            for n, raw in enumerate(messages):
                await client.sendmail("news@bench.example", [f"person{n}@bench.example"], raw)
        await wait_for(handler, len(messages), timeout=600)
        return len(messages) / (handler.last - start)
    finally:
        controller.stop()


@dataclass
class MailBench:
    api: httpx.AsyncClient  # the API server's, with the workspace's secret key
    url: str  # the scratch database
    env: dict[str, str]  # what the server runs with (workers get the same)
    secret_key: str
    handler: Counting
    smtp_port: int


@asynccontextmanager
async def mail_bench() -> AsyncIterator[MailBench]:
    """A scratch database on the benchmark's PostgreSQL, migrated and given a workspace by the real
    CLI; `python -m app serve --no-worker`; a client with the workspace's secret key; a local SMTP
    server. All of it stopped, and the database dropped, at the end."""
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres.admin_url())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = postgres.database_url(name)
    env = {
        "DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false", "OUTBOUND_ALLOW_LOOPBACK": "true",
        "PUBLIC_BASE_URL": "https://crm.bench.example", "SECRETS_KEY": os.environ.get("SECRETS_KEY", ""),
    }  # fmt: skip
    if not env["SECRETS_KEY"]:
        from cryptography.fernet import Fernet

        env["SECRETS_KEY"] = Fernet.generate_key().decode()
    server = None
    try:
        _cli(env, "migrate")
        keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
        server, port = _start(["-m", "app", "serve", "--no-worker"], env, "/readyz")
        auth = {"Authorization": f"Bearer {keys['secret_key']}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=120) as api:
            handler = Counting()
            controller = smtp_server(handler)
            try:
                yield MailBench(api, url, env, keys["secret_key"], handler, controller.port)
            finally:
                controller.stop()
    finally:
        if server is not None:
            _stop(server)
        admin = await asyncpg.connect(postgres.admin_url())
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    args = parser.parse_args()
    async with mail_bench() as bench:
        template_id, leads = await setup(bench.api, bench.smtp_port, args.messages)
        await drain(bench.api, bench.url, bench.env)
        results = [await run(bench.api, bench.url, bench.env, template_id, leads[: args.small], bench.handler),
                   await run(bench.api, bench.url, bench.env, template_id, leads, bench.handler)]  # fmt: skip
    print(f"\n{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} after\n")
    print("| messages | API + worker msg/s | aiosmtplib, one connection, msg/s | ratio | worker peak MB "
          "| received | distinct |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['messages']:,} | {r['rate']:,.0f} | {r['baseline']:,.0f} | {r['rate'] / r['baseline']:.2f} "
              f"| {r['worker_peak_mb']:.0f} | {r['received']:,} | {r['distinct']:,} |")  # fmt: skip
    growth = results[1]["worker_peak_mb"] - results[0]["worker_peak_mb"]
    print(f"\nworker peak memory, {args.messages:,} against {args.small:,} messages: {growth:+.0f} MB")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
