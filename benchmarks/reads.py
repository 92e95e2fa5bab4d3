"""Benchmark authenticated reads: `GET /v1/leads?limit=50` and `GET /v1/leads/{id}` on the real server
(`python -m app serve --no-worker`, uvicorn, one process, RATE_LIMIT_ENABLED=false) against a bare FastAPI +
raw asyncpg app serving the same rows of the same table, measured in the same run.

    .venv/bin/python -m benchmarks.reads [--seconds 10] [--runs 3] [--connections 32] [--leads 1000]

The bare app (`bare` below, served by uvicorn the same way) does what any read endpoint must and nothing
more: it resolves the bearer key by its SHA-256 digest (cached in memory for API_KEY_CACHE_SECONDS, as the
API caches keys) and checks the scope, reads the rows with one prepared statement on an asyncpg pool as large
as the API's (DATABASE_POOL_SIZE), and encodes the fields LeadRead shows with orjson (json columns decoded
by orjson too; asyncpg's UUIDs written as text).
Its list is the API's default page (the workspace's unarchived leads by created_at, id;
the 51st row only tells whether there is a next page), its single lead carries an ETag.

Fairness: rounds alternate (API, bare, API, bare ...) and only one server runs at a time: each round starts
its server fresh after a CHECKPOINT, loads it for `--warmup` seconds and measures each scenario for
`--seconds`, then stops it. The leads are created through the API (`POST /v1/leads/batch`) before the
first round, so both read rows the service wrote. Every answer must be 200 (others are counted apart and
never as throughput)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import orjson
from fastapi import FastAPI, Header, HTTPException, Query
from fastapi.responses import Response

from app.config import Settings
from benchmarks import postgres
from benchmarks.loadgen import Result, build_request, run
from benchmarks.members import _admin, _cli, _start, _stop

# -- the bare app -----------------------------------------------------------------------------------

DSN = os.environ.get("BARE_DSN", "")  # set by the benchmark that starts it
POOL_SIZE = Settings().database_pool_size
KEY_CACHE_SECONDS = Settings().api_key_cache_seconds
pool: asyncpg.Pool | None = None
_keys: dict[str, tuple[float, uuid.UUID, frozenset[str]]] = {}
_fields: tuple[str, ...] = ()
_LIST = "SELECT * FROM leads WHERE workspace_id = $1 AND archived_at IS NULL ORDER BY created_at, id LIMIT $2"
_GET = "SELECT * FROM leads WHERE workspace_id = $1 AND id = $2"
_KEY = "SELECT workspace_id, scopes FROM api_keys WHERE digest = $1 AND revoked_at IS NULL"


async def _codecs(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
                                  schema="pg_catalog")  # fmt: skip


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    global pool, _fields
    assert DSN, "BARE_DSN is not set"
    from app.schemas.leads.leads import LeadRead

    pool = await asyncpg.create_pool(DSN, min_size=POOL_SIZE, max_size=POOL_SIZE, init=_codecs)
    async with pool.acquire() as conn:
        columns = {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'leads'")}  # fmt: skip
    _fields = tuple(f for f in LeadRead.model_fields if f in columns)
    yield
    await pool.close()


bare = FastAPI(lifespan=_lifespan)


async def _workspace(authorization: str | None, scope: str) -> uuid.UUID:
    """The key's workspace: its digest looked up once per KEY_CACHE_SECONDS, then from memory."""
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401)
    digest = hashlib.sha256(authorization[7:].encode()).hexdigest()
    cached = _keys.get(digest)
    if cached is None or cached[0] < time.monotonic():
        assert pool is not None
        row = await pool.fetchrow(_KEY, digest)
        if row is None:
            raise HTTPException(401)
        scopes = row["scopes"] if isinstance(row["scopes"], list) else orjson.loads(row["scopes"])
        cached = (time.monotonic() + KEY_CACHE_SECONDS, row["workspace_id"], frozenset(scopes))
        _keys[digest] = cached
    if scope not in cached[2] and "admin" not in cached[2]:
        raise HTTPException(403)
    return cached[1]


def _shown(record: asyncpg.Record) -> dict[str, Any]:
    return {field: record[field] for field in _fields}


@bare.get("/v1/leads")
async def list_leads(
    authorization: str | None = Header(default=None), limit: int = Query(default=50, ge=1, le=200)
) -> Response:
    workspace_id = await _workspace(authorization, "leads:read")
    assert pool is not None
    rows = await pool.fetch(_LIST, workspace_id, limit + 1)
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        cursor = base64.urlsafe_b64encode(orjson.dumps([last["created_at"], last["id"]], default=str)).decode()
    body = orjson.dumps({"data": [_shown(r) for r in rows], "next_cursor": cursor}, default=str)
    return Response(body, media_type="application/json")


@bare.get("/v1/leads/{lead_id}")
async def get_lead(lead_id: uuid.UUID, authorization: str | None = Header(default=None)) -> Response:
    workspace_id = await _workspace(authorization, "leads:read")
    assert pool is not None
    row = await pool.fetchrow(_GET, workspace_id, lead_id)
    if row is None:
        raise HTTPException(404)
    body = orjson.dumps(_shown(row), default=str)
    return Response(body, media_type="application/json", headers={"ETag": f'"{row["version"]}"'})


# -- the benchmark ----------------------------------------------------------------------------------


async def _checkpoint(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def _seed(port: int, secret_key: str, count: int) -> str:
    """`count` leads through the API's batch endpoint; the id of one of the first page's."""
    headers = {"Authorization": f"Bearer {secret_key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as client:
        for start in range(0, count, 500):
            items = [
                {"first_name": f"First{n}", "last_name": f"Last{n}", "email": f"reader{n}@bench.io",
                 "phone": f"+98912{n:07d}", "company": f"Company {n}", "source": "web_form", "tags": ["bench", "read"],
                 "external_id": f"read-{n}", "city": "Tehran", "country": "IR"}
                for n in range(start, min(count, start + 500))
            ]  # fmt: skip
            answer = client.post("/v1/leads/batch", json={"leads": items})
            answer.raise_for_status()
            assert all(r["status"] == "created" for r in answer.json()["results"]), answer.text[:500]
        page = client.get("/v1/leads", params={"limit": 50}).json()
    return str(page["data"][10]["id"])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load before each measured window")
    parser.add_argument("--leads", type=int, default=1000, help="leads in the workspace")
    args = parser.parse_args()
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = postgres.database_url(name)
    live: list[subprocess.Popen[bytes]] = []
    try:
        env = {"DATABASE_URL": url, "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false"}
        _cli(env, "migrate")
        keys = json.loads(_cli(env, "create-workspace", "Bench", "--json"))
        auth = {"Authorization": f"Bearer {keys['secret_key']}"}
        lead_id = ""

        def scenarios() -> list[tuple[str, Callable[[int], bytes]]]:
            return [
                ("GET /v1/leads?limit=50", lambda _: build_request("GET", "/v1/leads?limit=50", auth)),
                ("GET /v1/leads/{id}", lambda _: build_request("GET", f"/v1/leads/{lead_id}", auth)),
            ]

        async def round_of(which: str) -> dict[str, Result]:
            nonlocal lead_id
            await _checkpoint(url)
            if which == "API":
                server, port = _start(["-m", "app", "serve", "--no-worker"], env, "/readyz")
            else:
                server, port = _start(["-m", "uvicorn", "benchmarks.reads:bare", "--log-level", "warning"],
                                      {"BARE_DSN": url}, "/openapi.json")  # fmt: skip
            live.append(server)
            try:
                if not lead_id:
                    lead_id = _seed(port, keys["secret_key"], args.leads)
                results = {}
                for label, factory in scenarios():
                    results[label] = await run(port, factory, connections=args.connections, seconds=args.seconds,
                                               warmup=args.warmup, server_pid=server.pid)  # fmt: skip
                return results
            finally:
                _stop(server)
                live.remove(server)

        load_before = os.getloadavg()
        rounds: dict[str, list[dict[str, Result]]] = {"API": [], "bare": []}
        for _ in range(args.runs):
            for which in ("API", "bare"):
                rounds[which].append(await round_of(which))
        load_after = os.getloadavg()
        print(
            f"\n{args.runs} interleaved rounds (API, then bare; each server started fresh) x {args.seconds:g} s per "
            f"scenario after {args.warmup:g} s of warm-up, {args.connections} connections, {args.leads:,} leads, "
            f"medians; pools {POOL_SIZE}; {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
            f"{load_after[0]:.1f} after\n"
        )
        print("| scenario | server | req/s | vs bare | p50 ms | p99 ms | non-200 | server CPU ms/req "
              "| PostgreSQL CPU ms/req |")  # fmt: skip
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, _ in scenarios():
            bare_rps = statistics.median(r[label].rps for r in rounds["bare"])
            for which in ("bare", "API"):
                runs = [r[label] for r in rounds[which]]
                rps = statistics.median(r.rps for r in runs)
                print(
                    f"| {label} | {which} | {rps:,.0f} | {rps / bare_rps:.2f} "
                    f"| {statistics.median(r.percentile(50) for r in runs):.1f} "
                    f"| {statistics.median(r.percentile(99) for r in runs):.1f} | {sum(r.errors for r in runs)} "
                    f"| {statistics.median(r.server_cpu_ms for r in runs):.2f} "
                    f"| {statistics.median(r.database_cpu_ms for r in runs):.2f} |"
                )
        print()
        for label, _ in scenarios():
            pairs = [a[label].rps / b[label].rps for a, b in zip(rounds["API"], rounds["bare"], strict=True)]
            print(f"{label}: per round (API req/s / bare req/s) " + ", ".join(
                f"{a[label].rps:,.0f} / {b[label].rps:,.0f} = {a[label].rps / b[label].rps:.2f}"
                for a, b in zip(rounds["API"], rounds["bare"], strict=True))
                  + f"; median of the round ratios {statistics.median(pairs):.2f}")  # fmt: skip
    finally:
        for process in live:
            _stop(process)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with postgres.server():
        asyncio.run(main())
