"""Engagements: a lead's behaviour history (page views, email opens, form submissions, ...) that scoring
reads, including a visitor's anonymous engagements until they become a lead's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key

e = tables.engagements
ENGAGEMENT_SORT = {"occurred_at": datetime_key(e.c.occurred_at)}
# What scoring reads of an engagement.
FACTS = (e.c.lead_id, e.c.type, e.c.occurred_at)


class EngagementRepository(TenantRepository):
    table = e

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Written at commit with the rest of the use case."""
        self.uow.defer_insert(e, [{**row, "workspace_id": self.workspace_id} for row in rows])

    async def relink(self, lead_id: UUID, contact_id: UUID) -> int:
        """A qualified lead's engagements become its contact's too (they stay on the lead)."""
        statement = update(e).where(self.scope, e.c.lead_id == lead_id).values(contact_id=contact_id)
        return int((await self.uow.execute(statement)).rowcount or 0)

    async def facts(self, lead_ids: Sequence[UUID], since: datetime) -> list[Row]:
        """(lead_id, type, occurred_at) of these leads' engagements since `since`."""
        if not lead_ids:
            return []
        statement = select(*FACTS).where(self.scope, e.c.lead_id.in_(list(lead_ids)), e.c.occurred_at >= since)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def counts_since(self, column: str, person_id: UUID, since: datetime) -> dict[str, int]:
        """A lead's or contact's engagements by type since `since` (a journey's `engagements.<type>`)."""
        statement = (
            select(e.c.type, func.count())
            .where(e.c.workspace_id == self.workspace_id, e.c[column] == person_id, e.c.occurred_at >= since)
            .group_by(e.c.type)
        )
        return {str(r[0]): int(r[1]) for r in (await self.uow.execute(statement)).all()}

    async def link_visitor(self, visitor_id: str, lead_id: UUID, *, only_if_carried: bool) -> list[Row]:
        """Give a visitor's anonymous engagements to the lead; returns their facts. `only_if_carried`:
        only when the lead already has engagements under this visitor id (one statement, so the
        check and the link see the same rows)."""
        statement = update(e).where(self.scope, e.c.visitor_id == visitor_id, e.c.lead_id.is_(None))
        if only_if_carried:
            carried = e.alias("carried")
            statement = statement.where(
                select(carried.c.id)
                .where(
                    carried.c.workspace_id == self.workspace_id,
                    carried.c.visitor_id == visitor_id,
                    carried.c.lead_id == lead_id,
                )
                .exists()
            )
        statement = statement.values(lead_id=lead_id).returning(*FACTS)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def list(self, lead_id: UUID, *, sort: Any, cursor: str | None, limit: int) -> Page:
        statement = select(e).where(self.scope, e.c.lead_id == lead_id)
        return await self._page(statement, sortable=ENGAGEMENT_SORT, sort=sort, cursor=cursor, limit=limit)
