"""The engine: one per process, SQLite in WAL mode with a busy timeout, PostgreSQL through asyncpg."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app import jsonio, logs
from app.config import Settings
from app.db.bulk.group_commit import GroupCommit
from app.db.bulk.write_behind import Group

MAX_CACHEABLE_STATEMENT = 256 * 1024


class Database:
    def __init__(self, settings: Settings, *, application_name: str = "crm", **engine_options: Any) -> None:
        """`application_name` (PostgreSQL) names this process's connections in pg_stat_activity:
        `crm-api`, `crm-worker`, so an operator can tell whose query is whose."""
        self.settings = settings
        self.is_sqlite = settings.is_sqlite
        if not self.is_sqlite:
            engine_options = {
                "pool_size": settings.database_pool_size,
                "max_overflow": 0,
                "pool_use_lifo": True,
                "pool_timeout": settings.database_pool_timeout_seconds,
                "connect_args": {
                    "server_settings": {"application_name": application_name},
                    # asyncpg prepares statements longer than 15 KiB anew on every execution; group
                    # commit's combined statements run to ~200 KiB (app/db/bulk/group_commit.py).
                    "max_cacheable_statement_size": MAX_CACHEABLE_STATEMENT,
                },
                **engine_options,
            }
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url,
            json_serializer=jsonio.dumps,
            json_deserializer=jsonio.loads,
            # A failed statement's error never carries its parameters (people's data) into a log.
            hide_parameters=True,
            **engine_options,
        )
        _time_statements(self.engine.sync_engine)  # the running request's db_ms (app/logs.py)
        if self.is_sqlite:
            _configure_sqlite(self.engine, settings.sqlite_busy_timeout_ms)
        # Pooled connections kept aside for self-contained statements (execute_alone, fetch_alone):
        # up to a quarter of the pool; the rest serves units of work.
        self._kept: list[Any] = []
        self._keep = 0 if self.is_sqlite else settings.database_pool_size // 4  # none in a pool under 4
        # Concurrent self-contained write-behind statements, written together (PostgreSQL).
        # As many in flight as connections kept aside (at least one).
        self._together = GroupCommit(self.engine.dialect, self.execute_alone, writers=self._keep)

    async def connect(self, *, write: bool) -> AsyncConnection:
        """A connection for one unit of work. Writes get a fresh transaction (on SQLite it takes the
        write lock at BEGIN IMMEDIATE, so it waits for other writers instead of failing half-way);
        reads on PostgreSQL run in autocommit."""
        if not write and not self.is_sqlite:
            # Reads run in autocommit: no BEGIN/ROLLBACK round trips around a request's SELECTs.
            return await self.connect_autocommit()
        conn = await self.engine.connect()
        try:
            if self.is_sqlite and write:
                await conn.execution_options(sqlite_begin="IMMEDIATE")
            await conn.begin()  # SQLite's BEGIN IMMEDIATE may fail: database is locked
        except BaseException:
            await conn.close()
            raise
        return conn

    async def connect_if_free(self, *, write: bool) -> AsyncConnection | None:
        """`connect`, only when the pool gives a connection without waiting (one idle, or room to
        open one); else None. For a second connection taken while a unit of work holds one: waiting
        for it there could deadlock the pool (every connection held by a request waiting for its
        second, until the pool timeout fails them all). The caller does the work in the unit it
        holds instead. Nothing suspends between the look and the pool's checkout (SQLAlchemy 2.1's
        async queue takes an idle connection without awaiting; a new one's slot is reserved before
        it is opened), so no other task takes the connection seen free. SQLite: never (its
        writers are serialised anyway)."""
        if self.is_sqlite:
            return None
        pool: Any = self.engine.sync_engine.pool
        if pool.checkedin() == 0 and pool.overflow() >= getattr(pool, "_max_overflow", 0):
            return None
        return await self.connect(write=write)

    async def connect_snapshot(self) -> AsyncConnection:
        """PostgreSQL: a read-only REPEATABLE READ transaction, one snapshot for all its reads
        (`UnitOfWork.snapshot`). Set per transaction: nothing to reset on the pooled connection."""
        conn = await self.engine.connect()
        try:
            await conn.begin()
            await conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def connect_autocommit(self) -> AsyncConnection:
        """PostgreSQL: a connection outside any transaction, for one self-contained statement."""
        conn = await self.engine.connect()
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn

    async def execute_alone(self, sql: str, args: Sequence[Any]) -> None:
        """PostgreSQL: one self-contained statement in autocommit, straight on the driver connection
        of a pooled connection (a single statement is atomic; SQLAlchemy's per-statement machinery
        costs more CPU than the round trip here). Used for write-behind flushes (app/db/bulk/write_behind.py)."""
        async with self._alone() as connection:
            await connection.execute(sql, *args)

    async def write_together(self, groups: Sequence[Group], notify: str | None) -> None:
        """PostgreSQL: write-behind rows that fit in one statement, in autocommit, combined with the
        rows of other units of work writing at the same moment (app/db/bulk/group_commit.py)."""
        await self._together.write(groups, notify)

    async def fetch_alone(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """PostgreSQL: one self-contained read in autocommit on a pooled driver connection."""
        async with self._alone() as connection:
            return list(await connection.fetch(sql, *args))

    @asynccontextmanager
    async def _alone(self) -> AsyncIterator[Any]:
        """The driver connection of a pooled connection for one self-contained statement: one kept
        aside by the last such statement when there is one (no trip through the pool's checkout and
        checkin, about a tenth of a form submission's CPU), else one from the pool. Kept aside
        afterwards only after a clean finish or a failed statement: a cancelled or broken one goes
        back to the pool (invalidated when broken)."""
        raw = self._kept.pop() if self._kept else await self.engine.raw_connection()  # most recent: warm
        reusable = False
        started = time.perf_counter()
        try:
            yield raw.driver_connection
            reusable = True
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
            raw.invalidate()  # the connection is unusable; the pool opens a new one
            raise
        except asyncpg.PostgresError:
            reusable = not raw.driver_connection.is_closed()  # the statement failed, not the connection
            raise
        finally:
            logs.add_db_time(time.perf_counter() - started)
            if reusable and len(self._kept) < self._keep:
                self._kept.append(raw)
            else:
                raw.close()

    async def dispose(self) -> None:
        kept, self._kept = self._kept, []
        for raw in kept:
            raw.close()
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN instead of the driver's own guesswork.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _time_statements(sync_engine: Any) -> None:
    """Sum each statement's time into the running request's `db_ms` (SQLAlchemy cursor events on
    the async engine's sync engine; they run in the awaiting task's context on both drivers)."""

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _before(conn: Any, *_: Any) -> None:
        if logs.tracing():
            conn.info["log_started"] = time.perf_counter()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _after(conn: Any, *_: Any) -> None:
        started = conn.info.pop("log_started", None)
        if started is not None:
            logs.add_db_time(time.perf_counter() - started)

    @event.listens_for(sync_engine, "handle_error")
    def _failed(context: Any) -> None:
        conn = context.connection
        started = conn.info.pop("log_started", None) if conn is not None else None
        if started is not None:
            logs.add_db_time(time.perf_counter() - started)
