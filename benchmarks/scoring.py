"""Benchmark rescoring a whole workspace on PostgreSQL: 100,000 leads with 1,000,000 engagements
(spread over the last 180 days), rescored by the `leads.rescore` job handler as the worker runs it.

    .venv/bin/python -m benchmarks.scoring [--leads 100000] [--engagements 1000000]

Reports wall time and the peak resident memory of this process (the job runs in it). Targets:
under 60 s and under 500 MB. The data is written with COPY, so setting up costs little."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from app.config import Settings
from app.db.session import Database
from app.ids import new_id
from app.worker.jobs import JobRun, rescore_leads
from benchmarks import postgres
from benchmarks.members import _admin, _cli

TITLES = ["CEO", "Sales manager", "Engineer", "Founder", "Intern", None]
SIZES = ["1-10", "11-50", "51-200", "201-500", "5001+", None]
TYPES = ["page_view"] * 10 + ["email_open"] * 6 + ["email_click"] * 3 + ["content_download"] * 2
TYPES += ["pricing_page_view", "webinar_attended", "demo_request", "unsubscribe"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# What migration 0030 stores for a workspace made before the rules followed the product's sources.
PREVIOUS_RULES = {
    "temperature_from": "score",
    "hot_intent": ["demo_request", "pricing_page_view", "meeting_booked"],
    "sales_intent": ["demo_request", "meeting_booked"],
    "mql_requires_acceptance": False,
}


async def seed(url: str, workspace_id: uuid.UUID, leads: int, engagements: int) -> None:
    conn = await asyncpg.connect(url)
    now = datetime.now(UTC)
    rng = random.Random(7)
    ids = [new_id() for _ in range(leads)]
    lead_rows = [
        (
            workspace_id,
            lead_id,
            f"lead{n}@bench.io",
            f"lead{n}@bench.io",
            rng.choice(TITLES),
            rng.choice(SIZES),
            "web_form",
            "online",
            "[]",
            "new",
            "{}",
            now,
            now,
            "bench",
            "bench",
        )
        for n, lead_id in enumerate(ids)
    ]
    await conn.copy_records_to_table(
        "leads",
        records=lead_rows,
        columns=[
            "workspace_id",
            "id",
            "email",
            "email_key",
            "job_title",
            "company_size",
            "source",
            "channel",
            "tags",
            "status",
            "custom_fields",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
        ],
    )
    await conn.execute("ANALYZE leads")  # so the engagements' foreign-key checks use the index
    batch = []
    for _ in range(engagements):
        occurred = now - timedelta(seconds=rng.randrange(180 * 86400))
        batch.append((workspace_id, new_id(), rng.choice(ids), rng.choice(TYPES), occurred, "{}", "api", now))
        if len(batch) == 100_000:
            await conn.copy_records_to_table(
                "engagements",
                records=batch,
                columns=["workspace_id", "id", "lead_id", "type", "occurred_at", "properties", "origin", "created_at"],
            )
            batch = []
    if batch:
        await conn.copy_records_to_table(
            "engagements",
            records=batch,
            columns=["workspace_id", "id", "lead_id", "type", "occurred_at", "properties", "origin", "created_at"],
        )
    await conn.execute("ANALYZE")
    await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--engagements", type=int, default=1_000_000)
    parser.add_argument(
        "--previous-rules",
        action="store_true",
        help="score as a workspace made before 2026-12-06 does (temperature from the total score, MQL by score "
        "alone): the rules migration 0030 keeps for existing workspaces",
    )
    args = parser.parse_args()
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = postgres.database_url(name)
    try:
        env = {"DATABASE_URL": url}
        _cli(env, "migrate")
        workspace_id = uuid.UUID(json.loads(_cli(env, "create-workspace", "Bench", "--json"))["workspace_id"])
        started = time.perf_counter()
        await seed(url, workspace_id, args.leads, args.engagements)
        if args.previous_rules:
            conn = await asyncpg.connect(url)
            await conn.execute(
                'INSERT INTO workspace_settings (workspace_id, section, "values", version, created_at, updated_at, '
                "created_by, updated_by) VALUES ($1, 'scoring', $2::jsonb, 1, now(), now(), 'system', 'system')",
                workspace_id,
                json.dumps(PREVIOUS_RULES),
            )
            await conn.close()
        print(
            f"seeded {args.leads:,} leads and {args.engagements:,} engagements in {time.perf_counter() - started:.1f} s"
        )
        database = Database(Settings(database_url=url.replace("postgresql://", "postgresql+asyncpg://", 1)))
        # A real job row, running on its first claim, as the worker's claim leaves it: the handler
        # reports progress against it (and stops if another worker took it over).
        job = {
            "id": new_id(),
            "workspace_id": workspace_id,
            "params": {"cause": "benchmark"},
            "progress": None,
            "attempts": 0,
        }
        conn = await asyncpg.connect(url)
        await conn.execute(
            "INSERT INTO jobs (workspace_id, id, kind, status, params, attempts, lease_until, started_at, version, "
            "created_at, updated_at, created_by, updated_by) VALUES ($1, $2, 'leads.rescore', 'running', "
            "'{\"cause\": \"benchmark\"}', 1, now() + interval '1 hour', now(), 1, now(), now(), 'system', 'system')",
            workspace_id,
            job["id"],
        )
        await conn.close()
        before = rss_mb()
        started = time.perf_counter()
        result = await rescore_leads(JobRun(database, job, timedelta(minutes=10)))
        seconds = time.perf_counter() - started
        await database.dispose()
        conn = await asyncpg.connect(url)
        hot = await conn.fetchval("SELECT count(*) FROM leads WHERE temperature = 'hot'")
        events = await conn.fetchval("SELECT count(*) FROM events")
        await conn.close()
        print(
            f"rescored {result['leads']:,} leads ({result['changed']:,} changed, {hot:,} hot, {events:,} events) "
            f"in {seconds:.1f} s = {result['leads'] / seconds:,.0f} leads/s; peak RSS {rss_mb():.0f} MB "
            f"({before:.0f} MB before the job)"
        )
        assert result["leads"] == args.leads
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
