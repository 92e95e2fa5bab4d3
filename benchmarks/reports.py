# ruff: noqa: E501  (the generated data is SQL text)
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

from benchmarks import postgres
from benchmarks.members import _admin, _cli, _start

SEED = 20261207
DAYS = 365  # leads over the last year
SOURCES = ("web_form", "landing_page", "referral", "social", "email", "event", "chat", "other")
MEMBERS, TEAMS = 40, 4
BATCH = 100_000


LOAD_SQL = """
SELECT setseed(0.20261207);
INSERT INTO members (workspace_id, id, name, email, role, created_at, updated_at, created_by, updated_by)
SELECT '{ws}'::uuid, gen_random_uuid(), 'Member ' || m, 'm' || m || '@bench.example', 'member', now(), now(), 'bench', 'bench'
FROM generate_series(1, {members}) m;
INSERT INTO teams (workspace_id, id, name, member_ids, created_at, updated_at, created_by, updated_by)
SELECT '{ws}'::uuid, gen_random_uuid(), 'Team ' || t,
       (SELECT jsonb_agg(id::text) FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM members
                                         WHERE workspace_id = '{ws}'::uuid) x WHERE x.n % {teams} = t - 1),
       now(), now(), 'bench', 'bench'
FROM generate_series(1, {teams}) t;
CREATE TEMP TABLE bench_members AS
  SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM members WHERE workspace_id = '{ws}'::uuid;
CREATE TEMP TABLE bench_teams AS
  SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM teams WHERE workspace_id = '{ws}'::uuid;
-- Leads over the last year: a third reach MQL, 15% SQL; first responses gamma-ish around 20 minutes.
INSERT INTO leads (workspace_id, id, first_name, email, email_key, source, channel, tags, status, custom_fields,
                   stage, owner_id, team_id, assigned_at, sla_status, first_response_seconds, first_responded_at,
                   temperature, created_at, updated_at, created_by, updated_by)
SELECT '{ws}'::uuid, gen_random_uuid(), 'L' || g, 'l' || g || '@bench.example', 'l' || g || '@bench.example',
       (ARRAY['web_form','landing_page','referral','social','email','event','chat','other'])[1 + (g % 8)],
       'online', '[]', 'new', '{{}}',
       CASE WHEN r < 0.15 THEN 'sql' WHEN r < 0.33 THEN 'mql' END,
       (SELECT id FROM bench_members WHERE n = g % {members}),
       (SELECT id FROM bench_teams WHERE n = (g % {members}) % {teams}),
       created + interval '30 seconds', CASE WHEN response < 300 THEN 'met' ELSE 'breached' END, response,
       created + response * interval '1 second', (ARRAY['cold','warm','hot'])[1 + (g % 3)],
       created, created, 'bench', 'bench'
FROM (SELECT g, random() AS r, -600 * ln(1 - random()) - 600 * ln(1 - random()) AS response,
             now() - random() * interval '{days} days' AS created
      FROM generate_series(1, {leads}) g) x;
ANALYZE leads;
INSERT INTO lead_state_changes (workspace_id, id, lead_id, kind, from_value, to_value, cause, score, occurred_at)
SELECT '{ws}'::uuid, gen_random_uuid(), id, 'stage', NULL, 'mql', 'rules', 50, created_at + interval '6 hours'
FROM leads WHERE workspace_id = '{ws}'::uuid AND stage IS NOT NULL;
INSERT INTO lead_state_changes (workspace_id, id, lead_id, kind, from_value, to_value, cause, score, occurred_at)
SELECT '{ws}'::uuid, gen_random_uuid(), id, 'stage', 'mql', 'sql', 'rules', 70, created_at + interval '1 day'
FROM leads WHERE workspace_id = '{ws}'::uuid AND stage = 'sql';
-- Opportunities from SQL leads: a third won, a third lost, the rest open.
INSERT INTO opportunities (workspace_id, id, name, owner_id, amount_minor, currency, stage, probability,
                           expected_close_date, type, close_reason, closed_at, lead_id, created_at, updated_at,
                           created_by, updated_by)
SELECT '{ws}'::uuid, gen_random_uuid(), 'Deal ' || id, owner_id, (100000 * -ln(1 - random()))::bigint, 'USD',
       CASE WHEN k % 3 = 0 THEN 'won' WHEN k % 3 = 1 THEN 'lost' ELSE 'proposal' END,
       CASE WHEN k % 3 = 0 THEN 100 WHEN k % 3 = 1 THEN 0 ELSE 60 END,
       (created_at + interval '30 days')::date, 'new_business',
       CASE WHEN k % 3 < 2 THEN 'price' END, CASE WHEN k % 3 < 2 THEN created_at + interval '22 days' END,
       id, created_at + interval '2 days', created_at + interval '2 days', 'bench', 'bench'
FROM (SELECT id, owner_id, created_at, row_number() OVER (ORDER BY id) AS k
      FROM leads WHERE workspace_id = '{ws}'::uuid AND stage = 'sql' LIMIT {opportunities}) q;
ANALYZE opportunities;
UPDATE leads l SET opportunity_id = o.id, status = 'qualified', qualified_at = o.created_at
FROM opportunities o WHERE o.workspace_id = '{ws}'::uuid AND l.workspace_id = '{ws}'::uuid AND l.id = o.lead_id;
-- A task and an activity for every tenth lead.
INSERT INTO tasks (workspace_id, id, title, status, priority, assignee_id, lead_id, due_at, completed_at,
                   created_at, updated_at, created_by, updated_by)
SELECT '{ws}'::uuid, gen_random_uuid(), 'Call', CASE WHEN random() < 0.66 THEN 'completed' ELSE 'open' END, 'normal', owner_id,
       id, created_at + interval '1 day', NULL, created_at, created_at, 'bench', 'bench'
FROM leads WHERE workspace_id = '{ws}'::uuid AND first_name LIKE '%0';
UPDATE tasks SET completed_at = due_at WHERE workspace_id = '{ws}'::uuid AND status = 'completed';
INSERT INTO activities (workspace_id, id, lead_id, member_id, type, direction, automated, occurred_at,
                        first_response, created_at, created_by)
SELECT '{ws}'::uuid, gen_random_uuid(), id, owner_id, (ARRAY['call','email','meeting','note'])[1 + (length(first_name) % 4)],
       'outbound', false, created_at + interval '1 hour', true, created_at, 'bench'
FROM leads WHERE workspace_id = '{ws}'::uuid AND first_name LIKE '%0';
INSERT INTO lead_assignments (workspace_id, id, lead_id, to_member_id, team_id, reason, assigned_at, assigned_by)
SELECT '{ws}'::uuid, gen_random_uuid(), id, owner_id, team_id, 'rule', assigned_at, 'system' FROM leads WHERE workspace_id = '{ws}'::uuid;
-- Customers and their orders over three years, more in Esfand (the weeks before Nowruz) and autumn.
INSERT INTO contacts (workspace_id, id, first_name, email, tags, interests, created_at, updated_at, created_by,
                      updated_by)
SELECT '{ws}'::uuid, gen_random_uuid(), 'C' || c, 'c' || c || '@bench.example', '[]', '[]', now(), now(), 'bench', 'bench'
FROM generate_series(1, {customers}) c;
CREATE TEMP TABLE bench_contacts AS
  SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM contacts WHERE workspace_id = '{ws}'::uuid;
INSERT INTO orders (workspace_id, id, source, external_id, contact_id, status, currency, total_minor,
                    reporting_currency, reporting_total_minor, conversion, placed_at, placed_on, source_updated_at,
                    line_items, content_hash, created_at, updated_at, created_by, updated_by)
SELECT '{ws}'::uuid, gen_random_uuid(), 'shopify', o::text, c.id, CASE WHEN o % 33 = 0 THEN 'cancelled' ELSE 'paid' END,
       'USD', total, 'USD', total, 'same', placed, placed::date, placed, '[]', 'h', placed, placed, 'bench', 'bench'
FROM (SELECT o, (2000 + 8000 * random()
                 * (1 + 0.5 * sin(extract(doy FROM now() - d * interval '1 day') / 58.1)))::bigint AS total,
             now() - d * interval '1 day' AS placed
      FROM (SELECT o, floor(1095 * random()) AS d FROM generate_series(1, {orders}) o) days) x
JOIN bench_contacts c ON c.n = x.o % {customers};
ANALYZE;
"""


async def load(url: str, workspace_id: uuid.UUID, args: argparse.Namespace) -> dict[str, Any]:
    """Everything generated by the database itself (a few statements, seeded): a million rows in
    seconds, where building them in Python took most of the run."""
    conn = await asyncpg.connect(url)
    try:
        sql = LOAD_SQL.format(
            ws=workspace_id, members=MEMBERS, teams=TEAMS, leads=args.leads, days=DAYS,
            opportunities=args.opportunities, customers=args.customers, orders=args.orders,
        )  # fmt: skip
        for statement in sql.split(";\n"):
            if statement.strip():
                await conn.execute(statement)
        counts = {}
        for table in ("leads", "opportunities", "orders", "tasks"):
            counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE workspace_id = $1", workspace_id)
    finally:
        await conn.close()
    return counts


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
                   WHERE workspace_id = $1 AND archived_at IS NULL AND created_at >= $2::timestamptz - interval '100 years'
                   GROUP BY 1, 2, 3, 4, 5""",
    "sales-forecast": """SELECT date_trunc('month', placed_at), sum(reporting_total_minor) FROM orders
                         WHERE workspace_id = $1 AND status IN ('paid', 'fulfilled', 'partially_refunded')
                           AND placed_at >= $2::timestamptz - interval '4 years' GROUP BY 1""",
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
            counts = await load(url, workspace_id, args)
            orders = counts["orders"]
            load_seconds = time.perf_counter() - started
            if args.keep:
                Path(f"/tmp/{name}.json").write_text(json.dumps(keys))
                Path(f"/tmp/{name}.counts.json").write_text(json.dumps({**counts, "orders": orders,
                                                                          "load_seconds": load_seconds}))  # fmt: skip
        api, port = _start(["-m", "app", "serve", "--no-worker"], env, "/readyz")
        await asyncio.sleep(1)
        since = datetime.now(UTC) - timedelta(days=90)
        conn = await asyncpg.connect(url)
        await conn.execute("DELETE FROM report_forecasts")  # cold: nothing cached, on a kept database too
        print(f"\n{counts['leads']:,} leads, {counts['opportunities']:,} opportunities, {orders:,} orders, "
              f"{counts['tasks']:,} tasks (generated in the database in {load_seconds:.0f} s); "
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
