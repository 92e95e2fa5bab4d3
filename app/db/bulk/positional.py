"""Prebuilt reads that need not join the transaction, run straight on a pooled driver connection:
text statements with SQLAlchemy's `:name` parameters rewritten as asyncpg's `$n` (`fetch_read`),
and whole-row SELECTs compiled once for the dialect (`fetch_rows`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Date, Float, Integer, String, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable, Select
from sqlalchemy.types import JSON, TypeEngine

from app.db.types import UtcDateTime

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork

_POSITIONAL: dict[int, tuple[str, list[str]]] = {}
# A compiled SELECT by the statement's id: (the statement, kept so its id is never reused; its SQL and
# parameter names in order, or None when a column's result needs SQLAlchemy's processing).
_COMPILED: dict[int, tuple[Select[Any], tuple[str, list[str]] | None]] = {}


async def fetch_read(uow: UnitOfWork, statement: Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a prebuilt read that need not join the transaction: on PostgreSQL, while this
    unit of work has not started one, it runs in autocommit straight on a pooled driver
    connection (like write-behind flushes), so a use case that reads first and then only
    writes behind still makes no BEGIN/COMMIT round trips and pays no per-statement SQLAlchemy
    machinery. On SQLite, and inside a transaction, it runs in the transaction (SQLite's
    BEGIN IMMEDIATE serialises writers)."""
    if uow.started or uow.database.is_sqlite:
        return [tuple(row) for row in (await uow.execute(statement, params)).all()]
    sql, names = positional(statement)
    uow.ran_outside()
    records = await uow.database.fetch_alone(sql, [params[name] for name in names])
    return [tuple(record) for record in records]


async def fetch_rows(uow: UnitOfWork, statement: Select[Any], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows (as dicts by column name) of a prebuilt SELECT that need not join the transaction.
    On PostgreSQL, while this unit of work has not started a transaction, it runs straight on a
    pooled driver connection, compiled once: a page of reads pays neither SQLAlchemy's
    per-statement machinery nor its per-row processing, which for the column types below returns
    the driver's values unchanged (UUIDs, text, numbers, booleans, dates, JSON decoded by the
    connection's codec, UTC timestamps). A statement with a column of any other type, SQLite, and
    a unit of work inside a transaction go through SQLAlchemy. Parameters go to the driver as they
    are: pass UUIDs, aware datetimes, text and numbers."""
    if not uow.started and not uow.database.is_sqlite:
        compiled = _compiled(statement, uow.database.engine.dialect)
        if compiled is not None:
            sql, names = compiled
            uow.ran_outside()
            records = await uow.database.fetch_alone(sql, [params[name] for name in names])
            return [dict(record) for record in records]
    return [dict(row) for row in (await uow.execute(statement, params)).mappings()]


# Column types whose values SQLAlchemy returns as asyncpg gives them (JSON: the dialect sets the
# connection's codec; UtcDateTime: asyncpg's timestamps are UTC already; Float: double precision).
_DRIVER_EXACT = (Uuid, String, Boolean, Integer, Date, JSON)


def _driver_exact(column_type: TypeEngine[Any], dialect: Dialect) -> bool:
    if isinstance(column_type, UtcDateTime):
        return True
    implementation = column_type.dialect_impl(dialect)
    if isinstance(implementation, Float):
        return not implementation.asdecimal and type(column_type) is Float
    return isinstance(implementation, _DRIVER_EXACT) and implementation.result_processor(dialect, None) is None


def _compiled(statement: Select[Any], dialect: Dialect) -> tuple[str, list[str]] | None:
    key = id(statement)
    if key not in _COMPILED:
        exact = all(_driver_exact(column.type, dialect) for column in statement.selected_columns)
        compiled = statement.compile(dialect=dialect)
        names = list(compiled.positiontup or [])
        _COMPILED[key] = (statement, (compiled.string, names) if exact else None)
    return _COMPILED[key][1]


def positional(statement: Executable) -> tuple[str, list[str]]:
    """The statement's SQL with `:name` parameters as asyncpg's `$n` (built once per statement)."""
    key = id(statement)
    if key not in _POSITIONAL:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        clause = getattr(statement, "element", statement)  # a TextualSelect wraps its TextClause
        _POSITIONAL[key] = (re.sub(r"(?<!:):(\w+)", number, clause.text), names)
    return _POSITIONAL[key]
