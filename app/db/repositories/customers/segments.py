"""Saved customer segments of one workspace, and who is in each as last evaluated."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select, text

from app.db import tables
from app.db.repositories.base import RecordRepository, datetime_key, dialect_insert
from app.db.repositories.events.queue import CrossWorkspaceQueue

sm = tables.segment_members
se = tables.segment_evaluations
sg = tables.segments


class SegmentRepository(RecordRepository):
    table = sg
    sortable = {"created_at": datetime_key(sg.c.created_at)}

    async def live(self) -> list[dict[str, Any]]:
        statement = select(sg).where(self.scope, sg.c.archived_at.is_(None)).order_by(sg.c.id)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def members(self, segment_id: UUID) -> set[UUID]:
        statement = select(sm.c.contact_id).where(sm.c.workspace_id == self.workspace_id, sm.c.segment_id == segment_id)
        return set((await self.uow.execute(statement)).scalars())

    async def evaluated_at(self, segment_id: UUID) -> datetime | None:
        statement = select(se.c.evaluated_at).where(
            se.c.workspace_id == self.workspace_id, se.c.segment_id == segment_id
        )
        value: datetime | None = (await self.uow.execute(statement)).scalar()
        return value

    async def enter(self, segment_id: UUID, contact_ids: Iterable[UUID], at: datetime) -> None:
        rows = [{"workspace_id": self.workspace_id, "segment_id": segment_id, "contact_id": c, "entered_at": at}
                for c in contact_ids]  # fmt: skip
        if rows:
            await self.uow.execute(insert(sm), rows)

    async def leave(self, segment_id: UUID, contact_ids: Iterable[UUID]) -> None:
        ids = list(contact_ids)
        for start in range(0, len(ids), 500):
            await self.uow.execute(
                delete(sm).where(
                    sm.c.workspace_id == self.workspace_id,
                    sm.c.segment_id == segment_id,
                    sm.c.contact_id.in_(ids[start : start + 500]),
                )
            )

    async def evaluated(self, segment_id: UUID, at: datetime, members: int) -> None:
        dialect = str((await self.uow.connection()).dialect.name)
        statement = dialect_insert(dialect)(se).values(
            workspace_id=self.workspace_id, segment_id=segment_id, evaluated_at=at, members=members
        )
        statement = statement.on_conflict_do_update(
            index_elements=[se.c.workspace_id, se.c.segment_id], set_={"evaluated_at": at, "members": members}
        )
        await self.uow.execute(statement)


class SegmentQueue(CrossWorkspaceQueue):
    """The worker's view across workspaces: which have live segments to evaluate."""

    async def claim(self, workspace_id: UUID) -> bool:
        """Whether this worker evaluates the workspace's segments now (PostgreSQL: a transaction
        advisory lock, so two workers never evaluate one workspace at once; SQLite: writers are
        serialised already)."""
        if not await self._postgres():
            return True
        lock = text("SELECT pg_try_advisory_xact_lock(hashtext('crm.segments:' || :workspace))")
        return bool((await self.uow.execute(lock, {"workspace": str(workspace_id)})).scalar())

    async def workspaces(self) -> list[UUID]:
        statement = select(sg.c.workspace_id).where(sg.c.archived_at.is_(None)).distinct()
        return list((await self.uow.execute(statement)).scalars())
