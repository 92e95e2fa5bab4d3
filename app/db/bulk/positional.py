"""Prebuilt reads that need not join the transaction, run straight on a pooled driver connection:
their SQL with SQLAlchemy's `:name` parameters rewritten as asyncpg's `$n`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy.sql import Executable

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork

_POSITIONAL: dict[int, tuple[str, list[str]]] = {}


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
    records = await uow.database.fetch_alone(sql, [params[name] for name in names])
    return [tuple(record) for record in records]


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
