"""Self-contained statements (Database.execute_alone / fetch_alone, the capture path's write) reuse
a few pooled connections kept aside: a failed statement leaves its connection usable, a broken or
cancelled one is not kept, at most a quarter of the pool is kept, and dispose gives them all back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from app.config import Settings
from app.db.session import Database
from tests.conftest import ScratchDatabases, database_url


@pytest.fixture
async def pg(tmp_path: Path, scratch: ScratchDatabases) -> Database:
    url = await database_url("postgresql", tmp_path, scratch)
    db = Database(Settings(database_url=url, database_pool_size=8))
    await db.execute_alone("CREATE TABLE kept (id int PRIMARY KEY)", [])
    yield db  # type: ignore[misc]
    await db.dispose()


def _checked_out(db: Database) -> int:
    return int(db.engine.pool.checkedout())  # type: ignore[attr-defined]


async def test_statements_reuse_a_kept_connection(pg: Database) -> None:
    first = await pg.fetch_alone("SELECT pg_backend_pid()", [])
    for n in range(5):
        await pg.execute_alone("INSERT INTO kept (id) VALUES ($1)", [n])
    again = await pg.fetch_alone("SELECT pg_backend_pid()", [])
    assert first[0][0] == again[0][0]  # the same backend, not a trip through the pool each time
    assert _checked_out(pg) == 1


async def test_a_failed_statement_keeps_its_connection_usable(pg: Database) -> None:
    await pg.execute_alone("INSERT INTO kept (id) VALUES (1)", [])
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.execute_alone("INSERT INTO kept (id) VALUES (1)", [])
    assert (await pg.fetch_alone("SELECT count(*) FROM kept", []))[0][0] == 1


async def test_concurrent_statements_keep_at_most_a_quarter_of_the_pool(pg: Database) -> None:
    await asyncio.gather(*(pg.execute_alone("SELECT pg_sleep(0.05)", []) for _ in range(8)))
    assert _checked_out(pg) == 2  # 8 // 4; the others went back to the pool
    await pg.dispose()
    assert _checked_out(pg) == 0


async def test_a_cancelled_statement_is_not_kept(pg: Database) -> None:
    task = asyncio.create_task(pg.execute_alone("SELECT pg_sleep(5)", []))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _checked_out(pg) == 0
    assert (await pg.fetch_alone("SELECT 1", []))[0][0] == 1


async def test_a_broken_connection_is_not_kept(pg: Database) -> None:
    pid = (await pg.fetch_alone("SELECT pg_backend_pid()", []))[0][0]
    other = Database(Settings(database_url=pg.settings.database_url, database_pool_size=4))
    try:
        await other.execute_alone("SELECT pg_terminate_backend($1, 10000)", [pid])  # a restart; waits for the end
    finally:
        await other.dispose()
    await asyncio.sleep(0.1)
    with pytest.raises((OSError, asyncpg.InterfaceError, asyncpg.PostgresError)):
        await pg.fetch_alone("SELECT 1", [])
    assert _checked_out(pg) == 0  # the dead one was not kept
    assert (await pg.fetch_alone("SELECT 1", []))[0][0] == 1  # a new one from the pool


async def test_a_small_pool_keeps_none_aside(pg: Database) -> None:
    small = Database(
        Settings(database_url=pg.settings.database_url, database_pool_size=2, database_pool_timeout_seconds=2)
    )
    try:
        await small.execute_alone("INSERT INTO kept (id) VALUES (7)", [])
        assert _checked_out(small) == 0  # both connections stay free for units of work
        async with small.engine.connect() as one, small.engine.connect() as two:
            assert (await one.exec_driver_sql("SELECT 1")).scalar() == (await two.exec_driver_sql("SELECT 1")).scalar()
    finally:
        await small.dispose()
