"""Benchmark the reports on PostgreSQL: 1,000,000 leads (stage changes for the third that reached
MQL), 100,000 opportunities (qualified leads; a third won, a third lost), 100,000 customers with
1,000,000 orders, and members, teams, tasks and activities, loaded with COPY into a throwaway
database (autovacuum on, ANALYZE after the load). The real server (`python -m app serve
--no-worker`) answers each report over HTTP; each is timed cold (its first request) and warm (the
best of the next three), beside a baseline in the same run: the single bare SQL aggregate the
report needs, read with raw asyncpg.

Targets: funnel, team and overview each under 2 s; sales-forecast (cold: nothing cached) under 10 s.

    .venv/bin/python -m benchmarks.reports [--leads 1000000] [--opportunities 100000] [--orders 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np

from app.ids import new_id
from benchmarks import postgres
from benchmarks.analytics import load as load_orders
from benchmarks.members import _admin, _cli, _start

SEED = 20261207
DAYS = 365  # leads over the last year
SOURCES = ("web_form", "landing_page", "referral", "social", "email", "event", "chat", "other")
MEMBERS, TEAMS = 40, 4
BATCH = 100_000


def _times(rng: np.random.Generator, n: int, now: datetime) -> np.ndarray:
    """Creation times over the last DAYS days (seconds before now)."""
    return rng.uniform(0, DAYS * 86400, n)


async def load(url: str, workspace_id: uuid.UUID, leads: int, opportunities: int) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    now = datetime.now(UTC)
    member_ids = [new_id() for _ in range(MEMBERS)]
    team_ids = [new_id() for _ in range(TEAMS)]
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "members",
            columns=["workspace_id", "id", "name", "email", "role", "created_at", "updated_at", "created_by",
                     "updated_by"],
            records=[(workspace_id, m, f"Member {i}", f"m{i}@bench.example", "member", now, now, "bench", "bench")
                     for i, m in enumerate(member_ids)],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "teams",
            columns=["workspace_id", "id", "name", "member_ids", "created_at", "updated_at", "created_by",
                     "updated_by"],
            records=[(workspace_id, t, f"Team {i}", json.dumps([str(m) for m in member_ids[i::TEAMS]]), now, now,
                      "bench", "bench") for i, t in enumerate(team_ids)],
        )  # fmt: skip
        ago = _times(rng, leads, now)
        owner = rng.integers(0, MEMBERS, leads)
        source = rng.integers(0, len(SOURCES), leads)
        reached = rng.random(leads)  # < 0.33 MQL, < 0.15 SQL
        first_response = rng.gamma(2.0, 600.0, leads)
        qualified = np.flatnonzero(reached < 0.15)[:opportunities]
        opportunity_of = {int(k): new_id() for k in qualified}
        lead_ids = [new_id() for _ in range(leads)]
        for begin in range(0, leads, BATCH):
            records = []
            changes = []
            for k in range(begin, min(begin + BATCH, leads)):
                created = now - timedelta(seconds=float(ago[k]))
                stage = "sql" if reached[k] < 0.15 else "mql" if reached[k] < 0.33 else None
                member = member_ids[int(owner[k])]
                assigned = created + timedelta(seconds=30)
                responded = first_response[k]
                records.append((
                    workspace_id, lead_ids[k], f"L{k}", f"l{k}@bench.example", f"l{k}@bench.example",
                    SOURCES[int(source[k])], "online", "[]", "qualified" if k in opportunity_of else "new", "{}",
                    stage, member, team_ids[int(owner[k]) % TEAMS], assigned,
                    "met" if responded < 300 else "breached", float(responded),
                    created + timedelta(seconds=float(responded)),
                    opportunity_of.get(k), created + timedelta(days=2) if k in opportunity_of else None,
                    created, created, "bench", "bench",
                ))  # fmt: skip
                if stage is not None:
                    changes.append((workspace_id, new_id(), lead_ids[k], "stage", None, "mql", "rules", 50.0,
                                    created + timedelta(hours=6)))  # fmt: skip
                if stage == "sql":
                    changes.append((workspace_id, new_id(), lead_ids[k], "stage", "mql", "sql", "rules", 70.0,
                                    created + timedelta(days=1)))  # fmt: skip
            await conn.copy_records_to_table(
                "leads",
                columns=["workspace_id", "id", "first_name", "email", "email_key", "source", "channel", "tags",
                         "status", "custom_fields", "stage", "owner_id", "team_id", "assigned_at", "sla_status",
                         "first_response_seconds", "first_responded_at", "opportunity_id", "qualified_at",
                         "created_at", "updated_at", "created_by", "updated_by"],
                records=records,
            )  # fmt: skip
            await conn.copy_records_to_table(
                "lead_state_changes",
                columns=["workspace_id", "id", "lead_id", "kind", "from_value", "to_value", "cause", "score",
                         "occurred_at"],
                records=changes,
            )  # fmt: skip
        outcome = rng.random(len(qualified))
        amounts = np.rint(rng.gamma(2.0, 50_000.0, len(qualified))).astype(np.int64)
        deals = []
        for index, k in enumerate(qualified):
            created = now - timedelta(seconds=float(ago[k])) + timedelta(days=2)
            stage = "won" if outcome[index] < 0.33 else "lost" if outcome[index] < 0.66 else "proposal"
            closed = created + timedelta(days=20) if stage in ("won", "lost") else None
            deals.append((
                workspace_id, opportunity_of[int(k)], f"Deal {k}", member_ids[int(owner[k])], int(amounts[index]),
                "USD", stage, {"won": 100, "lost": 0}.get(stage, 60), (created + timedelta(days=30)).date(),
                "new_business", "price" if closed else None, closed, lead_ids[k], created, created, "bench", "bench",
            ))  # fmt: skip
        await conn.copy_records_to_table(
            "opportunities",
            columns=["workspace_id", "id", "name", "owner_id", "amount_minor", "currency", "stage", "probability",
                     "expected_close_date", "type", "close_reason", "closed_at", "lead_id", "created_at",
                     "updated_at", "created_by", "updated_by"],
            records=deals,
        )  # fmt: skip
        tasks, activities = [], []
        for i in range(leads // 10):
            k = int(rng.integers(0, leads))
            created = now - timedelta(seconds=float(ago[k]))
            done = i % 3 != 0
            due = created + timedelta(days=1)
            tasks.append((workspace_id, new_id(), f"Call L{k}", "completed" if done else "open", "normal",
                          member_ids[int(owner[k])], lead_ids[k], due, due if done else None, created, created,
                          "bench", "bench"))  # fmt: skip
            activities.append((workspace_id, new_id(), lead_ids[k], member_ids[int(owner[k])],
                               ("call", "email", "meeting", "note")[i % 4], "outbound", False,
                               created + timedelta(hours=1), i % 2 == 0, created, "bench"))  # fmt: skip
        await conn.copy_records_to_table(
            "tasks",
            columns=["workspace_id", "id", "title", "status", "priority", "assignee_id", "lead_id", "due_at",
                     "completed_at", "created_at", "updated_at", "created_by", "updated_by"],
            records=tasks,
        )  # fmt: skip
        await conn.copy_records_to_table(
            "activities",
            columns=["workspace_id", "id", "lead_id", "member_id", "type", "direction", "automated", "occurred_at",
                     "first_response", "created_at", "created_by"],
            records=activities,
        )  # fmt: skip
        await conn.execute("ANALYZE leads; ANALYZE lead_state_changes; ANALYZE opportunities; ANALYZE tasks; "
                           "ANALYZE activities; ANALYZE members; ANALYZE teams")  # fmt: skip
    finally:
        await conn.close()
    return {"leads": leads, "opportunities": len(deals), "tasks": len(tasks)}


BASELINES = {
    # The least each report must read: one GROUP BY over its main table for the default range.
    "funnel": """SELECT date_trunc('week', l.created_at), count(*), count(l.stage), count(l.opportunity_id),
                        count(o.closed_at)
                 FROM leads l LEFT JOIN opportunities o
                   ON o.workspace_id = l.workspace_id AND o.id = l.opportunity_id
                 WHERE l.workspace_id = $1 AND l.created_at >= $2 GROUP BY 1""",
    "team": """SELECT owner_id, count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY first_response_seconds)
               FROM leads WHERE workspace_id = $1 AND assigned_at >= $2 GROUP BY owner_id""",
    "overview": """SELECT status, stage, temperature, owner_id, source, count(*) FROM leads
                   WHERE workspace_id = $1 AND archived_at IS NULL AND created_at >= $2 - interval '100 years'
                   GROUP BY 1, 2, 3, 4, 5""",
    "sales-forecast": """SELECT date_trunc('month', placed_at), sum(reporting_total_minor) FROM orders
                         WHERE workspace_id = $1 AND status IN ('paid', 'fulfilled', 'partially_refunded')
                           AND placed_at >= $2 - interval '4 years' GROUP BY 1""",
}
REQUESTS: dict[str, tuple[str, dict[str, str]]] = {
    "funnel": ("/v1/reports/funnel", {"interval": "week"}),
    "team": ("/v1/reports/team", {"interval": "week"}),
    "overview": ("/v1/reports/overview", {}),
    "sales-forecast": ("/v1/reports/sales-forecast", {"interval": "month", "periods": "6"}),
}


async def _exists(name: str) -> bool:
    conn = await asyncpg.connect(postgres.admin_url())
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--reports", default=",".join(REQUESTS))
    parser.add_argument("--keep", metavar="NAME", help="keep the loaded database as NAME, or reuse it when it exists")
    args = parser.parse_args()
    name = args.keep or f"crm_bench_{uuid.uuid4().hex[:8]}"
    url = postgres.database_url(name)
    env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
    api = None
    kept = bool(args.keep) and await _exists(name)
    try:
        if kept:
            _cli(env, "migrate")
            keys = json.loads(Path(f"/tmp/{name}.json").read_text())
            counts = json.loads(Path(f"/tmp/{name}.counts.json").read_text())
            orders, load_seconds = counts["orders"], counts["load_seconds"]
            workspace_id = uuid.UUID(keys["workspace_id"])
        else:
            await _admin(f'CREATE DATABASE "{name}"')
            _cli(env, "migrate")
            keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
            workspace_id = uuid.UUID(keys["workspace_id"])
            started = time.perf_counter()
            counts = await load(url, workspace_id, args.leads, args.opportunities)
            orders, _ = await load_orders(url, workspace_id, args.customers, args.orders)
            load_seconds = time.perf_counter() - started
            if args.keep:
                Path(f"/tmp/{name}.json").write_text(json.dumps(keys))
                Path(f"/tmp/{name}.counts.json").write_text(json.dumps({**counts, "orders": orders,
                                                                          "load_seconds": load_seconds}))  # fmt: skip
        api, port = _start(["-m", "app", "serve", "--no-worker"], env, "/readyz")
        await asyncio.sleep(1)
        since = datetime.now(UTC) - timedelta(days=90)
        conn = await asyncpg.connect(url)
        print(f"\n{counts['leads']:,} leads, {counts['opportunities']:,} opportunities, {orders:,} orders, "
              f"{counts['tasks']:,} tasks (loaded with COPY in {load_seconds:.0f} s); "
              "PostgreSQL autovacuum on\n")  # fmt: skip
        print("| report | cold s | warm s (best of 3) | bare SQL aggregate s | warm / bare | target |")
        print("|---|---:|---:|---:|---:|---|")
        headers = {"Authorization": f"Bearer {keys['secret_key']}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600, headers=headers) as client:
            for report in args.reports.split(","):
                path, params = REQUESTS[report]

                async def call(path: str = path, params: dict[str, str] = params) -> None:
                    response = await client.get(path, params=params)
                    assert response.status_code == 200, (path, response.status_code, response.text[:500])

                cold = await _timed(call)
                warm = min([await _timed(call) for _ in range(3)])
                bare = min([await _timed(lambda r=report: conn.fetch(BASELINES[r], workspace_id, since))
                            for _ in range(3)])  # fmt: skip
                target = "< 10 s cold" if report == "sales-forecast" else "< 2 s"
                print(f"| {report} | {cold:.2f} | {warm:.2f} | {bare:.2f} | {warm / bare:.1f} | {target} |")
        await conn.close()
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        if not args.keep:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())


