"""Many rows of one workspace updated by id with different values, in one statement on PostgreSQL
(an executemany is a round trip of work per row on the server and a pass through SQLAlchemy per
row on the client).

The rows go as one JSON document (`json_to_recordset`): orjson writes a batch's rows in C, where
array parameters encode every value in Python (the driver checks each element against
collections.abc): a batch's contacts' facts cost the API less CPU as JSON than as arrays, and
the server the same time (benchmarks/README.md). Rows a JSON document cannot carry exactly go as one array parameter
per column (`unnest`)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson
from sqlalchemy import JSON, Table, bindparam
from sqlalchemy.engine import Dialect

from app.db.bulk.columns import bind_processors

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork

Rows = Sequence[dict[str, Any]]


async def update_rows(uow: UnitOfWork, table: Table, rows: Rows, *, bump_version: bool) -> None:
    """Update rows of one workspace by `id` (each row: `workspace_id`, `id` and the same other
    columns) in one statement on PostgreSQL; an executemany UPDATE on SQLite."""
    if not rows:
        return
    columns = tuple(c for c in rows[0] if c not in ("id", "workspace_id"))
    if uow.database.is_sqlite:
        values = {c: bindparam(c) for c in columns}
        if bump_version:
            values["version"] = table.c.version + 1
        statement = (
            table.update()
            .where(table.c.workspace_id == bindparam("_ws"), table.c.id == bindparam("_id"))
            .values(values)
        )
        params = [{"_ws": r["workspace_id"], "_id": r["id"], **{c: r[c] for c in columns}} for r in rows]
        await uow.execute(statement, params)
        return
    dialect = uow.database.engine.dialect
    workspace = table.c.workspace_id.type._cached_bind_processor(dialect)
    workspace_id = rows[0]["workspace_id"]
    workspace_id = workspace(workspace_id) if workspace else workspace_id
    conn = await uow.connection()
    document = update_json(rows)
    if document is not None:
        await conn.exec_driver_sql(update_json_sql(dialect, table, columns, bump_version), (workspace_id, document))
        return
    arrays = update_arrays(dialect, table, columns, rows)
    await conn.exec_driver_sql(update_sql(dialect, table, columns, bump_version), (workspace_id, *arrays))


async def update_rows_as_read(uow: UnitOfWork, table: Table, rows: Rows) -> int:
    """Update rows of one workspace by `id` where each still has the `version` it was read at (each
    row: `workspace_id`, `id`, `version` as read and the same other columns), each a new version,
    in one statement on PostgreSQL: how many were (fewer than given: another writer came first)."""
    if not rows:
        return 0
    columns = tuple(c for c in rows[0] if c not in ("id", "workspace_id", "version"))
    document = None if uow.database.is_sqlite else update_json(rows)
    if document is None:  # SQLite (its writers are serialised), or values JSON cannot carry exactly
        updated = 0
        for row in rows:
            statement = (
                table.update()
                .where(table.c.workspace_id == row["workspace_id"], table.c.id == row["id"],
                       table.c.version == row["version"])
                .values({**{c: row[c] for c in columns}, "version": table.c.version + 1})
            )  # fmt: skip
            updated += (await uow.execute(statement)).rowcount
        return updated
    dialect = uow.database.engine.dialect
    workspace = table.c.workspace_id.type._cached_bind_processor(dialect)
    workspace_id = rows[0]["workspace_id"]
    workspace_id = workspace(workspace_id) if workspace else workspace_id
    conn = await uow.connection()
    sql = update_json_sql(dialect, table, columns, True, match_version=True)
    result = await conn.exec_driver_sql(sql, (workspace_id, document))
    return int(result.rowcount)


# -- from one JSON document ----------------------------------------------------------------------------


@lru_cache(maxsize=128)
def update_json_sql(
    dialect: Dialect, table: Table, columns: tuple[str, ...], bump_version: bool, *, match_version: bool = False
) -> str:
    """`UPDATE table SET … FROM json_to_recordset($2) AS v(id uuid, …) WHERE workspace_id = $1 AND
    id = v.id` (`match_version`: and `version = v.version`); parameters: the workspace id and the
    rows as a JSON array of objects. A JSON column given None stores JSON null, as SQLAlchemy's
    JSON type does (SQL NULL for one made with `none_as_null`)."""
    quote = dialect.identifier_preparer.quote
    names = ("id", "version", *columns) if match_version else ("id", *columns)
    fields = ", ".join(f"{quote(n)} {table.c[n].type.compile(dialect=dialect)}" for n in names)
    assignments = []
    for c in columns:
        column_type = table.c[c].type
        if isinstance(column_type, JSON) and not column_type.none_as_null:
            assignments.append(f"{quote(c)} = coalesce(v.{quote(c)}, 'null')")
        else:
            assignments.append(f"{quote(c)} = v.{quote(c)}")
    if bump_version:
        assignments.append("version = t.version + 1")
    condition = " AND t.version = v.version" if match_version else ""
    return (
        f"UPDATE {dialect.identifier_preparer.format_table(table)} AS t SET {', '.join(assignments)} "
        f"FROM json_to_recordset($2::json) AS v({fields}) WHERE t.workspace_id = $1 AND t.id = v.id{condition}"
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


# -- from arrays ---------------------------------------------------------------------------------------
# One statement joining the table to the values unnested from one array parameter per column.


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
    processors = dict(bind_processors(dialect, table, names))
    out: list[list[Any]] = []
    for position, name in enumerate(names):
        values = [row[name] for row in rows]
        process = processors.get(position)
        if process is not None:
            values = [process(v) for v in values]
        out.append(values)
    return out
