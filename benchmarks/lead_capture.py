"""Benchmark website lead capture: JSON form submissions to the real server as shipped
(`python -m app serve` on PostgreSQL, its worker child included, RATE_LIMIT_ENABLED=false) against
a bare FastAPI + raw asyncpg endpoint taking the same payload, measured in the same run.

    .venv/bin/python -m benchmarks.lead_capture [--seconds 10] [--runs 3] [--connections 32]
        [--existing 100000] [--baseline-pools 20]

Fairness: rounds alternate (API, baseline, API, baseline …) and only one server runs at a time:
each round starts its server, and the previous one (the API with its worker child) has exited and
PostgreSQL has run a CHECKPOINT before it starts, so neither inherits the other's background work
or dirty pages. The baseline's asyncpg pool is as large as the API's (DATABASE_POOL_SIZE) unless
`--baseline-pools` names sizes to measure (the best one is the reference). With `--existing N`
the workspace first holds N contacts and N open leads (so every submission's identity lookup
searches real indexes) and the baseline's table the same 2N rows.

Every 2xx submission must be stored exactly once (checked in the database afterwards); 429s and
5xx are reported, never counted as throughput."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx

from app.config import Settings
from benchmarks import postgres
from benchmarks.baseline_app import TABLE_DDL
from benchmarks.loadgen import Result, build_request, run
from benchmarks.members import _admin, _cli, _start, _stop


def payload(n: int, tag: str) -> bytes:
    return json.dumps(
        {
            "first_name": f"First{n}",
            "last_name": f"Last{n}",
            "email": f"lead{n}-{tag}@bench.io",
            "phone": f"+98912{n % 10_000_000:07d}",
            "company": f"Company {n}",
        }
    ).encode()


async def seed(url: str, workspace_id: uuid.UUID, count: int) -> None:
    """`count` contacts and `count` open leads as the service leaves them (COPY; keys computed as
    the service does; distinct emails and phones, none equal to a submission's), the leads' first
    response done (a pending SLA due now would have the worker breach them all mid-run); and the
    baseline's table the same 2 x `count` people, so both servers write into tables of one size."""
    from app.domain.leads.dedupe import company_key, name_key
    from app.domain.leads.search import search_text
    from app.ids import new_id

    now = datetime.now(UTC)
    leads, contacts, people = [], [], []
    for n in range(count):
        first, last, company = f"Seed{n}", f"Person{n}", f"Seed Company {n}"
        email, phone = f"seed{n}@existing.io", f"+98935{n:07d}"
        text = search_text(f"{first} {last}", email, company, phone)
        keys = (text, name_key(first, last), company_key(company))
        identity = (workspace_id, new_id(), first, last, email, email, phone, phone, True, company)
        leads.append((*identity, "web_form", "online", "[]", "new", "{}", *keys, "met", None, now, now, "seed", "seed"))
        c_email, c_phone = f"contact{n}@existing.io", f"+98936{n:07d}"
        contacts.append((workspace_id, new_id(), f"Known{n}", f"Customer{n}", c_email, c_email, c_phone, c_phone, True,
                         "[]", "[]", now, now, "seed", "seed"))  # fmt: skip
        people += [(new_id(), workspace_id, f"{first} {last}", email, now),
                   (new_id(), workspace_id, f"Known{n} Customer{n}", c_email, now)]  # fmt: skip
    lead_columns = [
        "workspace_id", "id", "first_name", "last_name", "email", "email_key", "phone", "phone_e164", "phone_valid",
        "company", "source", "channel", "tags", "status", "custom_fields", "search_text", "name_key", "company_key",
        "sla_status", "first_response_due_at", "created_at", "updated_at", "created_by", "updated_by",
    ]  # fmt: skip
    contact_columns = [
        "workspace_id", "id", "first_name", "last_name", "email", "email_key", "phone", "phone_e164", "phone_valid",
        "tags", "interests", "created_at", "updated_at", "created_by", "updated_by",
    ]  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table("leads", records=leads, columns=lead_columns)
        await conn.copy_records_to_table("contacts", records=contacts, columns=contact_columns)
        await conn.copy_records_to_table(
            "baseline_members", records=people, columns=["id", "workspace_id", "name", "email", "created_at"]
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _worker_connected(url: str, database: str) -> None:
    """Wait until serve's worker child has connected: it starts after serve answers /readyz, and
    its start-up (imports, first queries) must not fall into the measured window."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'crm-worker'", database
            )
            if found:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the worker did not connect within 60 s")
    finally:
        await conn.close()


async def _checkpoint(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--warmup", type=float, default=3, help="seconds of load before each measured window (servers start fresh)"
    )
    parser.add_argument(
        "--existing", type=int, default=0, help="contacts and open leads already in the workspace (N of each)"
    )
    parser.add_argument(
        "--baseline-pools", type=int, nargs="+", help="baseline pool sizes to measure (default: the API's)"
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="diagnosis only: serve without the worker (not as shipped)"
    )
    args = parser.parse_args()
    api_pool = Settings().database_pool_size
    pools = args.baseline_pools or [api_pool]
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = postgres.database_url(name)
    live: list[subprocess.Popen[bytes]] = []
    try:
        env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
        _cli(env, "migrate")
        keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
        conn = await asyncpg.connect(url)
        await conn.execute(TABLE_DDL)
        await conn.close()
        if args.existing:
            started = time.perf_counter()
            await seed(url, uuid.UUID(keys["workspace_id"]), args.existing)
            print(f"seeded {args.existing:,} contacts, {args.existing:,} leads and {2 * args.existing:,} baseline "
                  f"rows in {time.perf_counter() - started:.0f} s")  # fmt: skip
        tag = uuid.uuid4().hex[:6]
        counter = itertools.count()
        form_id: str | None = None
        api_headers = {
            "Authorization": f"Bearer {keys['publishable_key']}",
            "Content-Type": "application/json",
            "Origin": "https://www.shop.example",
        }

        def api_request(_: int) -> bytes:
            return build_request("POST", f"/v1/forms/{form_id}/submissions", api_headers, payload(next(counter), tag))

        def base_request(_: int) -> bytes:
            return build_request(
                "POST", "/submissions", {"Content-Type": "application/json"}, payload(next(counter), tag)
            )

        async def api_round() -> Result:
            nonlocal form_id
            await _checkpoint(url)
            api, port = _start(["-m", "app", "serve", *(["--no-worker"] if args.no_worker else [])], env, "/readyz")
            live.append(api)
            try:
                if not args.no_worker:
                    await _worker_connected(url, name)
                if form_id is None:
                    form_id = httpx.post(
                        f"http://127.0.0.1:{port}/v1/forms",
                        json={"name": "Bench"},
                        headers={"Authorization": f"Bearer {keys['secret_key']}"},
                    ).json()["id"]
                return await run(port, api_request, connections=args.connections, seconds=args.seconds,
                                 warmup=args.warmup, server_pid=api.pid)  # fmt: skip
            finally:
                _stop(api)
                live.remove(api)

        async def baseline_round(size: int) -> Result:
            await _checkpoint(url)
            base, port = _start(
                ["-m", "uvicorn", "benchmarks.baseline_app:app", "--log-level", "warning"],
                {"BASELINE_DSN": url, "BASELINE_POOL_SIZE": str(size)},
                "/openapi.json",
            )
            live.append(base)
            try:
                return await run(port, base_request, connections=args.connections, seconds=args.seconds,
                                 warmup=args.warmup, server_pid=base.pid)  # fmt: skip
            finally:
                _stop(base)
                live.remove(base)

        load_before = os.getloadavg()
        api_runs: list[Result] = []
        base_runs: dict[int, list[Result]] = {size: [] for size in pools}
        for _ in range(args.runs):
            api_runs.append(await api_round())
            for size in pools:
                base_runs[size].append(await baseline_round(size))
        load_after = os.getloadavg()
        conn = await asyncpg.connect(url)
        leads = await conn.fetchval("SELECT count(*) FROM leads WHERE created_by <> 'seed'")
        distinct = await conn.fetchval("SELECT count(DISTINCT email_key) FROM leads WHERE created_by <> 'seed'")
        submissions = await conn.fetchval("SELECT count(*) FROM form_submissions")
        await conn.close()
        accepted = sum(r.statuses.get(201, 0) for r in api_runs)

        def median(runs: list[Result], value: str) -> float:
            return statistics.median(getattr(r, value) if value != "p99" else r.percentile(99) for r in runs)

        best = max(pools, key=lambda size: median(base_runs[size], "rps"))
        base_rps, base_p99 = median(base_runs[best], "rps"), median(base_runs[best], "p99")
        print(
            f"\n{args.runs} interleaved rounds x {args.seconds:g} s after {args.warmup:g} s of warm-up (API, then the "
            f"baseline; each server started fresh), {args.connections} "
            f"connections, medians; existing contacts and leads: {args.existing:,}; API pool {api_pool} "
            f"(+ its worker's), baseline pool(s) {', '.join(map(str, pools))}; {os.cpu_count()} CPUs, load average "
            f"{load_before[0]:.1f} before, {load_after[0]:.1f} after\n"
        )
        print(
            "| scenario | req/s | vs baseline | p50 ms | p99 ms | p99 vs baseline | non-2xx "
            "| server CPU ms/req | of which worker | PostgreSQL CPU ms/req |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        rows = [(f"baseline: FastAPI + raw asyncpg INSERT, pool {size}", base_runs[size]) for size in pools]
        rows.append(("API POST /v1/forms/{id}/submissions (JSON)", api_runs))
        for label, runs in rows:
            rps, p99 = median(runs, "rps"), median(runs, "p99")
            p50, errors = statistics.median(r.percentile(50) for r in runs), sum(r.errors for r in runs)
            print(
                f"| {label} | {rps:,.0f} | {rps / base_rps:.2f} | {p50:.1f} "
                f"| {p99:.1f} | {p99 / base_p99:.2f} | {errors} | {median(runs, 'server_cpu_ms'):.2f} "
                f"| {median(runs, 'children_cpu_ms'):.2f} | {median(runs, 'database_cpu_ms'):.2f} |"
            )
        pairs = [a.rps / b.rps for a, b in zip(api_runs, base_runs[best], strict=True)]
        print(
            "\nper round (API req/s / baseline req/s, pool "
            f"{best}; in brackets the API's worker CPU ms/req): " + ", ".join(
                f"{a.rps:,.0f} ({a.children_cpu_ms:.2f}) / {b.rps:,.0f} = {a.rps / b.rps:.2f}"
                                      for a, b in zip(api_runs, base_runs[best], strict=True))
            + f"; median of the round ratios {statistics.median(pairs):.2f}"
        )  # fmt: skip
        print(
            f"Exactly once: {accepted} submissions answered 201 in the measured windows; the database holds "
            f"{submissions} submissions and {leads} leads ({distinct} distinct emails) including warm-up ones."
        )
        assert leads == distinct == submissions, "a submission was stored twice or lost"
    finally:
        for process in live:
            _stop(process)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
