"""Activities (calls, emails, messages, meetings, notes) logged on leads and the records they became."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key, where_between, where_equal

ac = tables.activities
ACTIVITY_SORT = {"occurred_at": datetime_key(ac.c.occurred_at), "created_at": datetime_key(ac.c.created_at)}


class ActivityRepository(TenantRepository):
    table = ac

    async def get(self, activity_id: UUID) -> Row | None:
        return await self._get_by_id(activity_id)

    async def create(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def list(
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        lead_id: UUID | None = None,
        member_id: UUID | None = None,
        type: str | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
    ) -> Page:
        statement = select(ac).where(self.scope)
        statement = where_equal(statement, {ac.c.lead_id: lead_id, ac.c.member_id: member_id, ac.c.type: type})
        statement = where_between(statement, [(ac.c.occurred_at, occurred_after, occurred_before)])
        return await self._page(statement, sortable=ACTIVITY_SORT, sort=sort, cursor=cursor, limit=limit)

    async def relink(self, lead_id: UUID, values: Mapping[str, Any]) -> int:
        """Point a lead's activities at the records it became (they stay on the lead too)."""
        statement = update(ac).where(self.scope, ac.c.lead_id == lead_id).values(**values)
        return int((await self.uow.execute(statement)).rowcount or 0)
