"""Members of one workspace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key, text_key, where_equal
from app.domain.errors import Conflict
from app.domain.pagination import Sort

t = tables.members

SORTABLE = {
    "created_at": datetime_key(t.c.created_at),
    "name": text_key(t.c.name),
    "email": text_key(t.c.email),
}


def _email_taken() -> Conflict:
    return Conflict("a member with this email already exists in the workspace")


class MemberRepository(TenantRepository):
    table = t

    async def get(self, member_id: UUID) -> Row | None:
        return await self._get_by_id(member_id)

    async def by_ids(self, member_ids: Sequence[UUID]) -> dict[UUID, Row]:
        if not member_ids:
            return {}
        statement = select(t).where(self.scope, t.c.id.in_(list(member_ids)))
        return {r["id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()}

    async def managers_chain(self, start: UUID, depth: int = 64) -> dict[UUID, UUID | None]:
        """member id -> manager id for `start` and its managers upwards (absent when no such member)."""
        chain: dict[UUID, UUID | None] = {}
        current: UUID | None = start
        while current is not None and current not in chain and len(chain) < depth:
            row = await self._one(select(t.c.manager_id).where(self.scope, t.c.id == current))
            if row is None:
                break
            chain[current] = current = row["manager_id"]
        return chain

    async def create(self, values: Mapping[str, Any]) -> Row:
        row = await self._insert_unless_exists(values)
        if row is None:
            raise _email_taken()
        return row

    async def update(self, member_id: UUID, version: int, values: Mapping[str, Any]) -> Row | None:
        try:
            conn = await self.uow.connection()
            async with conn.begin_nested():
                return await self._update_versioned(member_id, version, values)
        except IntegrityError as error:
            raise _email_taken() from error

    async def list(
        self,
        *,
        sort: Sort,
        cursor: str | None,
        limit: int,
        role: str | None = None,
        active: bool | None = None,
        email: str | None = None,
        manager_id: UUID | None = None,
    ) -> Page:
        statement = select(t).where(self.scope)
        statement = where_equal(
            statement, {t.c.role: role, t.c.active: active, t.c.email: email, t.c.manager_id: manager_id}
        )
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)
