"""Readiness: the database answers and its schema is at the migration head this code expects."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Readiness:
    ready: bool
    revision: str | None
    expected: str
    reason: str | None = None


async def readiness(database: Database, expected: str) -> Readiness:
    try:
        async with UnitOfWork(database, write=False) as uow:
            revision = await uow.system().migration_revision()
    except (SQLAlchemyError, OSError) as exc:
        return Readiness(False, None, expected, f"database unreachable: {type(exc).__name__}")
    if revision != expected:
        return Readiness(False, revision, expected, f"database at migration {revision}, expected {expected}")
    return Readiness(True, revision, expected)
