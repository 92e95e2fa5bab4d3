"""One transaction per use case. Repositories execute statements and never commit; whoever runs
the use case (the HTTP route wrapper or the worker) commits once, before a response is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy import Table, bindparam, text
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from app.db import bulk, tables
from app.db.repositories.events.outbox import OutboxRepository
from app.db.repositories.system import SystemRepository
from app.db.session import Database
from app.db.wakeups import EVENTS, LOCAL_WAKERS, OUTBOX_CHANNEL, notify_due

_POSITIONAL: dict[int, tuple[str, list[str]]] = {}


def _positional(statement: Executable) -> tuple[str, list[str]]:
    """The statement's SQL with `:name` parameters as asyncpg's `$n` (built once per statement)."""
    key = id(statement)
    if key not in _POSITIONAL:
        import re

        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        clause = getattr(statement, "element", statement)  # a TextualSelect wraps its TextClause
        _POSITIONAL[key] = (re.sub(r"(?<!:):(\w+)", number, clause.text), names)
    return _POSITIONAL[key]


class UnitOfWork:
    def __init__(self, database: Database, *, write: bool = True) -> None:
        self.database = database
        self.write = write
        self._conn: AsyncConnection | None = None
        # Rows queued by the use case (write-behind) and its events, written just before the commit:
        # one statement on PostgreSQL (see app/db/bulk.py).
        self._deferred: list[tuple[Table, Sequence[dict[str, Any]]]] = []
        self._events: list[dict[str, Any]] = []
        self._wakes: set[str] = set()

    def wake(self, kind: str) -> None:
        """This unit of work made work of `kind` due for the worker: wake it after commit."""
        self._wakes.add(kind)

    def add_event(self, row: dict[str, Any]) -> None:
        self._events.append(row)

    def defer_insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert these rows at commit. The use case must not read them back before then."""
        if rows:
            self._deferred.append((table, rows))

    async def connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self.database.connect(write=self.write)
        return self._conn

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        conn = await self.connection()
        return await conn.execute(statement, params)

    async def plan_each_statement(self) -> None:
        """Batch use cases on PostgreSQL: plan every statement for the table sizes of now. A
        prepared statement's cached generic plan is made once, from the estimates of the time:
        made while a fresh workspace's tables were small (and not yet analysed) it keeps scanning
        them as they grow (the order facts query grew many times slower over a backfill). Planning
        each statement costs little against that: a few statements per batch."""
        if not self.database.is_sqlite:
            await self.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    async def insert_rows(
        self, table: Table, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None
    ) -> None:
        """Insert rows (all with the same keys) now: PostgreSQL's COPY inside this transaction for
        a batch, an executemany INSERT otherwise. `shared`: columns with one value for every row
        (a repository's workspace id), added without copying each row."""
        if not rows:
            return
        if self.database.is_sqlite or len(rows) < bulk.COPY_FROM_ROWS:
            await self.execute(table.insert(), [{**r, **shared} for r in rows] if shared else list(rows))
            return
        conn = await self.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        if not raw.is_in_transaction():  # COPY must join the unit of work's transaction
            await self.execute(text("SELECT 1"))
        columns, records = bulk.records(self.database.engine.dialect, table, rows, shared)
        await raw.copy_records_to_table(table.name, records=records, columns=columns)

    async def update_rows(self, table: Table, rows: Sequence[dict[str, Any]], *, bump_version: bool) -> None:
        """Update rows of one workspace by `id` (each row: `workspace_id`, `id` and the same other
        columns) in one statement on PostgreSQL; an executemany UPDATE on SQLite."""
        if not rows:
            return
        columns = tuple(c for c in rows[0] if c not in ("id", "workspace_id"))
        if self.database.is_sqlite:
            values = {c: bindparam(c) for c in columns}
            if bump_version:
                values["version"] = table.c.version + 1
            statement = (
                table.update()
                .where(table.c.workspace_id == bindparam("_ws"), table.c.id == bindparam("_id"))
                .values(values)
            )
            params = [{"_ws": r["workspace_id"], "_id": r["id"], **{c: r[c] for c in columns}} for r in rows]
            await self.execute(statement, params)
            return
        dialect = self.database.engine.dialect
        workspace = table.c.workspace_id.type._cached_bind_processor(dialect)
        workspace_id = rows[0]["workspace_id"]
        workspace_id = workspace(workspace_id) if workspace else workspace_id
        conn = await self.connection()
        document = bulk.update_json(rows)
        if document is not None:
            await conn.exec_driver_sql(
                bulk.update_json_sql(dialect, table, columns, bump_version), (workspace_id, document)
            )
            return
        arrays = bulk.update_arrays(dialect, table, columns, rows)
        await conn.exec_driver_sql(bulk.update_sql(dialect, table, columns, bump_version), (workspace_id, *arrays))

    async def fetch_read(self, statement: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of a prebuilt read that need not join the transaction: on PostgreSQL, while this
        unit of work has not started one, it runs in autocommit straight on a pooled driver
        connection (like write-behind flushes), so a use case that reads first and then only
        writes behind still makes no BEGIN/COMMIT round trips and pays no per-statement SQLAlchemy
        machinery. On SQLite, and inside a transaction, it runs in the transaction (SQLite's
        BEGIN IMMEDIATE serialises writers)."""
        if self._conn is not None or self.database.is_sqlite:
            return [tuple(row) for row in (await self.execute(statement, params)).all()]
        sql, names = _positional(statement)
        records = await self.database.fetch_alone(sql, [params[name] for name in names])
        return [tuple(record) for record in records]

    async def commit(self) -> None:
        wakes = self._wakes | ({EVENTS} if self._events else set())
        await self._flush()
        if self._conn is not None:
            if not self.database.is_sqlite:
                for kind in sorted(self._wakes):
                    if notify_due(kind):
                        await self.execute(
                            text("SELECT pg_notify(:channel, :kind)"), {"channel": OUTBOX_CHANNEL, "kind": kind}
                        )
            await self._conn.commit()
            await self._close()
        self._wakes = set()
        for waker in tuple(LOCAL_WAKERS):
            for kind in wakes:
                waker(kind)

    async def flush(self) -> None:
        """Write the queued rows and events now (a use case that takes contended locks after)."""
        await self._flush()

    async def _flush(self) -> None:
        writes = self._deferred
        if self._events:  # each event and its place in the dispatcher's queue
            queue = [{"workspace_id": e["workspace_id"], "id": e["id"], "type": e["type"],
                      "resource_id": e["resource_id"]} for e in self._events]  # fmt: skip
            writes = [*writes, (tables.events, self._events), (tables.event_queue, queue)]
        self._deferred, self._events = [], []
        if not writes:
            return
        groups = bulk.groups(writes)
        if self.database.is_sqlite:
            for group in groups:
                await self.execute(group.table.insert(), group.rows)
            return
        notify = OUTBOX_CHANNEL if any(g.table is tables.events for g in groups) and notify_due() else None
        # A batch's rows go in by COPY: a VALUES list of hundreds of rows is a statement of its own
        # shape, parsed and planned by PostgreSQL every time (an order batch's events were a large
        # share of PostgreSQL's busy time in benchmarks/order_sync.py).
        batch = any(len(group.rows) >= bulk.COPY_FROM_ROWS for group in groups)
        if not batch and bulk.parameter_count(groups) <= bulk.MAX_PARAMETERS:
            if self._conn is None:
                # Nothing else ran in this unit of work: its one statement is atomic on its own, so
                # it runs in autocommit, without BEGIN and COMMIT round trips, and with whatever
                # other units are writing at the same moment (app/db/group_commit.py).
                await self.database.write_together(groups, notify)
                return
            sql, args = bulk.statement(self.database.engine.dialect, groups, notify=notify)
            await self._conn.exec_driver_sql(sql, tuple(args))
            return
        # a batch, or too many values for one statement: COPY, in the transaction
        for group in groups:
            await self.insert_rows(group.table, group.rows)
        if notify is not None:
            await self.execute(text("SELECT pg_notify(:channel, '')"), {"channel": notify})

    async def rollback(self) -> None:
        self._deferred, self._events, self._wakes = [], [], set()
        if self._conn is not None:
            try:
                await self._conn.rollback()
            finally:
                await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    # The named cross-workspace repositories (tenant ones are bound in app/db/repositories/registry.py).
    def system(self) -> SystemRepository:
        return SystemRepository(self)

    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self)
