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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

# PostgreSQL's wire protocol allows 32,767 parameters in one statement; stay below it.
MAX_PARAMETERS = 30_000

Rows = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Group:
    """Rows of one table sharing one column list."""

    table: Table
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


def groups(writes: Sequence[tuple[Table, Rows]]) -> list[Group]:
    """Queued rows grouped by table and column list, in the order they were queued."""
    out: list[Group] = []
    for table, rows in writes:
        for row in rows:
            columns = _columns(table, tuple(row))
            if out and out[-1].table is table and out[-1].columns == columns:
                out[-1].rows.append(row)
            else:
                out.append(Group(table, columns, [row]))
    return out


@lru_cache(maxsize=1024)
def _columns(table: Table, keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if c.name in keys)


Processors = tuple[tuple[int, Callable[[Any], Any]], ...]  # (position in the row, bind processor)


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
    processors: list[Processors] = []
    n = 0
    for table, columns, count in shape:
        values = []
        for _ in range(count):
            values.append("(" + ", ".join(f"${i}" for i in range(n + 1, n + len(columns) + 1)) + ")")
            n += len(columns)
        names = ", ".join(preparer.quote(c) for c in columns)
        parts.append(f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES {', '.join(values)}")
        bound = ((i, table.c[c].type._cached_bind_processor(dialect)) for i, c in enumerate(columns))
        processors.append(tuple((i, p) for i, p in bound if p is not None))
    if notify is not None:  # delivered at commit, like the rows: never for a rolled-back write
        parts.append(f"SELECT pg_notify('{notify}', '')")
    *ctes, last = parts
    sql = last
    if ctes:
        sql = "WITH " + ", ".join(f"w{i} AS ({part})" for i, part in enumerate(ctes)) + " " + last
    return Statement(sql, tuple(processors))


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


def single_statement(
    dialect: Dialect, groups_: Sequence[Group], *, notify: str | None = None
) -> tuple[str, list[Any]] | None:
    """The one statement writing every group (and sending NOTIFY `notify` at commit), or None
    when it would take too many parameters."""
    if sum(len(g.columns) * len(g.rows) for g in groups_) > MAX_PARAMETERS:
        return None
    built = _statement(dialect, tuple((g.table, g.columns, len(g.rows)) for g in groups_), notify)
    return built.sql, parameters(groups_, built.processors)
