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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import JSON, Table
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


def parameter_count(groups_: Sequence[Group]) -> int:
    return sum(len(g.columns) * len(g.rows) for g in groups_)


def statement(dialect: Dialect, groups_: Sequence[Group], *, notify: str | None = None) -> tuple[str, list[Any]]:
    """The one statement writing every group (and sending NOTIFY `notify` at commit); the groups
    must fit in one (parameter_count ≤ MAX_PARAMETERS)."""
    built = _statement(dialect, tuple((g.table, g.columns, len(g.rows)) for g in groups_), notify)
    return built.sql, parameters(groups_, built.processors)


# -- COPY --------------------------------------------------------------------------------------------
# Batches of hundreds of rows (order sync) go in with PostgreSQL's COPY on the transaction's own
# driver connection: no SQL to parse or plan, values in binary, one round trip per table.
COPY_FROM_ROWS = 50  # below this a multi-row INSERT is as cheap


@lru_cache(maxsize=256)
def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> Processors:
    bound = ((i, table.c[c].type._cached_bind_processor(dialect)) for i, c in enumerate(columns))
    return tuple((i, p) for i, p in bound if p is not None)


def records(
    dialect: Dialect, table: Table, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """(columns, records) of rows sharing one column list, values as the driver takes them
    (each column type's bind processor applied, e.g. JSON serialised). `shared`: columns with the
    same value in every record, appended to each."""
    columns = _columns(table, tuple(rows[0]))
    processors = _processors(dialect, table, columns)
    pick = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    tail: tuple[Any, ...] = ()
    if shared:
        names = _columns(table, tuple(shared))
        shared_processors = dict(_processors(dialect, table, names))
        tail = tuple(
            shared_processors[i](shared[name]) if i in shared_processors else shared[name]
            for i, name in enumerate(names)
        )
        columns = (*columns, *names)
    if not processors:
        return columns, [pick(row) + tail for row in rows]
    out: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(pick(row))
        for position, process in processors:
            values[position] = process(values[position])
        out.append((*values, *tail))
    return columns, out


# -- UPDATE from arrays --------------------------------------------------------------------------------
# Many rows updated with different values: on PostgreSQL one statement joining the table to the
# values unnested from one array parameter per column (an executemany is a round trip of work per
# row on the server and a pass through SQLAlchemy per row on the client).


@lru_cache(maxsize=128)
def update_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], bump_version: bool) -> str:
    """`UPDATE table SET … FROM unnest($2::uuid[], $3::…[], …) WHERE workspace_id = $1 AND id = …`;
    parameters: the workspace id, then one array per column of `("id", *columns)`."""
    quote = dialect.identifier_preparer.quote
    names = ("id", *columns)
    arrays = ", ".join(f"${i + 2}::{table.c[name].type.compile(dialect=dialect)}[]" for i, name in enumerate(names))
    assignments = [f"{quote(c)} = v.{quote(c)}" for c in columns]
    if bump_version:
        assignments.append("version = t.version + 1")
    return (
        f"UPDATE {dialect.identifier_preparer.format_table(table)} AS t SET {', '.join(assignments)} "
        f"FROM unnest({arrays}) AS v({', '.join(quote(n) for n in names)}) "
        "WHERE t.workspace_id = $1 AND t.id = v.id"
    )


def update_arrays(dialect: Dialect, table: Table, columns: tuple[str, ...], rows: Rows) -> list[list[Any]]:
    """One list per column of `("id", *columns)`, values as the driver takes them."""
    names = ("id", *columns)
    processors = dict(_processors(dialect, table, names))
    out: list[list[Any]] = []
    for position, name in enumerate(names):
        values = [row[name] for row in rows]
        process = processors.get(position)
        if process is not None:
            values = [process(v) for v in values]
        out.append(values)
    return out


# -- UPDATE from one JSON document ---------------------------------------------------------------------
# The same update with the rows sent as one JSON array (`json_to_recordset`): orjson writes a
# batch's rows in C, where array parameters encode every value in Python (the driver checks each
# element against collections.abc): a batch's contacts' facts cost the API less CPU as JSON than
# as arrays, and the server the same time (benchmarks/README.md).


@lru_cache(maxsize=128)
def update_json_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], bump_version: bool) -> str:
    """`UPDATE table SET … FROM json_to_recordset($2) AS v(id uuid, …) WHERE workspace_id = $1 AND
    id = v.id`; parameters: the workspace id and the rows as a JSON array of objects. A JSON
    column given None stores JSON null, as SQLAlchemy's JSON type does."""
    quote = dialect.identifier_preparer.quote
    names = ("id", *columns)
    fields = ", ".join(f"{quote(n)} {table.c[n].type.compile(dialect=dialect)}" for n in names)
    assignments = []
    for c in columns:
        if isinstance(table.c[c].type, JSON):
            assignments.append(f"{quote(c)} = coalesce(v.{quote(c)}, 'null')")
        else:
            assignments.append(f"{quote(c)} = v.{quote(c)}")
    if bump_version:
        assignments.append("version = t.version + 1")
    return (
        f"UPDATE {dialect.identifier_preparer.format_table(table)} AS t SET {', '.join(assignments)} "
        f"FROM json_to_recordset($2::json) AS v({fields}) WHERE t.workspace_id = $1 AND t.id = v.id"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, (UUID, Decimal)):  # the driver's own UUID type; exact decimals as text
        return str(value)
    raise TypeError(type(value).__name__)


def update_json(rows: Rows) -> str | None:
    """The rows as one JSON array (extra keys are ignored by the statement); None when a value has
    no exact JSON form here (an integer past 64 bits, an unknown type): the arrays then."""
    try:
        return orjson.dumps(rows, default=_json_default).decode()
    except TypeError:
        return None
