"""The worker's journey queues (cross-workspace): due enrolments, and each workspace's events not
yet read for journey triggers, exits and event waits."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, select, update

from app.db import tables
from app.db.repositories.base import dialect_insert
from app.db.repositories.events.queue import CrossWorkspaceQueue

j = tables.journeys
en = tables.enrolments
cur = tables.journey_cursors
ev = tables.events
st = tables.event_stamps
# Built once: every pass of the journeys loop asks, and a statement built per call leaves its IN
# list's bind parameter as a reference cycle for the rare cyclic collections (app/__main__.py `_tune_gc`).
_READING_WORKSPACES = select(j.c.workspace_id).where(j.c.status.in_(("active", "paused"))).distinct()


class EnrolmentQueue(CrossWorkspaceQueue):
    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` active enrolments due by `now` whose journey is active, the earliest due
        first, locked for this transaction (other workers skip them: they take the next ones)."""
        statement = (
            select(en)
            .join(j, and_(j.c.workspace_id == en.c.workspace_id, j.c.id == en.c.journey_id))
            .where(en.c.status == "active", en.c.due_at <= now, j.c.status == "active")
            .order_by(en.c.due_at, en.c.id)
            .limit(limit)
        )
        if await self._postgres():
            statement = statement.with_for_update(of=en, skip_locked=True)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def next_due(self) -> datetime | None:
        """The earliest due enrolment of an active journey, or schedule trigger occurrence."""
        statement = (
            select(en.c.due_at)
            .join(j, and_(j.c.workspace_id == en.c.workspace_id, j.c.id == en.c.journey_id))
            .where(en.c.status == "active", en.c.due_at.is_not(None), j.c.status == "active")
            .order_by(en.c.due_at)
            .limit(1)
        )
        value: datetime | None = (await self.uow.execute(statement)).scalar()
        schedule = select(func.min(j.c.next_run_at)).where(j.c.status == "active", j.c.trigger_type == "schedule")
        run: datetime | None = (await self.uow.execute(schedule)).scalar()
        return min((v for v in (value, run) if v is not None), default=None)

    async def due_schedules(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Active journeys with a schedule trigger whose occurrence has come, locked (another
        worker takes the others)."""
        statement = (
            select(j)
            .where(j.c.status == "active", j.c.trigger_type == "schedule", j.c.next_run_at <= now)
            .order_by(j.c.next_run_at)
            .limit(limit)
        )
        if await self._postgres():
            statement = statement.with_for_update(skip_locked=True)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    # -- events for triggers, exits and event waits ---------------------------------------------

    async def reading_workspaces(self) -> list[UUID]:
        """Workspaces whose events journeys read: those with a published journey not archived."""
        return list((await self.uow.execute(_READING_WORKSPACES)).scalars())

    async def start_cursor(self, workspace_id: UUID, at: datetime, *, move: bool) -> int:
        """The workspace's last stamped event sequence; its cursor starts there when it has none, or
        is moved there (`move`: no journey was reading, the events since it stopped are not read)."""
        last = select(func.coalesce(func.max(st.c.sequence), 0)).where(st.c.workspace_id == workspace_id)
        sequence = int((await self.uow.execute(last)).scalar() or 0)
        statement = dialect_insert(str((await self.uow.connection()).dialect.name))(cur)
        values = {"last_sequence": sequence, "updated_at": at}
        if move:
            statement = statement.on_conflict_do_update(index_elements=[cur.c.workspace_id], set_=values)
        else:
            statement = statement.on_conflict_do_nothing()
        await self.uow.execute(statement, {"workspace_id": workspace_id, **values})
        return sequence

    async def claim_cursor(self, workspace_id: UUID) -> int | None:
        """The workspace's cursor, locked (None: another worker reads its events now, or none yet)."""
        statement = select(cur.c.last_sequence).where(cur.c.workspace_id == workspace_id)
        if await self._postgres():
            statement = statement.with_for_update(skip_locked=True)
        value = (await self.uow.execute(statement)).scalar()
        return int(value) if value is not None else None

    async def events_after(self, workspace_id: UUID, sequence: int, limit: int) -> list[dict[str, Any]]:
        statement = (
            select(ev.c.id, ev.c.type, ev.c.resource_id, ev.c.data, ev.c.occurred_at, st.c.sequence)
            .join(st, and_(st.c.workspace_id == ev.c.workspace_id, st.c.event_id == ev.c.id))
            .where(st.c.workspace_id == workspace_id, st.c.sequence > sequence)
            .order_by(st.c.sequence)
            .limit(limit)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def advance_cursor(self, workspace_id: UUID, sequence: int, at: datetime) -> None:
        await self.uow.execute(
            update(cur).where(cur.c.workspace_id == workspace_id).values(last_sequence=sequence, updated_at=at)
        )
