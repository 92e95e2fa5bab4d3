"""Readiness: the database answers and its schema is at the migration head this code expects."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.migrate import DatabaseUnavailable, current_revision
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow


@dataclass(frozen=True)
class Readiness:
    ready: bool
    revision: str | None
    expected: str
    reason: str | None = None
    backlog: int = 0
    oldest_age_seconds: float | None = None


async def readiness(database: Database, expected: str, *, backlog: bool = True) -> Readiness:
    """Ready or not, and why not; with `backlog`, the outbox backlog too (one more read, for the
    details only an admin key is shown)."""
    try:
        revision = await current_revision(database)
    except DatabaseUnavailable as exc:
        return Readiness(False, None, expected, str(exc))
    if revision != expected:
        return Readiness(False, revision, expected, f"database at migration {revision}, expected {expected}")
    if not backlog:
        return Readiness(True, revision, expected)
    async with UnitOfWork(database, write=False) as uow:
        pending, oldest = await uow.system().backlog()
    age = (utcnow() - oldest).total_seconds() if oldest is not None else None
    return Readiness(True, revision, expected, backlog=pending, oldest_age_seconds=age)
