"""The likely duplicates found among new leads, and the automatic merges kept to be undone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key, where_equal

dc, lm = tables.duplicate_candidates, tables.lead_merges
CANDIDATE_SORT = {"found_at": datetime_key(dc.c.found_at)}


class DuplicateCandidateRepository(TenantRepository):
    """The likely duplicates the worker found for new leads."""

    table = dc

    async def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self.uow.execute(self.table.insert(), [{"workspace_id": self.workspace_id, **row} for row in rows])

    async def list(self, *, sort: Any, cursor: str | None, limit: int, lead_id: UUID | None = None) -> Page:
        statement = where_equal(select(dc).where(self.scope), {dc.c.lead_id: lead_id})
        return await self._page(statement, sortable=CANDIDATE_SORT, sort=sort, cursor=cursor, limit=limit)


class LeadMergeRepository(TenantRepository):
    """Automatic merges, kept so they can be undone (POST /v1/leads/{id}/unmerge)."""

    table = lm

    async def add(self, row: Mapping[str, Any]) -> None:
        await self.uow.execute(self.table.insert(), [{"workspace_id": self.workspace_id, **row}])

    async def latest_for(self, lead_id: UUID) -> Row | None:
        """The latest automatic merge of this lead into another."""
        statement = (
            select(lm).where(self.scope, lm.c.lead_id == lead_id).order_by(lm.c.merged_at.desc(), lm.c.id.desc())
        )
        return await self._one(statement.limit(1))

    async def mark_undone(self, merge_id: UUID, at: datetime, by: str) -> bool:
        """False when it was undone already (a concurrent undo came first)."""
        statement = (
            lm.update()
            .where(self.scope, lm.c.id == merge_id, lm.c.undone_at.is_(None))
            .values(undone_at=at, undone_by=by)
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def forget(self, lead_ids: Sequence[UUID]) -> int:
        """Delete the merges of these leads, merged away or kept (their documents hold the merged
        lead's and the kept lead's personal fields): they can no longer be undone. How many."""
        if not lead_ids:
            return 0
        statement = lm.delete().where(self.scope, lm.c.lead_id.in_(lead_ids) | lm.c.survivor_id.in_(lead_ids))
        return int((await self.uow.execute(statement)).rowcount or 0)
