"""One transaction per use case. Repositories execute statements and never commit; whoever runs
the use case (the HTTP route wrapper or the worker) commits once, before a response is sent.

Besides the transaction, a unit of work holds what the use case queued for its commit: rows
written behind (`defer_insert`), events (`add_event`) and the kinds of work it made due for the
worker (`wake`). How rows reach the database is the writers' business (app/db/bulk/)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable, Select

from app import logs
from app.db.bulk import copy, json_update, positional, write_behind
from app.db.repositories.audit.queue import AuditQueue
from app.db.repositories.campaigns.queue import CampaignQueue
from app.db.repositories.customers.segments import SegmentQueue
from app.db.repositories.events.delivery_queue import DeliveryQueue
from app.db.repositories.events.event_queue import EventQueue
from app.db.repositories.events.job_queue import JobQueue
from app.db.repositories.events.timer_queue import TimerQueue
from app.db.repositories.journeys.queue import EnrolmentQueue
from app.db.repositories.outreach.message_queue import MessageQueue
from app.db.repositories.reports.schedules import ScheduleQueue
from app.db.repositories.system import SystemRepository
from app.db.session import Database
from app.db.wakeups import EVENTS, notify_with_commit, wake_local

log = logging.getLogger("app.db")


class UnitOfWork:
    def __init__(self, database: Database, *, write: bool = True) -> None:
        self.database = database
        self.write = write
        self._conn: AsyncConnection | None = None
        # Rows queued by the use case (write-behind) and its events, written just before the commit:
        # one statement on PostgreSQL (see app/db/bulk/write_behind.py).
        self._deferred: list[tuple[Table, Sequence[dict[str, Any]]]] = []
        self._events: list[dict[str, Any]] = []
        # The update events (those with `previous_attributes`) an early `flush` wrote: the audit
        # entry reads its changes from them at commit as from the ones still queued. Only these,
        # by reference, so a long unit of work that flushes often does not keep its creations.
        self._flushed_changes: list[dict[str, Any]] = []
        self._events_flushed = False  # events written before the commit (flush): the commit still wakes for them
        self._wakes: set[str] = set()
        self._written_event_ids: list[Any] = []  # inside a request: named by its log line once committed
        self._after_commit: list[Callable[[], None]] = []  # e.g. metrics that count what was stored
        self._analytic = False
        self._snapshot = False  # a read in one REPEATABLE READ transaction (`snapshot`)
        self._ran_alone = False  # a statement ran outside it, straight on a pooled connection (`fetch_rows`)
        # Whether an audit entry describing this unit of work's change is queued (app/services/audit):
        # a write request without one gets the route's own entry at commit.
        self.audited = False

    def wake(self, kind: str) -> None:
        """This unit of work made work of `kind` due for the worker: wake it after commit."""
        self._wakes.add(kind)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this unit of work's next commit succeeds (never after a rollback):
        for counting what was stored, not what was tried (a write retried after a lost update)."""
        self._after_commit.append(callback)

    def add_event(self, row: dict[str, Any]) -> None:
        self._events.append(row)

    @property
    def queued_events(self) -> Sequence[dict[str, Any]]:
        """The events queued for the commit and not written yet (what a write's audit entry reads
        its changes from), after the update events an early `flush` wrote in this unit of work."""
        return [*self._flushed_changes, *self._events] if self._flushed_changes else self._events

    def defer_insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert these rows at commit. The use case must not read them back before then."""
        if rows:
            self._deferred.append((table, rows))

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the use case that fails alone: on an exception its statements are rolled back
        (a savepoint) and so are the rows, events and wake-ups it queued for the commit. A `flush`
        inside it wrote, in the savepoint, what was queued before too: that is queued again."""
        # `flush` hands its lists to the writer and starts new ones: these keep what came before
        events, deferred, wakes, audited = self._events, self._deferred, set(self._wakes), self.audited
        marks = len(events), len(deferred), len(self._flushed_changes), len(self._after_commit)
        conn = await self.connection()
        try:
            async with conn.begin_nested():
                yield
        except BaseException:
            self._events, self._deferred, self._wakes = events[: marks[0]], deferred[: marks[1]], wakes
            del self._flushed_changes[marks[2] :]  # written in the savepoint: rolled back with it
            del self._after_commit[marks[3] :]  # what it would have counted is not stored
            self.audited = audited
            raise

    async def snapshot(self) -> None:
        """Make the reads that follow see one snapshot of the database: for a composite read (a
        row and its children, the customer 360) that another transaction may change between its
        statements. On PostgreSQL a read unit of work otherwise runs each statement in autocommit,
        each with a snapshot of its own (a row could show a step whose run its second statement
        does not find, or the reverse); here it opens a read-only REPEATABLE READ transaction.
        Call it before the first statement (after one it raises: the reads would not agree); a
        read that must write nothing, not even behind (no audit entry, no event). Nothing on
        SQLite (a read transaction there sees one snapshot from its first read) nor in a write
        unit of work, whose READ COMMITTED transaction still gives each statement a snapshot of
        its own: a use case shared by a read and a write (where it locks what must agree) may
        call it either way."""
        if self.database.is_sqlite or self.write:
            return
        if self._conn is not None or self._ran_alone:
            raise RuntimeError("snapshot() must come before the unit of work's first statement")
        self._conn = await self.database.connect_snapshot()
        self._snapshot = True

    @classmethod
    @contextlib.asynccontextmanager
    async def if_free(cls, database: Database, *, write: bool = True) -> AsyncIterator[UnitOfWork | None]:
        """A unit of work with its connection taken now, or None when the pool has none free
        (`Database.connect_if_free`): for a side transaction while another unit holds a connection.
        Rolled back on the way out unless committed."""
        conn = await database.connect_if_free(write=write)
        if conn is None:
            yield None
            return
        uow = cls(database, write=write)
        uow._conn = conn
        try:
            yield uow
        finally:
            await uow.rollback()

    def ran_outside(self) -> None:
        """A read of this unit of work ran straight on a pooled connection (app/db/bulk/positional.py):
        too late for `snapshot`."""
        self._ran_alone = True

    @property
    def started(self) -> bool:
        """Whether this unit of work holds a connection (and, when it writes, a transaction)."""
        return self._conn is not None

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

    async def analytic(self) -> None:
        """Reports on PostgreSQL: run this unit of work's aggregates without JIT compilation, whose
        compile time (0.1-0.25 s a statement) is more than it saves on the reports' second-long
        aggregates. A session setting (reads run in autocommit, where SET LOCAL does nothing),
        reset before the connection goes back to the pool. Once per unit of work; nothing on
        SQLite. (`work_mem` stays the server's: more of it made the planner give up the parallel
        hash join of the team report's assignments, slower on two cores.)"""
        if self._analytic or self.database.is_sqlite:
            return
        if self.write or self._snapshot:
            # in a transaction: SET LOCAL ends with it (a RESET after commit would be rolled back)
            await self.execute(text("SET LOCAL jit = off"))
            return
        self._analytic = True
        await self.execute(text("SET jit = off"))

    async def insert_rows(
        self, table: Table, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None
    ) -> None:
        """Insert rows (all with the same keys) now, in this transaction (app/db/bulk/copy.py)."""
        await copy.insert_rows(self, table, rows, shared)

    async def update_rows(self, table: Table, rows: Sequence[dict[str, Any]], *, bump_version: bool) -> None:
        """Update rows of one workspace by `id` in one statement (app/db/bulk/json_update.py)."""
        await json_update.update_rows(self, table, rows, bump_version=bump_version)

    async def update_rows_as_read(self, table: Table, rows: Sequence[dict[str, Any]]) -> int:
        """Update rows of one workspace by `id` where each still has the version it was read at, in
        one statement on PostgreSQL: how many were (app/db/bulk/json_update.py)."""
        return await json_update.update_rows_as_read(self, table, rows)

    async def fetch_read(self, statement: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of a prebuilt read that need not join the transaction (app/db/bulk/positional.py)."""
        return await positional.fetch_read(self, statement, params)

    async def fetch_rows(self, statement: Select[Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        """Whole rows of a prebuilt SELECT that need not join the transaction (app/db/bulk/positional.py)."""
        return await positional.fetch_rows(self, statement, params)

    async def commit(self) -> None:
        wakes = self._wakes | ({EVENTS} if self._events or self._events_flushed else set())
        await self.flush()
        if self._conn is not None:
            if not self.database.is_sqlite:
                await notify_with_commit(self, self._wakes)
            await self._conn.commit()
            await self._close()
        if self._written_event_ids:
            logs.note_events(self._written_event_ids)
            self._written_event_ids = []
        self._wakes, self._flushed_changes, self._events_flushed = set(), [], False
        wake_local(wakes)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # what is stored stays stored, and answered as such
                log.exception("after-commit callback failed")

    async def flush(self) -> None:
        """Write the queued rows and events now (a use case that takes contended locks after)."""
        deferred, events = self._deferred, self._events
        self._deferred, self._events = [], []
        await write_behind.flush(self, deferred, events)
        if events and logs.tracing():
            self._written_event_ids.extend(e["id"] for e in events)
        self._flushed_changes.extend(e for e in events if e.get("previous_attributes"))
        self._events_flushed = self._events_flushed or bool(events)  # the commit still wakes the dispatcher

    async def rollback(self) -> None:
        self._deferred, self._events, self._wakes, self._flushed_changes = [], [], set(), []
        self._events_flushed, self._written_event_ids, self._after_commit = False, [], []
        self.audited = False
        if self._conn is not None:
            try:
                await self._conn.rollback()
            finally:
                await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        self._snapshot = False
        if conn is None:
            return
        if self._analytic:  # the pooled connection goes back with the server's settings
            self._analytic = False
            try:
                await conn.execute(text("RESET jit"))
            except BaseException:
                await conn.invalidate()  # never pooled with the report's settings
                raise
        await conn.close()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    # The named cross-workspace repositories (tenant ones are bound in app/db/repositories/registry.py):
    # the system's few queries, and the worker's four queues.
    def system(self) -> SystemRepository:
        return SystemRepository(self)

    def event_queue(self) -> EventQueue:
        return EventQueue(self)

    def delivery_queue(self) -> DeliveryQueue:
        return DeliveryQueue(self)

    def timer_queue(self) -> TimerQueue:
        return TimerQueue(self)

    def job_queue(self) -> JobQueue:
        return JobQueue(self)

    def message_queue(self) -> MessageQueue:
        return MessageQueue(self)

    def enrolment_queue(self) -> EnrolmentQueue:
        return EnrolmentQueue(self)

    def campaign_queue(self) -> CampaignQueue:
        return CampaignQueue(self)

    def segment_queue(self) -> SegmentQueue:
        return SegmentQueue(self)

    def schedule_queue(self) -> ScheduleQueue:
        return ScheduleQueue(self)

    def audit_queue(self) -> AuditQueue:
        return AuditQueue(self)
