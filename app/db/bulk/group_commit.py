"""Group commit for self-contained write-behind statements (PostgreSQL).

A unit of work that only queued inserts ends in one self-contained statement in autocommit (the
website-form capture path: a lead, its tags, the submission and two events; see app/db/bulk/write_behind.py).
Under load many of them wait at the same moment, and written one statement each, every one pays a
statement's fixed costs twice over: on the client (protocol, a round trip, an event-loop wake-up)
and on the server (snapshot, commit, WAL flush), with a dozen busy backends contending for the
same right-most index pages. Here they queue instead: at most `writers` statements are in flight,
and each takes everything queued (up to the parameter limit) and writes it as ONE statement, rows
of the same table and columns together.

Nothing about a unit's answer changes. Its caller waits for the statement that carries its rows,
so a submission is still answered only after it is committed. A statement is atomic, so when a
combined one fails (one unit's duplicate email, say) none of its rows were stored, and every unit
in it then runs its own statement alone, succeeding or failing exactly as it would have without
company. With nothing else waiting a unit is written at once, alone.

Measured in benchmarks/README.md (lead_capture.py)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from app.db.bulk import write_behind

Execute = Callable[[str, Sequence[Any]], Awaitable[None]]
_Unit = tuple[Sequence[write_behind.Group], str | None, "asyncio.Future[object]"]
_ALONE = object()  # a waiter's answer: the combined statement failed, write your rows on your own


class GroupCommit:
    def __init__(self, dialect: Dialect, execute: Execute, writers: int) -> None:
        self._dialect = dialect
        self._execute = execute
        self._writers = max(1, writers)
        self._running = 0
        self._queue: deque[_Unit] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, groups: Sequence[write_behind.Group], notify: str | None) -> None:
        """Write these groups (which fit in one statement), sending NOTIFY `notify` with them; returns
        once they are committed, raises what their own statement would have raised."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queue.append((groups, notify, future))
        if self._running < self._writers:
            self._running += 1
            task = asyncio.create_task(self._writer())
            self._tasks.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(self._tasks.discard)
        if await future is _ALONE:
            await self._write_alone(groups, notify)

    async def _writer(self) -> None:
        try:
            while self._queue:
                await self._write(self._take())
        finally:
            self._running -= 1

    def _take(self) -> list[_Unit]:
        """The queued units that fit in one statement, oldest first; units whose waiter was
        cancelled meanwhile are dropped (their rows were never sent)."""
        units: list[_Unit] = []
        budget = write_behind.MAX_PARAMETERS
        while self._queue:
            groups, notify, future = self._queue[0]
            cost = write_behind.parameter_count(groups)
            if units and cost > budget:
                break
            self._queue.popleft()
            if not future.done():
                units.append((groups, notify, future))
                budget -= cost
        return units

    async def _write(self, units: list[_Unit]) -> None:
        if not units:
            return
        if len(units) == 1:
            groups, notify, future = units[0]
            try:
                await self._write_alone(groups, notify)
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:
                _settle(future, exc)
            else:
                _settle(future, None)
            return
        notify = next((n for _, n, _ in units if n is not None), None)
        try:
            await self._write_alone(merge([groups for groups, _, _ in units]), notify)
        except asyncio.CancelledError:
            for _, _, future in units:
                future.cancel()
            raise
        except Exception:  # nothing of the statement was stored: each unit on its own
            for _, _, future in units:
                _settle(future, _ALONE)
        else:
            for _, _, future in units:
                _settle(future, None)

    async def _write_alone(self, groups: Sequence[write_behind.Group], notify: str | None) -> None:
        await self._execute(*write_behind.statement(self._dialect, groups, notify=notify))


def merge(units: Sequence[Sequence[write_behind.Group]]) -> list[write_behind.Group]:
    """Several units' groups as one list of groups: rows of the same table and columns together,
    tables in the order first seen (within one statement foreign keys are checked at its end)."""
    merged: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for groups in units:
        for group in groups:
            merged.setdefault((group.table, group.columns), []).extend(group.rows)
    return [write_behind.Group(table, columns, rows) for (table, columns), rows in merged.items()]


def _settle(future: asyncio.Future[object], outcome: object) -> None:
    if future.done():  # its waiter was cancelled
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
