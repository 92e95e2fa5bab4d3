"""Benchmark CSV import memory and speed: leads files of 2,000 and 20,000 rows uploaded to the real
server as shipped (`python -m app serve` on PostgreSQL, worker included) and applied by its job; a
fresh server per size, so each size's peak memory is its own. Memory must stay flat with the file's
size (the upload is streamed into the database in pieces and applied batch by batch). In the same
run a baseline inserts the same rows into `leads` with raw asyncpg `executemany`.

    .venv/bin/python -m benchmarks.csv_import [--sizes 2000 20000]

Checks afterwards: every row imported once (rows_created = rows), nothing failed."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx

from benchmarks import postgres
from benchmarks.loadgen import cpu_seconds, process_tree
from benchmarks.members import _admin, _cli, _start

HEADER = ["First name", "Last name", "E-mail", "Mobile", "Company", "Job title", "Tags", "City"]
MAPPING = {"first_name": "First name", "last_name": "Last name", "email": "E-mail", "phone": "Mobile",
           "company": "Company", "job_title": "Job title", "tags": "Tags", "city": "City"}  # fmt: skip


def rows(count: int) -> list[list[str]]:
    return [
        [f"نام{n}", f"Family{n}", f"person{n}@import.example", f"+98912{n:07d}", f"Company {n % 997}",
         ("Head of Sales", "Engineer", "CEO")[n % 3], "fair;2026", ("تهران", "Shiraz", "Tabriz")[n % 3]]
        for n in range(count)
    ]  # fmt: skip


def csv_text(data: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([HEADER, *data])
    return ("\ufeff" + buffer.getvalue()).encode()


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident memory so far."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


async def baseline(url: str, workspace_id: uuid.UUID, data: list[list[str]]) -> float:
    """The same rows parsed and inserted into `leads` with executemany, 500 a transaction."""
    from app.ids import new_id

    conn = await asyncpg.connect(url)
    sql = (
        "INSERT INTO leads (workspace_id, id, first_name, last_name, email, email_key, phone, company, job_title, "
        "city, tags, source, channel, status, custom_fields, created_at, updated_at, created_by, updated_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'import', 'offline', 'new', '{}', $12, $12, 'b', 'b')"
    )
    started = time.perf_counter()
    for start in range(0, len(data), 500):
        now = datetime.now(UTC)
        batch = [(workspace_id, new_id(), r[0], r[1], r[2], r[2].casefold(), r[3], r[4], r[5], r[7],
                  json.dumps(r[6].split(";")), now) for r in data[start : start + 500]]  # fmt: skip
        async with conn.transaction():
            await conn.executemany(sql, batch)
    elapsed = time.perf_counter() - started
    await conn.close()
    return elapsed


async def run_size(size: int) -> dict[str, float]:
    data = rows(size)
    body = csv_text(data)
    names = [f"crm_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    urls = [postgres.database_url(name) for name in names]
    api = None
    try:
        keys = []
        for name, url in zip(names, urls, strict=True):
            await _admin(f'CREATE DATABASE "{name}"')
            env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
            _cli(env, "migrate")
            keys.append(json.loads(_cli(env, "create-workspace", "Bench", "--json")))
        base_seconds = await baseline(urls[1], uuid.UUID(keys[1]["workspace_id"]), data)
        env = {"DATABASE_URL": urls[0], "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
        api, port = _start(["-m", "app", "serve"], env, "/readyz")
        await asyncio.sleep(1)
        tree = process_tree(api.pid)
        idle_rss = [peak_rss_mb(pid) for pid in tree[:2]]
        cpu_before = (cpu_seconds(tree[:1]), cpu_seconds(tree[1:]))

        async def pieces() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        headers = {"Authorization": f"Bearer {keys[0]['secret_key']}", "Content-Type": "text/csv"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            started = time.perf_counter()
            response = await client.post(
                "/v1/imports", params={"entity": "leads", "mapping": json.dumps(MAPPING)}, content=pieces(),
                headers=headers,
            )  # fmt: skip
            assert response.status_code == 202, response.text
            uploaded = time.perf_counter() - started
            location = response.headers["location"]
            while True:
                state = (await client.get(location, headers=headers)).json()
                if state["status"] in ("completed", "failed"):
                    break
                await asyncio.sleep(0.2)
            total = time.perf_counter() - started
        tree = process_tree(api.pid)
        cpu_after = (cpu_seconds(tree[:1]), cpu_seconds(tree[1:]))
        assert state["status"] == "completed", state
        assert state["rows_created"] == size and state["rows_failed"] == 0, state
        conn = await asyncpg.connect(urls[0])
        stored = await conn.fetchval("SELECT count(*) FROM leads WHERE import_id IS NOT NULL")
        chunks_left = await conn.fetchval("SELECT count(*) FROM import_chunks")
        await conn.close()
        assert stored == size and chunks_left == 0, (stored, chunks_left)
        return {
            "rows": size, "mb": len(body) / 1e6, "upload_s": uploaded, "total_s": total, "rows_s": size / total,
            "base_s": base_seconds, "api_rss": peak_rss_mb(tree[0]), "worker_rss": peak_rss_mb(tree[1]),
            "api_idle": idle_rss[0], "worker_idle": idle_rss[1] if len(idle_rss) > 1 else 0.0,
            "api_cpu": cpu_after[0] - cpu_before[0], "worker_cpu": cpu_after[1] - cpu_before[1],
        }  # fmt: skip
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        for name in names:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    args = parser.parse_args()
    results = [await run_size(size) for size in args.sizes]
    print("\n| rows | file MB | upload s | upload + apply s | rows/s | vs baseline | API peak RSS MB (idle) "
          "| worker peak RSS MB (idle) | API / worker CPU s |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ratio = (r["rows"] / r["total_s"]) / (r["rows"] / r["base_s"])
        print(f"| {r['rows']:,} | {r['mb']:.1f} | {r['upload_s']:.2f} | {r['total_s']:.1f} | {r['rows_s']:,.0f} | "
              f"{ratio:.2f} | {r['api_rss']:.0f} ({r['api_idle']:.0f}) | {r['worker_rss']:.0f} ({r['worker_idle']:.0f})"
              f" | {r['api_cpu']:.1f} / {r['worker_cpu']:.1f} |")  # fmt: skip
    print("\nbaseline (raw asyncpg executemany into leads, 500 a transaction): "
          + ", ".join(f"{r['rows']:,} rows in {r['base_s']:.2f} s" for r in results))  # fmt: skip


if __name__ == "__main__":
    with postgres.server():
        asyncio.run(main())
