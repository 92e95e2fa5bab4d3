"""The worker's campaign queue: launched campaigns of every workspace with sending to do."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, tuple_

from app.db import tables
from app.db.repositories.events.queue import CrossWorkspaceQueue

c = tables.campaigns


class CampaignQueue(CrossWorkspaceQueue):
    async def due(
        self, now: datetime, limit: int = 50, after: tuple[datetime, UUID] | None = None
    ) -> list[tuple[UUID, UUID, datetime]]:
        """(workspace, campaign, start) of launched campaigns whose sending has begun and whose
        progress can still change (sending, paused, or with messages still queued), earliest
        first; a page after `after` (start, id)."""
        statement = (
            select(c.c.workspace_id, c.c.id, c.c.starts_at)
            .where(c.c.progress_live.is_(True), c.c.starts_at <= now)
            .order_by(c.c.starts_at, c.c.id)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(tuple_(c.c.starts_at, c.c.id) > tuple_(*after))
        return [(w, i, s) for w, i, s in (await self.uow.execute(statement)).all()]

    async def next_start(self) -> datetime | None:
        """The earliest start of a launched campaign not done (one sending: in the past)."""
        statement = select(func.min(c.c.starts_at)).where(c.c.progress_live.is_(True))
        value: datetime | None = (await self.uow.execute(statement)).scalar()
        return value
