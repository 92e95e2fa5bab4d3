"""Teams of one workspace (deleted teams are kept out of sight) and their round-robin turn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key

tm = tables.teams
TEAM_SORT = {"created_at": datetime_key(tm.c.created_at)}


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
