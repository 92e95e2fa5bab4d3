"""Batches of rows inserted now, inside the unit of work's transaction.

Batches of hundreds of rows (order sync) go in with PostgreSQL's COPY on the transaction's own
driver connection: no SQL to parse or plan, values in binary, one round trip per table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Dialect

from app.db.bulk.columns import bind_processors, column_list

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork

COPY_FROM_ROWS = 50  # below this a multi-row INSERT is as cheap


async def insert_rows(
    uow: UnitOfWork, table: Table, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None
) -> None:
    """Insert rows (all with the same keys) now: PostgreSQL's COPY inside this transaction for
    a batch, an executemany INSERT otherwise. `shared`: columns with one value for every row
    (a repository's workspace id), added without copying each row."""
    if not rows:
        return
    database = uow.database
    if database.is_sqlite or len(rows) < COPY_FROM_ROWS:
        await uow.execute(table.insert(), [{**r, **shared} for r in rows] if shared else list(rows))
        return
    conn = await uow.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():  # COPY must join the unit of work's transaction
        await uow.execute(text("SELECT 1"))
    columns, values = records(database.engine.dialect, table, rows, shared)
    await raw.copy_records_to_table(table.name, records=values, columns=columns)


def records(
    dialect: Dialect, table: Table, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """(columns, records) of rows sharing one column list, values as the driver takes them
    (each column type's bind processor applied, e.g. JSON serialised). `shared`: columns with the
    same value in every record, appended to each."""
    columns = column_list(table, tuple(rows[0]))
    processors = bind_processors(dialect, table, columns)
    pick = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    tail: tuple[Any, ...] = ()
    if shared:
        names = column_list(table, tuple(shared))
        shared_processors = dict(bind_processors(dialect, table, names))
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
