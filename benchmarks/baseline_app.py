"""The baseline of the benchmarks: FastAPI validating a small JSON body and inserting one row with
raw asyncpg from a pool (no ORM, no auth, no transaction bookkeeping). The API's figures are
reported as ratios to this one, measured in the same run on the same database."""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel, EmailStr

from app.config import Settings

DSN = os.environ.get("BASELINE_DSN", "")  # set by the benchmark that starts this app
# A fixed-size pool as large as the API's (DATABASE_POOL_SIZE, default 20), unless the benchmark
# asks for another size: a smaller pool would hand the API more connections than the baseline.
POOL_SIZE = int(os.environ.get("BASELINE_POOL_SIZE") or Settings().database_pool_size)
pool: asyncpg.Pool | None = None

TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS baseline_members (id uuid PRIMARY KEY, workspace_id uuid NOT NULL, "
    "name text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)


@asynccontextmanager
async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
    global pool
    assert DSN, "BASELINE_DSN is not set"
    pool = await asyncpg.create_pool(DSN, min_size=POOL_SIZE, max_size=POOL_SIZE)
    async with pool.acquire() as conn:
        await conn.execute(TABLE_DDL)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)
WORKSPACE = uuid.uuid4()


class MemberIn(BaseModel):
    name: str
    email: EmailStr


@app.post("/members", status_code=201)
async def create(body: MemberIn) -> dict[str, str]:
    assert pool is not None
    row = await pool.fetchrow(
        "INSERT INTO baseline_members (id, workspace_id, name, email) VALUES ($1, $2, $3, $4) RETURNING id",
        uuid.uuid4(),
        WORKSPACE,
        body.name,
        body.email,
    )
    return {"id": str(row["id"]), "name": body.name, "email": body.email}


class SubmissionIn(BaseModel):
    first_name: str
    last_name: str
    email: EmailStr
    phone: str
    company: str


@app.post("/submissions", status_code=201)
async def submit(body: SubmissionIn) -> dict[str, str]:
    """The lead-capture baseline: the same payload, validated, one row inserted."""
    assert pool is not None
    row = await pool.fetchrow(
        "INSERT INTO baseline_members (id, workspace_id, name, email) VALUES ($1, $2, $3, $4) RETURNING id",
        uuid.uuid4(),
        WORKSPACE,
        f"{body.first_name} {body.last_name}",
        body.email,
    )
    return {"lead_id": str(row["id"])}
