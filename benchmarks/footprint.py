"""What one form submission and one synced order write to PostgreSQL: WAL bytes, rows and bytes
per table, as the real server writes them (`python -m app serve` with its worker child, every
event dispatched and every audit entry chained before the phase is measured as done).

    .venv/bin/python -m benchmarks.footprint [--submissions 2000] [--orders 2000] [--batch 100]

On its own throwaway PostgreSQL cluster (benchmarks/postgres.py), so the WAL is the server's
alone. Each phase: CHECKPOINT, read `pg_current_wal_lsn()`, table sizes (`pg_total_relation_size`:
heap, indexes and TOAST) and row counts; write; wait until `event_queue` and `audit_queue` are
empty and the worker is idle; read again. Sizes move by pages (8 kB), so take the per-row figure
from phases of a few thousand rows. This is the input of docs/scaling.md's "what grows with what"."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import asyncpg
import httpx

from benchmarks import postgres
from benchmarks.members import _admin, _cli, _start, _stop
from benchmarks.order_sync import make_orders

SIZES = """
SELECT c.relname, pg_total_relation_size(c.oid) AS bytes, c.reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
"""


async def snapshot(conn: asyncpg.Connection) -> tuple[int, dict[str, int], dict[str, int]]:
    await conn.execute("CHECKPOINT")
    lsn = int(await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"))
    sizes = {r["relname"]: int(r["bytes"]) for r in await conn.fetch(SIZES)}
    counts = {}
    for table in sizes:
        counts[table] = int(await conn.fetchval(f'SELECT count(*) FROM "{table}"'))
    return lsn, sizes, counts


async def settled(conn: asyncpg.Connection, timeout: float = 120.0) -> None:
    """Until the worker has dispatched every event and chained every audit entry (and a second more)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = await conn.fetchval("SELECT (SELECT count(*) FROM event_queue) + (SELECT count(*) FROM audit_queue)")
        if not waiting:
            await asyncio.sleep(2.0)
            return
        await asyncio.sleep(0.2)
    raise SystemExit("the worker did not settle")


def report(label: str, units: int, before: tuple[int, dict[str, int], dict[str, int]],
           after: tuple[int, dict[str, int], dict[str, int]]) -> None:  # fmt: skip
    wal = after[0] - before[0]
    print(f"\n### {label}: {units:,}\n")
    print(f"WAL: {wal / units:,.0f} bytes each (checkpoint before and after; full-page images included)\n")
    print("| table | rows each | bytes each (heap + indexes + TOAST) |")
    print("|---|---:|---:|")
    total = 0
    rows = []
    for table in after[1]:
        grown = after[1][table] - before[1].get(table, 0)
        added = after[2][table] - before[2].get(table, 0)
        if grown or added:
            rows.append((grown, table, added))
            total += grown
    for grown, table, added in sorted(rows, reverse=True):
        print(f"| {table} | {added / units:.2f} | {grown / units:,.0f} |")
    print(f"| **all** | | **{total / units:,.0f}** |")


async def main(args: argparse.Namespace) -> None:
    name = f"crm_bench_footprint_{uuid.uuid4().hex[:6]}"
    url = postgres.database_url(name)
    await _admin(f'CREATE DATABASE "{name}"')
    env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
    _cli(env, "migrate")
    keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
    api, port = _start(["-m", "app", "serve"], env, "/readyz")
    conn = await asyncpg.connect(url)
    headers = {"Authorization": f"Bearer {keys['secret_key']}"}
    public = {"Authorization": f"Bearer {keys['publishable_key']}"}  # forms are posted with it, as a web page does
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
            form = (await client.post("/v1/forms", json={"name": "Footprint"})).json()
            await settled(conn)

            async def submit(n: int) -> None:
                body = {"first_name": f"First{n}", "last_name": f"Last{n}", "email": f"lead{n}@footprint.example",
                        "phone": f"+98912{n:07d}", "company": f"Company {n}"}  # fmt: skip
                response = await client.post(f"/v1/forms/{form['id']}/submissions", json=body, headers=public)
                assert response.status_code in (200, 201, 202), response.text

            before = await snapshot(conn)
            for start in range(0, args.submissions, 16):
                await asyncio.gather(*(submit(n) for n in range(start, min(start + 16, args.submissions))))
            await settled(conn)
            report("Form submissions (each a new person)", args.submissions, before, await snapshot(conn))

            orders = make_orders(args.orders, max(args.orders // 4, 1))
            before = await snapshot(conn)
            for start in range(0, len(orders), args.batch):
                response = await client.post("/v1/orders/batch", json={"orders": orders[start : start + args.batch]})
                assert response.status_code in (200, 201, 207), response.text
            await settled(conn)
            lines = sum(len(o["line_items"]) for o in orders)  # type: ignore[arg-type]
            report(f"Orders synced in batches of {args.batch} ({lines / len(orders):.1f} lines each, "
                   f"4 orders per customer)", len(orders), before, await snapshot(conn))  # fmt: skip
    finally:
        await conn.close()
        _stop(api)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    with postgres.server():
        asyncio.run(main(parser.parse_args()))
