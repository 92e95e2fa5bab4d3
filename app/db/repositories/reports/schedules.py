"""Scheduled digests: a workspace's report schedules, and the worker's queue of those due
(cross-workspace)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, select, update

from app.db import tables
from app.db.repositories.base import RecordRepository, Row, datetime_key, text_key
from app.db.repositories.events.queue import CrossWorkspaceQueue

rs = tables.report_schedules

# Built once: the worker asks on every pass (statements built per call leave reference cycles).
_NEXT_DUE = select(func.min(rs.c.next_run_at)).where(rs.c.next_run_at.is_not(None))
_DUE = (
    select(rs)
    .where(rs.c.next_run_at <= bindparam("now"), rs.c.paused.is_(False), rs.c.archived_at.is_(None))
    .order_by(rs.c.next_run_at, rs.c.workspace_id, rs.c.id)
    .limit(bindparam("limit"))
)
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)


class ReportScheduleRepository(RecordRepository[Row]):
    table = rs
    sortable = {"created_at": datetime_key(rs.c.created_at), "name": text_key(rs.c.name)}

    async def set_next_run(self, schedule_id: UUID, at: datetime | None, *, version: int) -> bool:
        """The worker's bookkeeping, its next occurrence (no new version of the schedule), unless
        the schedule is no longer at `version` (changed since the worker read it): False then."""
        statement = (
            update(rs)
            .where(self.scope, rs.c.id == schedule_id, rs.c.version == version)
            .values(next_run_at=at)
            .returning(rs.c.id)
        )
        return (await self.uow.execute(statement)).first() is not None

    async def release(self, schedule_id: UUID, leased_until: datetime, now: datetime) -> None:
        """A worker's lease lifted: due `now` again, unless a change since moved `next_run_at` (or
        paused or archived the schedule)."""
        await self.uow.execute(
            update(rs)
            .where(self.scope, rs.c.id == schedule_id, rs.c.next_run_at == leased_until)
            .values(next_run_at=now)
        )


class ScheduleQueue(CrossWorkspaceQueue):
    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` live schedules whose next occurrence has come (every workspace), the
        earliest first, locked for this transaction on PostgreSQL (another worker skips them and
        takes the next ones)."""
        statement = _DUE_LOCKED if await self._postgres() else _DUE  # SQLite's writers are serialised
        rows = (await self.uow.execute(statement, {"now": now, "limit": limit})).mappings()
        return [dict(r) for r in rows]

    async def next_due(self) -> datetime | None:
        """The earliest next occurrence of any schedule (paused and archived ones have none)."""
        value: datetime | None = (await self.uow.execute(_NEXT_DUE)).scalar()
        return value

    async def postpone(self, workspace_id: UUID, schedule_id: UUID, until: datetime) -> None:
        """Look at a schedule again at `until`: a worker's lease while it prepares the digest, or
        its digest failed to be prepared (not at once again)."""
        await self.uow.execute(
            update(rs).where(rs.c.workspace_id == workspace_id, rs.c.id == schedule_id).values(next_run_at=until)
        )
