"""Campaigns of one workspace and every review each had."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import Page, RecordRepository, Row, datetime_key, text_key

c = tables.campaigns
r = tables.campaign_reviews


class CampaignRepository(RecordRepository[Row]):
    table = c
    sortable = {"created_at": datetime_key(c.c.created_at), "name": text_key(c.c.name)}

    async def keep_progress_live(self, campaign_id: UUID) -> bool:
        """Have the worker count the campaign's progress again (not a new version: the count that
        changes it will be). Whether it was not kept live already."""
        statement = (
            update(c)
            .where(self.scope, c.c.id == campaign_id, c.c.progress_live.is_(False), c.c.launched_at.is_not(None))
            .values(progress_live=True)
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def launched_with_cost(self) -> list[Row]:
        """Campaigns launched (sending, done, paused or cancelled since) that carry a cost."""
        statement = (
            select(c)
            .where(self.scope, c.c.launched_at.is_not(None), c.c.cost_minor.is_not(None))
            .order_by(c.c.launched_at, c.c.id)
        )
        return await self._rows(statement)

    async def lock(self, campaign_id: UUID, *, skip_locked: bool = False) -> Row | None:
        """The campaign, its row locked until commit (PostgreSQL; SQLite's writers are serialised
        already): launching, a sending pass, pausing. `skip_locked`: None when another transaction
        holds it (another worker's pass)."""
        statement = select(c).where(self.scope, c.c.id == campaign_id)
        if await self._dialect() == "postgresql":
            statement = statement.with_for_update(skip_locked=skip_locked)
        return await self._row(statement)


class CampaignReviewRepository(RecordRepository[Row]):
    table = r
    sortable = {"created_at": datetime_key(r.c.created_at)}

    async def add(self, values: dict[str, Any]) -> Row:
        return await self._insert(values)

    async def counting(self, campaign_id: UUID) -> list[Row]:
        """The approvals that count now (member_id, review_group), oldest first: those of members
        still active (a member deactivated before the bar is reached no longer counts)."""
        m = tables.members
        statement = (
            select(r.c.member_id, r.c.review_group)
            .join(m, (m.c.workspace_id == r.c.workspace_id) & (m.c.id == r.c.member_id))
            .where(self.scope, r.c.campaign_id == campaign_id, r.c.counts.is_(True), m.c.active.is_(True))
            .order_by(r.c.created_at, r.c.id)
        )
        return [dict(row) for row in (await self.uow.execute(statement)).mappings()]

    async def withdraw(self, campaign_id: UUID, at: datetime, *, member_id: UUID | None = None) -> None:
        """The campaign's current approvals (of one member, when named) no longer count."""
        statement = update(r).where(self.scope, r.c.campaign_id == campaign_id, r.c.counts.is_(True))
        if member_id is not None:
            statement = statement.where(r.c.member_id == member_id)
        await self.uow.execute(statement.values(counts=False, withdrawn_at=at))

    async def history(self, campaign_id: UUID, *, sort: Any, cursor: str | None, limit: int) -> Page[Row]:
        return await self.list(sort=sort, cursor=cursor, limit=limit, archived=None, campaign_id=campaign_id)
