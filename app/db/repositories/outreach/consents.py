"""Consents of one workspace: one row per (lead or contact, channel), their change history, and
the people an address belongs to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, datetime_key

cs = tables.consents
cc = tables.consent_changes
CHANGE_SORT = {"created_at": datetime_key(cc.c.created_at)}


class ConsentChangeRepository(TenantRepository):
    table = cc

    async def add(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def of(self, column: str, person_id: UUID, *, sort: Any, cursor: str | None, limit: int) -> Page:
        statement = select(cc).where(self.scope, cc.c[column] == person_id)
        return await self._page(statement, sortable=CHANGE_SORT, sort=sort, cursor=cursor, limit=limit)


class ConsentRepository(TenantRepository):
    table = cs

    @cached_property
    def history(self) -> ConsentChangeRepository:
        return ConsentChangeRepository(self.uow, self.workspace_id)

    async def of(self, column: str, person_id: UUID) -> list[Row]:
        """A person's consent rows (`column`: lead_id or contact_id), one per channel set."""
        return await self._rows(select(cs).where(self.scope, cs.c[column] == person_id))

    async def one(self, column: str, person_id: UUID, channel: str) -> Row | None:
        return await self._one(select(cs).where(self.scope, cs.c[column] == person_id, cs.c.channel == channel))

    async def statuses(self, column: str, person_ids: Sequence[UUID], channel: str) -> dict[UUID, str]:
        """The consent status on `channel` of each of these people that has one set."""
        if not person_ids:
            return {}
        statement = select(cs.c[column], cs.c.status).where(
            self.scope, cs.c[column].in_(list(person_ids)), cs.c.channel == channel
        )
        return {person_id: status for person_id, status in (await self.uow.execute(statement)).all()}

    async def create(self, values: Mapping[str, Any]) -> Row | None:
        """The new row; None when a concurrent writer made the person's row for the channel first."""
        return await self._insert_unless_exists(values)

    async def update(self, consent_id: UUID, version: int, values: Mapping[str, Any]) -> Row | None:
        return await self._update_versioned(consent_id, version, values)

    async def people_at(self, column: str, key: str) -> list[tuple[str, UUID]]:
        """Every lead and contact of the workspace whose `column` (`email_key` or `phone_e164`) is
        `key`, as ("lead" | "contact", id): leads archived or merged included."""
        found: list[tuple[str, UUID]] = []
        for kind, table in (("lead", tables.leads), ("contact", tables.contacts)):
            statement = select(table.c.id).where(table.c.workspace_id == self.workspace_id, table.c[column] == key)
            found += [
                (kind, person_id) for person_id in (await self.uow.execute(statement.order_by(table.c.id))).scalars()
            ]
        return found
