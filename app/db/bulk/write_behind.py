"""Write-behind inserts: the rows a use case queued on its unit of work, written at commit in as
few statements as possible.

On PostgreSQL every queued row of every table goes into ONE statement (a chain of data-modifying
CTEs, `WITH a AS (INSERT …), b AS (INSERT …) INSERT …`). One statement is atomic on its own, so a
unit of work that only queued inserts needs no BEGIN/COMMIT round trips either: the website-form
capture path writes its lead, tags, submission and events in a single round trip. Foreign keys
between the rows hold, because PostgreSQL checks them at the end of the statement.

The SQL text depends only on the shape (tables, columns, row counts) and is built once per shape;
values go through each column type's own bind processor, exactly as SQLAlchemy would send them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Dialect

from app.db import tables
from app.db.bulk import copy
from app.db.bulk.columns import Processors, bind_processors, column_list
from app.db.wakeups import OUTBOX_CHANNEL, notify_due

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork

# PostgreSQL's wire protocol allows 32,767 parameters in one statement; stay below it.
MAX_PARAMETERS = 30_000

Rows = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Group:
    """Rows of one table sharing one column list."""

    table: Table
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


# Tables whose rows may be written anywhere in the statement: they refer to no queued row (only to
# the workspace) and no row refers to them. Their rows gather into one group wherever they were
# queued: a ref is queued beside each event of a batch, between other tables' rows, and thousands
# of one-row groups would be a statement (or a COPY) each.
GATHERED = frozenset({tables.personal_refs})


def groups(writes: Sequence[tuple[Table, Rows]]) -> list[Group]:
    """Queued rows grouped by table and column list, in the order they were queued (the rows of a
    `GATHERED` table in one group, where its first row was queued)."""
    out: list[Group] = []
    gathered: dict[tuple[Table, tuple[str, ...]], Group] = {}
    last: Group | None = None  # the last group of another table (a gathered one does not break its run)
    for table, rows in writes:
        for row in rows:
            columns = column_list(table, tuple(row))
            if table in GATHERED:
                group = gathered.get((table, columns))
                if group is None:
                    group = gathered[(table, columns)] = Group(table, columns, [])
                    out.append(group)
                group.rows.append(row)
            elif last is not None and last.table is table and last.columns == columns:
                last.rows.append(row)
            else:
                last = Group(table, columns, [row])
                out.append(last)
    return out


@dataclass(frozen=True)
class Statement:
    sql: str
    processors: tuple[Processors, ...]  # per group


@lru_cache(maxsize=512)
def _statement(
    dialect: Dialect, shape: tuple[tuple[Table, tuple[str, ...], int], ...], notify: str | None
) -> Statement:
    preparer = dialect.identifier_preparer
    parts: list[str] = []
    bound: list[Processors] = []
    n = 0
    for table, columns, count in shape:
        values = []
        for _ in range(count):
            values.append("(" + ", ".join(f"${i}" for i in range(n + 1, n + len(columns) + 1)) + ")")
            n += len(columns)
        names = ", ".join(preparer.quote(c) for c in columns)
        parts.append(f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES {', '.join(values)}")
        bound.append(bind_processors(dialect, table, columns))
    if notify is not None:  # delivered at commit, like the rows: never for a rolled-back write
        parts.append(f"SELECT pg_notify('{notify}', '')")
    *ctes, last = parts
    sql = last
    if ctes:
        sql = "WITH " + ", ".join(f"w{i} AS ({part})" for i, part in enumerate(ctes)) + " " + last
    return Statement(sql, tuple(bound))


def parameters(groups_: Sequence[Group], processors: Sequence[Processors]) -> list[Any]:
    args: list[Any] = []
    for group, group_processors in zip(groups_, processors, strict=True):
        columns = group.columns
        for row in group.rows:
            values = [row[c] for c in columns]
            # None too: SQLAlchemy's JSON stores None as JSON null, for one
            for position, process in group_processors:
                values[position] = process(values[position])
            args.extend(values)
    return args


def parameter_count(groups_: Sequence[Group]) -> int:
    return sum(len(g.columns) * len(g.rows) for g in groups_)


def statement(dialect: Dialect, groups_: Sequence[Group], *, notify: str | None = None) -> tuple[str, list[Any]]:
    """The one statement writing every group (and sending NOTIFY `notify` at commit); the groups
    must fit in one (parameter_count ≤ MAX_PARAMETERS)."""
    built = _statement(dialect, tuple((g.table, g.columns, len(g.rows)) for g in groups_), notify)
    return built.sql, parameters(groups_, built.processors)


async def flush(uow: UnitOfWork, deferred: Sequence[tuple[Table, Rows]], events: list[dict[str, Any]]) -> None:
    """Write the rows the unit of work queued (`defer_insert`) and its events (`add_event`): on
    PostgreSQL in one statement when they fit, else by COPY in its transaction; on SQLite an
    INSERT per group, in the transaction."""
    writes = deferred
    if events:  # each event and its place in the dispatcher's queue
        queue = [{"workspace_id": e["workspace_id"], "id": e["id"], "type": e["type"],
                  "resource_id": e["resource_id"]} for e in events]  # fmt: skip
        writes = [*writes, (tables.events, events), (tables.event_queue, queue)]
    if not writes:
        return
    groups_ = groups(writes)
    if uow.database.is_sqlite:
        for group in groups_:
            await uow.execute(group.table.insert(), group.rows)
        return
    notify = OUTBOX_CHANNEL if any(g.table is tables.events for g in groups_) and notify_due() else None
    # A batch's rows go in by COPY: a VALUES list of hundreds of rows is a statement of its own
    # shape, parsed and planned by PostgreSQL every time (an order batch's events were a large
    # share of PostgreSQL's busy time in benchmarks/order_sync.py).
    batch = any(len(group.rows) >= copy.COPY_FROM_ROWS for group in groups_)
    if not batch and parameter_count(groups_) <= MAX_PARAMETERS:
        if not uow.started:
            # Nothing else ran in this unit of work: its one statement is atomic on its own, so it
            # runs in autocommit, without BEGIN and COMMIT round trips, and with whatever other
            # units are writing at the same moment (app/db/bulk/group_commit.py).
            await uow.database.write_together(groups_, notify)
            return
        sql, args = statement(uow.database.engine.dialect, groups_, notify=notify)
        await (await uow.connection()).exec_driver_sql(sql, tuple(args))
        return
    # a batch, or too many values for one statement: COPY, in the transaction
    for group in groups_:
        await copy.insert_rows(uow, group.table, group.rows)
    if notify is not None:
        await uow.execute(text("SELECT pg_notify(:channel, '')"), {"channel": notify})
