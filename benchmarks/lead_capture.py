"""Benchmark website lead capture: JSON form submissions to the real server as shipped
(`python -m app serve` on PostgreSQL, in-process worker included, RATE_LIMIT_ENABLED=false) against
a bare FastAPI + raw asyncpg endpoint taking the same payload, measured in the same run.

    .venv/bin/python -m benchmarks.lead_capture [--seconds 15] [--runs 3] [--connections 32]

Every 2xx submission must be stored exactly once (checked in the database afterwards); 429s and
5xx are reported, never counted as throughput."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import uuid

import asyncpg
import httpx

from benchmarks import postgres
from benchmarks.loadgen import build_request, run
from benchmarks.members import _admin, _cli, _start


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
    """`count` open leads as capture leaves them (COPY; keys computed as the service does), their
    first response done (a pending SLA due now would have the worker breach them all mid-run)."""
    from datetime import UTC, datetime

    from app.domain.leads.dedupe import company_key, name_key
    from app.domain.leads.search import search_text
    from app.ids import new_id

    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        first, last, company = f"Seed{n}", f"Person{n}", f"Seed Company {n}"
        email, phone = f"seed{n}@existing.io", f"+98935{n:07d}"
        text = search_text(f"{first} {last}", email, company, phone)
        keys = (text, name_key(first, last), company_key(company))
        identity = (workspace_id, new_id(), first, last, email, email, phone, phone, True, company)
        rows.append((*identity, "web_form", "online", "[]", "new", "{}", *keys, "met", None, now, now, "seed", "seed"))
    columns = [
        "workspace_id", "id", "first_name", "last_name", "email", "email_key", "phone", "phone_e164", "phone_valid",
        "company", "source", "channel", "tags", "status", "custom_fields", "search_text", "name_key", "company_key",
        "sla_status", "first_response_due_at", "created_at", "updated_at", "created_by", "updated_by",
    ]  # fmt: skip
    conn = await asyncpg.connect(url)
    await conn.copy_records_to_table("leads", records=rows, columns=columns)
    await conn.execute("ANALYZE")
    await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--existing", type=int, default=0, help="leads already in the workspace (distinct emails, phones, names)"
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="diagnosis only: serve without the in-process worker (not as shipped)"
    )
    args = parser.parse_args()
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = postgres.database_url(name)
    processes = []
    try:
        env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
        _cli(env, "migrate")
        keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
        if args.existing:
            await seed(url, uuid.UUID(keys["workspace_id"]), args.existing)
        base, base_port = _start(
            ["-m", "uvicorn", "benchmarks.baseline_app:app", "--log-level", "warning"],
            {"BASELINE_DSN": url},
            "/openapi.json",
        )
        processes.append(base)
        api, api_port = _start(["-m", "app", "serve", *(["--no-worker"] if args.no_worker else [])], env, "/readyz")
        processes.append(api)
        form = httpx.post(
            f"http://127.0.0.1:{api_port}/v1/forms",
            json={"name": "Bench"},
            headers={"Authorization": f"Bearer {keys['secret_key']}"},
        ).json()
        tag = uuid.uuid4().hex[:6]
        counter = itertools.count()
        submit_path = f"/v1/forms/{form['id']}/submissions"
        api_headers = {
            "Authorization": f"Bearer {keys['publishable_key']}",
            "Content-Type": "application/json",
            "Origin": "https://www.shop.example",
        }

        def api_request(_: int) -> bytes:
            return build_request("POST", submit_path, api_headers, payload(next(counter), tag))

        def base_request(_: int) -> bytes:
            return build_request(
                "POST", "/submissions", {"Content-Type": "application/json"}, payload(next(counter), tag)
            )

        results: dict[str, list] = {"baseline": [], "api": []}
        for _ in range(args.runs):
            results["baseline"].append(
                await run(
                    base_port, base_request, connections=args.connections, seconds=args.seconds, server_pid=base.pid
                )
            )
            results["api"].append(
                await run(api_port, api_request, connections=args.connections, seconds=args.seconds, server_pid=api.pid)
            )
        await asyncio.sleep(2)
        conn = await asyncpg.connect(url)
        leads = await conn.fetchval("SELECT count(*) FROM leads WHERE created_by <> 'seed'")
        distinct = await conn.fetchval("SELECT count(DISTINCT email_key) FROM leads WHERE created_by <> 'seed'")
        submissions = await conn.fetchval("SELECT count(*) FROM form_submissions")
        await conn.close()
        accepted = sum(r.statuses.get(201, 0) for r in results["api"])
        # the load generator counts only requests started after warm-up; stored rows include warm-up ones
        print(f"\n{args.runs} runs x {args.seconds:g} s, {args.connections} connections, medians\n")
        print(
            "| scenario | req/s | vs baseline | p50 ms | p99 ms | p99 vs baseline | non-2xx "
            "| server CPU ms/req | of which worker | PostgreSQL CPU ms/req |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        base_rps = statistics.median(r.rps for r in results["baseline"])
        base_p99 = statistics.median(r.percentile(99) for r in results["baseline"])
        for label, runs in (
            ("baseline: FastAPI + raw asyncpg INSERT", results["baseline"]),
            ("API POST /v1/forms/{id}/submissions (JSON)", results["api"]),
        ):
            rps = statistics.median(r.rps for r in runs)
            p50 = statistics.median(r.percentile(50) for r in runs)
            p99 = statistics.median(r.percentile(99) for r in runs)
            bad = sum(v for r in runs for k, v in r.statuses.items() if k >= 300)
            server_cpu = statistics.median(r.server_cpu_ms for r in runs)
            database_cpu = statistics.median(r.database_cpu_ms for r in runs)
            worker_cpu = statistics.median(r.children_cpu_ms for r in runs)
            print(
                f"| {label} | {rps:,.0f} | {rps / base_rps:.2f} | {p50:.1f} | {p99:.1f} | "
                f"{p99 / base_p99:.2f} | {bad} | {server_cpu:.2f} | {worker_cpu:.2f} | {database_cpu:.2f} |"
            )
        print(
            f"\nExactly once: {accepted} submissions answered 201 in the measured windows; the database holds "
            f"{submissions} submissions and {leads} leads ({distinct} distinct emails) including warm-up ones."
        )
        assert leads == distinct == submissions, "a submission was stored twice or lost"
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
