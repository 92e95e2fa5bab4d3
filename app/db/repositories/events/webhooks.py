"""Webhook endpoints of one workspace, their deliveries and attempts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text, update

from app.db import tables
from app.db.repositories.base import Page, Row, TenantRepository, aging_page, datetime_key, where_equal
from app.db.wakeups import DELIVERIES

e = tables.webhook_endpoints
d = tables.webhook_deliveries
a = tables.webhook_attempts
ENDPOINT_SORT = {"created_at": datetime_key(e.c.created_at)}
DELIVERY_SORT = {"created_at": datetime_key(d.c.created_at)}


class WebhookEndpointRepository(TenantRepository):
    table = e

    @property
    def live(self) -> Any:
        return e.c.deleted_at.is_(None)

    async def get(self, endpoint_id: UUID) -> Row | None:
        return await self._one(select(e).where(self.scope, self.live, e.c.id == endpoint_id))

    async def count_before_adding(self) -> int:
        """How many live endpoints the workspace has, with new ones held back until this
        transaction ends: on PostgreSQL a transaction-level advisory lock of the workspace's
        endpoints, so two creations at once cannot both pass the cap (SQLite runs one writer at a
        time anyway). Not a lock of the workspace row: FOR UPDATE there would also hold up every
        insert into a table referencing workspaces (each takes FOR KEY SHARE on it)."""
        if await self._dialect() == "postgresql":
            await self.uow.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('crm.webhook_endpoints'), hashtext(:ws))"),
                {"ws": str(self.workspace_id)},
            )
        statement = select(func.count()).select_from(e).where(self.scope, self.live)
        return int((await self.uow.execute(statement)).scalar_one())

    async def create(self, values: Mapping[str, Any]) -> Row:
        return await self._insert(values)

    async def update(self, endpoint_id: UUID, version: int, values: Mapping[str, Any]) -> Row | None:
        if values.get("enabled"):
            self.uow.wake(DELIVERIES)  # its waiting deliveries resume
        return await self._update_versioned(endpoint_id, version, values)

    async def list(self, *, sort: Any, cursor: str | None, limit: int, enabled: bool | None = None) -> Page:
        statement = where_equal(select(e).where(self.scope, self.live), {e.c.enabled: enabled})
        return await self._page(statement, sortable=ENDPOINT_SORT, sort=sort, cursor=cursor, limit=limit)


class DeliveryRepository(TenantRepository):
    table = d

    async def aging_attempts(
        self, *, start: datetime | None, end: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[Row]:
        """A page of the delivery attempts made in [start, end), oldest first, with whether they
        still hold the receiver's response excerpt: along the index (workspace_id, attempted_at, id)."""
        holds = a.c.response_excerpt.is_not(None).label("holds")
        statement = aging_page(
            a, a.c.attempted_at, holds, workspace_id=self.workspace_id, start=start, end=end, after=after, limit=limit
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def forget_response_excerpts(self, attempt_ids: Sequence[UUID]) -> int:
        """Clear the response excerpt of these attempts; how many held one."""
        if not attempt_ids:
            return 0
        statement = (
            update(a)
            .where(a.c.workspace_id == self.workspace_id, a.c.id.in_(attempt_ids), a.c.response_excerpt.is_not(None))
            .values(response_excerpt=None)
        )
        return int((await self.uow.execute(statement)).rowcount or 0)

    async def get(self, endpoint_id: UUID, delivery_id: UUID) -> Row | None:
        return await self._one(select(d).where(self.scope, d.c.endpoint_id == endpoint_id, d.c.id == delivery_id))

    async def attempts(self, delivery_id: UUID) -> list[Row]:
        statement = (
            select(a)
            .where(a.c.workspace_id == self.workspace_id, a.c.delivery_id == delivery_id)
            .order_by(a.c.attempted_at)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def list(
        self, endpoint_id: UUID, *, sort: Any, cursor: str | None, limit: int, status: str | None = None
    ) -> Page:
        statement = where_equal(select(d).where(self.scope, d.c.endpoint_id == endpoint_id), {d.c.status: status})
        return await self._page(statement, sortable=DELIVERY_SORT, sort=sort, cursor=cursor, limit=limit)

    async def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.uow.wake(DELIVERIES)
            await self.uow.execute(d.insert(), [{"workspace_id": self.workspace_id, **row} for row in rows])

    async def abandon_pending(self, endpoint_id: UUID, now: datetime, reason: str) -> None:
        statement = (
            update(d)
            .where(self.scope, d.c.endpoint_id == endpoint_id, d.c.status == "pending")
            .values(status="failed", last_error=reason, updated_at=now)
        )
        await self.uow.execute(statement)

    async def retry_now(self, delivery_id: UUID, now: datetime) -> Row | None:
        self.uow.wake(DELIVERIES)
        statement = (
            update(d)
            .where(self.scope, d.c.id == delivery_id)
            .values(status="pending", next_attempt_at=now, updated_at=now)
            .returning(d)
        )
        return await self._one(statement)
