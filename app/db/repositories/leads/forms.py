"""Lead-capture forms of one workspace and their submissions."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, aging_page, datetime_key
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

    async def every_id(self) -> builtins.list[UUID]:
        """Every form's id, archived ones included (their submissions stay), in id order."""
        return list((await self.uow.execute(select(f.c.id).where(self.scope).order_by(f.c.id))).scalars())


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

    async def aging(
        self,
        form_id: UUID,
        spam: bool,
        *,
        start: datetime | None,
        end: datetime,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> builtins.list[Row]:
        """A page of a form's submissions (spam or not) created in [start, end), oldest first,
        with their fields and meta: along the index (workspace_id, form_id, spam, created_at, id)."""
        statement = aging_page(
            s, s.c.created_at, s.c.fields, s.c.meta, workspace_id=self.workspace_id, start=start, end=end,
            after=after, limit=limit, conditions=(s.c.form_id == form_id, s.c.spam == spam),
        )  # fmt: skip
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def rewrite(self, rows: Sequence[dict[str, Any]]) -> None:
        """Set each submission's `fields` and `meta` (rows: id, fields, meta) in one statement."""
        await self.uow.update_rows(s, [{**row, "workspace_id": self.workspace_id} for row in rows], bump_version=False)
