"""Benchmark order sync: 100,000 orders (about 3 line items each, 20,000 customers) through
`POST /v1/orders/batch` on the real server as shipped (`python -m app serve` on PostgreSQL, worker
included, RATE_LIMIT_ENABLED=false), then the same set resent; in the same run a baseline inserts
the same orders and lines with raw asyncpg `executemany` into a database with the same schema,
once before the API's passes and once after them (tables emptied); the ratios are against the mean
of the two, since this machine's speed drifts within minutes.

    .venv/bin/python -m benchmarks.order_sync [--orders 100000] [--batch 1000] [--concurrency 4]

Checks afterwards: every order stored once with its lines, the resend changed nothing (no row
version moved, no event written)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx

from benchmarks import postgres
from benchmarks.loadgen import cpu_seconds, process_tree
from benchmarks.members import _admin, _cli, _start, _stop

CATEGORIES = ["kitchen", "garden", "books", "toys", "food", "tea", "coffee", "bags", "shoes", "lamps"]


def make_orders(count: int, customers: int, seed: int = 7) -> list[dict[str, object]]:
    """Deterministic orders as a shop plugin would send them."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    orders = []
    for n in range(count):
        c = rng.randrange(customers)
        placed = start + timedelta(minutes=n * 7 + rng.randrange(7))
        lines = []
        total = Decimal(0)
        for _ in range(rng.choice((2, 3, 3, 4))):
            sku = rng.randrange(500)
            quantity = rng.randrange(1, 4)
            price = Decimal(rng.randrange(199, 9999)) / 100
            total += price * quantity
            lines.append({"sku": f"SKU-{sku}", "name": f"Product {sku}", "category": CATEGORIES[sku % 10],
                          "quantity": quantity, "unit_price": f"{price:.2f}"})  # fmt: skip
        orders.append({
            "source": "shopify", "external_id": f"#{100000 + n}", "status": rng.choice(("paid", "paid", "fulfilled")),
            "currency": "USD", "subtotal": f"{total:.2f}", "total": f"{total:.2f}",
            "placed_at": placed.isoformat(), "source_updated_at": placed.isoformat(),
            "customer": {"external_id": f"cust-{c}", "email": f"customer{c}@shop.example", "first_name": f"C{c}"},
            "line_items": lines,
        })  # fmt: skip
    return orders


async def post_all(port: int, key: str, bodies: list[bytes], concurrency: int) -> tuple[float, dict[str, int]]:
    statuses: dict[str, int] = {}
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                response = await client.post("/v1/orders/batch", content=body, headers=headers)
                assert response.status_code == 200, response.text[:500]
                for r in response.json()["results"]:
                    statuses[r["status"]] = statuses.get(r["status"], 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, statuses


def _minor(value: str) -> int:
    return int(Decimal(value) * 100)


async def baseline(url: str, workspace_id: uuid.UUID, bodies: list[bytes], concurrency: int) -> float:
    """The same orders and lines, parsed from the same JSON and inserted with executemany, one
    transaction per batch: the floor for any sync endpoint on this stack."""
    from app.ids import new_id

    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    queue = list(reversed(bodies))
    order_sql = (
        "INSERT INTO orders (workspace_id, id, source, external_id, customer, status, currency, subtotal_minor, "
        "total_minor, reporting_currency, reporting_total_minor, conversion, placed_at, placed_on, "
        "source_updated_at, line_items, content_hash, created_at, updated_at, created_by, updated_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'same', $12, $13, $14, $15, '', $16, $16, 'b', 'b')"
    )
    line_sql = (
        "INSERT INTO order_lines (workspace_id, order_id, position, sku, name, category, quantity, "
        "unit_price_minor, total_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )

    async def worker() -> None:
        while queue:
            batch = json.loads(queue.pop())["orders"]
            now = datetime.now(UTC)
            orders, lines = [], []
            for o in batch:
                oid = new_id()
                placed = datetime.fromisoformat(o["placed_at"])
                total = _minor(o["total"])
                updated = datetime.fromisoformat(o["source_updated_at"])
                orders.append((workspace_id, oid, o["source"], o["external_id"], json.dumps(o["customer"]),
                               o["status"], o["currency"], _minor(o["subtotal"]), total, "USD", total, placed,
                               placed.date(), updated, json.dumps(o["line_items"]), now))  # fmt: skip
                for i, line in enumerate(o["line_items"]):
                    unit = _minor(line["unit_price"])
                    lines.append((workspace_id, oid, i, line["sku"], line["name"], line["category"], line["quantity"],
                                  unit, unit * line["quantity"]))  # fmt: skip
            async with pool.acquire() as conn, conn.transaction():
                await conn.executemany(order_sql, orders)
                await conn.executemany(line_sql, lines)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed


async def _checkpoint() -> None:
    """Each writing phase starts from a fresh checkpoint, so none pays for flushing the pages the
    phase before it dirtied (a run writes about 1 GB of WAL, max_wal_size here)."""
    await _admin("CHECKPOINT")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--no-worker", action="store_true", help="diagnosis only: serve without the worker (not as shipped)"
    )
    args = parser.parse_args()
    orders = make_orders(args.orders, args.customers)
    bodies = [json.dumps({"orders": orders[i : i + args.batch]}).encode() for i in range(0, len(orders), args.batch)]
    lines = sum(len(o["line_items"]) for o in orders)  # type: ignore[arg-type]
    print(f"{len(orders):,} orders, {lines:,} lines, {args.customers:,} customers, {len(bodies)} batches of "
          f"{args.batch}, {args.concurrency} concurrent; {sum(map(len, bodies)) / 1e6:.0f} MB of JSON")  # fmt: skip
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
        await _checkpoint()
        base_before = await baseline(urls[1], uuid.UUID(keys[1]["workspace_id"]), bodies, args.concurrency)
        env = {"DATABASE_URL": urls[0], "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
        api, port = _start(["-m", "app", "serve", *(["--no-worker"] if args.no_worker else [])], env, "/readyz")

        def cpu() -> tuple[float, float, float]:
            tree = process_tree(api.pid)
            return cpu_seconds([api.pid]), cpu_seconds(tree[1:]), postgres.cpu_seconds()

        await _checkpoint()
        before_cpu = cpu()
        first, first_statuses = await post_all(port, keys[0]["secret_key"], bodies, args.concurrency)
        first_cpu = [b - a for a, b in zip(before_cpu, cpu(), strict=True)]
        conn = await asyncpg.connect(urls[0])
        events_before = await conn.fetchval("SELECT count(*) FROM events")
        versions_before = await conn.fetchval("SELECT sum(version) FROM orders")
        before_cpu = cpu()
        resend, resend_statuses = await post_all(port, keys[0]["secret_key"], bodies, args.concurrency)
        resend_cpu = [b - a for a, b in zip(before_cpu, cpu(), strict=True)]
        stored = await conn.fetchval("SELECT count(*) FROM orders")
        stored_lines = await conn.fetchval("SELECT count(*) FROM order_lines")
        contacts = await conn.fetchval("SELECT count(*) FROM contacts")
        events_after = await conn.fetchval("SELECT count(*) FROM events")
        versions_after = await conn.fetchval("SELECT sum(version) FROM orders")
        await conn.close()
        # The baseline again, on emptied tables: the machine's speed drifts within minutes, and a
        # baseline measured only before the API's passes made the ratio depend on when it ran. The
        # API and its worker have exited first: the worker would still be stamping the passes' events.
        _stop(api)
        api = None
        conn = await asyncpg.connect(urls[1])
        await conn.execute("TRUNCATE order_lines, orders CASCADE")
        await conn.close()
        await _checkpoint()
        base_after = await baseline(urls[1], uuid.UUID(keys[1]["workspace_id"]), bodies, args.concurrency)
        base_seconds = (base_before + base_after) / 2
        assert first_statuses == {"created": len(orders)}, first_statuses
        assert resend_statuses == {"unchanged": len(orders)}, resend_statuses
        buyers = len({o["customer"]["external_id"] for o in orders})  # type: ignore[index]
        assert (stored, stored_lines, contacts) == (len(orders), lines, buyers), (
            stored,
            stored_lines,
            contacts,
        )
        assert events_after == events_before and versions_after == versions_before, "the resend changed something"
        n = len(orders)
        print("\n| pass | seconds | orders/s | vs baseline | API CPU s | worker CPU s | PostgreSQL CPU s |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        label = "baseline: raw asyncpg executemany (orders + lines)"
        for when, seconds in (("before", base_before), ("after", base_after)):
            print(f"| {label}, {when} | {seconds:.1f} | {n / seconds:,.0f} | {base_seconds / seconds:.2f} | | | |")
        for name, seconds, used in (
            ("API first pass (all created)", first, first_cpu),
            ("API resend (all unchanged)", resend, resend_cpu),
        ):
            print(f"| {name} | {seconds:.1f} | {n / seconds:,.0f} | {base_seconds / seconds:.2f} | "
                  f"{used[0]:.1f} | {used[1]:.1f} | {used[2]:.1f} |")  # fmt: skip
        print(f"\nResend {first / resend:.1f}x faster than the first pass; stored {stored:,} orders, {stored_lines:,} "
              f"lines, {contacts:,} contacts; the resend wrote no event and moved no version.")  # fmt: skip
    finally:
        if api is not None:
            _stop(api)
        for name in names:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
