"""Planner statistics kept up by the worker (PostgreSQL; app/worker/statistics.py): a table that
grew since its last ANALYZE is analysed within seconds, so queries stop being planned for the empty
table it was. SQLite keeps no statistics the worker could refresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.dialects import postgresql

from app.config import Settings
from app.db.migrate import upgrade
from app.db.repositories.leads.leads import _CANDIDATES
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.services.workspace import workspaces
from app.worker import statistics
from tests.conftest import ScratchDatabases, _asyncpg_dsn, database_url
from tests.integration.test_webhooks import running_worker, until

LEADS = 2000


async def _grow_leads(url: str, workspace_id: object, start: int = 0) -> list[object]:
    """LEADS open leads with distinct keys, written outside the app (as a bulk load would)."""
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        ids = await conn.fetch(
            """
INSERT INTO leads (workspace_id, id, source, channel, tags, status, custom_fields, created_at, updated_at,
                   created_by, updated_by, email, email_key, name_key, company_key)
SELECT $1, gen_random_uuid(), 'api', 'web', '[]', 'new', '{}', now(), now(), 'test', 'test',
       'p' || n || '@example.com', 'p' || n || '@example.com', 'first' || n || ' last', 'company ' || n
FROM generate_series($3::int + 1, $3::int + $2::int) AS n
RETURNING id
""",
            workspace_id,
            LEADS,
            start,
        )
    finally:
        await conn.close()  # a backend reports its changes to the statistics views when it exits
    return [row["id"] for row in ids]


async def _plan(db: Database, workspace_id: object, ids: list[object]) -> str:
    """The plan PostgreSQL caches for the worker's duplicate search of these leads (generic: the
    one a prepared statement keeps once it has run a few times)."""
    sql = str(_CANDIDATES[False][1].compile(dialect=postgresql.asyncpg.dialect()))  # the worker's statement
    conn = await asyncpg.connect(_asyncpg_dsn(db.settings.database_url))
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        return "\n".join(row[0] for row in await conn.fetch("EXPLAIN " + sql, ids, workspace_id))
    finally:
        await conn.close()


async def _last_analyze(db: Database) -> object:
    conn = await asyncpg.connect(_asyncpg_dsn(db.settings.database_url))
    try:
        return await conn.fetchval("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'leads'")
    finally:
        await conn.close()


@pytest.fixture
async def fresh(tmp_path: Path, scratch: ScratchDatabases) -> AsyncIterator[tuple[Database, Any]]:
    """A freshly migrated PostgreSQL database with one workspace (and its id)."""
    db = Database(Settings(database_url=await database_url("postgresql", tmp_path, scratch)))
    await upgrade(db)
    try:
        async with UnitOfWork(db) as uow:
            created = await workspaces.create(uow, name="Stats", now=utcnow())
            await uow.commit()
        yield db, created.workspace["id"]
    finally:
        await db.dispose()


async def test_the_worker_analyses_a_table_that_grew_so_the_duplicate_search_looks_leads_up_by_key(
    fresh: tuple[Database, Any],
) -> None:
    db, workspace_id = fresh
    assert await statistics.refresh(db) == []  # freshly migrated: nothing has changed yet
    ids = await _grow_leads(db.settings.database_url, workspace_id)
    assert await _last_analyze(db) is None
    async with running_worker(db, worker_analyze_seconds=0.1):
        await until(lambda: _has_been_analysed(db))
    # Current statistics: nothing left to do until the table changes again.
    assert "leads" not in await statistics.refresh(db)
    # Planned from the new statistics, each lead's candidates are looked up by its keys; planned
    # for the empty table, the same statement read the workspace's leads newest first, once
    # per lead (measured: 1 s per 100 leads at 4,400 leads).
    plan = await _plan(db, workspace_id, ids[-50:])
    assert "ix_leads_workspace_id_name_key" in plan and "ix_leads_open_email_key" in plan, plan
    assert "ix_leads_workspace_id_created_at_id" not in plan, plan
    async with UnitOfWork(db, write=False) as uow:
        batch = list((await WorkspaceRepositories(uow, workspace_id).leads.by_ids(ids[-50:])).values())
        found = await WorkspaceRepositories(uow, workspace_id).leads.duplicate_candidates(batch)
    assert set(found) == set(ids[-50:]) and not any(found.values())  # distinct people: none alike


async def _has_been_analysed(db: Database) -> bool:
    return await _last_analyze(db) is not None


async def test_tables_are_analysed_again_when_they_grow_not_when_their_rows_change(
    fresh: tuple[Database, Any],
) -> None:
    """Updating every row of an analysed table (order facts on contacts, dispatch stamping events)
    is autovacuum's to notice; more than doubling it is the worker's."""
    db, workspace_id = fresh
    await _grow_leads(db.settings.database_url, workspace_id)
    assert "leads" in await statistics.refresh(db)  # never analysed
    conn = await asyncpg.connect(_asyncpg_dsn(db.settings.database_url))
    try:
        for _ in range(3):
            await conn.execute("UPDATE leads SET status = 'contacted'")  # 3 x every row: no growth
    finally:
        await conn.close()
    assert "leads" not in await statistics.refresh(db)
    await _grow_leads(db.settings.database_url, workspace_id, start=LEADS)
    assert "leads" not in await statistics.refresh(db)  # doubled, not more
    await _grow_leads(db.settings.database_url, workspace_id, start=2 * LEADS)
    assert "leads" in await statistics.refresh(db)  # tripled
