"""Lead-capture forms of one workspace and their submissions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import Page, TenantRepository, datetime_key
from app.db.repositories.leads.rows import FormRow

f = tables.forms
s = tables.form_submissions
FORM_SORT = {"created_at": datetime_key(f.c.created_at)}
SUBMISSION_SORT = {"created_at": datetime_key(s.c.created_at)}


class FormRepository(TenantRepository[FormRow]):
    table = f

    async def get(self, form_id: UUID) -> FormRow | None:
        return await self._row(select(f).where(self.scope, f.c.id == form_id, f.c.archived_at.is_(None)))

    async def create(self, values: Mapping[str, Any]) -> FormRow:
        return await self._insert(values)

    async def update(self, form_id: UUID, version: int, values: Mapping[str, Any]) -> FormRow | None:
        return await self._update_versioned(form_id, version, values)

    async def list(self, *, sort: Any, cursor: str | None, limit: int) -> Page[FormRow]:
        statement = select(f).where(self.scope, f.c.archived_at.is_(None))
        return await self._page(statement, sortable=FORM_SORT, sort=sort, cursor=cursor, limit=limit)


class SubmissionRepository(TenantRepository):
    table = s

    def add(self, values: Mapping[str, Any]) -> None:
        """Written at commit, with the rest of the use case (write-behind)."""
        self.uow.defer_insert(s, [{**values, "workspace_id": self.workspace_id}])

    async def get(self, submission_id: UUID) -> dict[str, Any] | None:
        return await self._row(select(s).where(self.scope, s.c.id == submission_id))

    async def list(self, form_id: UUID, *, spam: bool, sort: Any, cursor: str | None, limit: int) -> Page:
        statement = select(s).where(self.scope, s.c.form_id == form_id, s.c.spam == spam)
        return await self._page(statement, sortable=SUBMISSION_SORT, sort=sort, cursor=cursor, limit=limit)
