"""Planner statistics kept up with fast-growing tables (PostgreSQL).

PostgreSQL plans from table statistics, which autovacuum refreshes at most once per
`autovacuum_naptime` (a minute by default) and not at all where it is turned off. A table that grows
from nothing within that time (a new workspace's first minutes of form traffic, an order backfill)
keeps the plans made when it was empty: the worker's duplicate search, planned as a scan of the
workspace's leads by creation time, grew slower with every lead instead of staying cheap. So
every `WORKER_ANALYZE_SECONDS` the worker ANALYZEs the tables that were never analysed or have more
than doubled since (SystemRepository.stale_tables); a table whose statistics are current costs one
catalogue read."""

from __future__ import annotations

import logging

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork

log = logging.getLogger("app.worker.statistics")


async def refresh(database: Database) -> list[str]:
    """ANALYZE the tables whose statistics are stale; the names of those analysed."""
    if database.is_sqlite:
        return []
    async with UnitOfWork(database, write=True) as uow:
        system = uow.system()
        stale = await system.stale_tables()
        for table in stale:
            await system.analyze(table)
        await uow.commit()
    if stale:
        log.debug("analysed %s", ", ".join(stale))
    return stale
