"""Teams, activities and lead assignments of one workspace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key

tm = tables.teams
ac = tables.activities
asg = tables.lead_assignments
TEAM_SORT = {"created_at": datetime_key(tm.c.created_at)}
ACTIVITY_SORT = {"occurred_at": datetime_key(ac.c.occurred_at), "created_at": datetime_key(ac.c.created_at)}


class TeamRepository(TenantRepository):
    table = tm

    async def get(self, team_id: UUID) -> Row | None:
        return await self._one(select(tm).where(self.scope, tm.c.id == team_id, tm.c.deleted_at.is_(None)))

    async def existing(self, team_ids: Sequence[UUID]) -> set[UUID]:
        if not team_ids:
            return set()
        statement = select(tm.c.id).where(self.scope, tm.c.id.in_(list(team_ids)), tm.c.deleted_at.is_(None))
        return set((await self.uow.execute(statement)).scalars())

    async def lock(self, team_id: UUID) -> Row | None:
        """The team, locked until commit on PostgreSQL (round-robin turns are taken one at a time;
        SQLite's writers are serialised already)."""
        statement = select(tm).where(self.scope, tm.c.id == team_id, tm.c.deleted_at.is_(None))
        if (await self._dialect()) == "postgresql":
            statement = statement.with_for_update()
        return await self._one(statement)

    async def set_position(self, team_id: UUID, position: int) -> None:
        """The round-robin turn moves without a new version: it is routing state, not an edit."""
        await self.uow.execute(update(tm).where(self.scope, tm.c.id == team_id).values(rr_position=position))

    async def create(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def update(self, team_id: UUID, version: int, values: Mapping[str, Any]) -> Row | None:
        return await self._update_versioned(team_id, version, values)

    async def list(self, *, sort: Any, cursor: str | None, limit: int) -> Page:
        statement = select(tm).where(self.scope, tm.c.deleted_at.is_(None))
        return await self._page(statement, sortable=TEAM_SORT, sort=sort, cursor=cursor, limit=limit)


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
        for column, value in ((ac.c.lead_id, lead_id), (ac.c.member_id, member_id), (ac.c.type, type)):
            if value is not None:
                statement = statement.where(column == value)
        if occurred_after is not None:
            statement = statement.where(ac.c.occurred_at >= occurred_after)
        if occurred_before is not None:
            statement = statement.where(ac.c.occurred_at < occurred_before)
        return await self._page(statement, sortable=ACTIVITY_SORT, sort=sort, cursor=cursor, limit=limit)

    async def relink(self, lead_id: UUID, values: Mapping[str, Any]) -> int:
        """Point a lead's activities at the records it became (they stay on the lead too)."""
        statement = update(ac).where(self.scope, ac.c.lead_id == lead_id).values(**values)
        return int((await self.uow.execute(statement)).rowcount or 0)


class AssignmentRepository(TenantRepository):
    table = asg

    def add(self, values: Mapping[str, Any]) -> None:
        """Written at commit with the use case's other rows (the lead may be written behind too)."""
        self.uow.defer_insert(asg, [{"workspace_id": self.workspace_id, **values}])

    async def of_lead(self, lead_id: UUID) -> list[Row]:
        statement = (
            select(asg).where(self.scope, asg.c.lead_id == lead_id).order_by(asg.c.assigned_at, asg.c.id).limit(1000)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]
