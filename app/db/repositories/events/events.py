"""The event log of one workspace (read side; the dispatcher's cross-workspace work is in event_queue.py)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, select, update

from app import logs
from app.db import tables
from app.db.repositories.base import Page, Row, SortKey, TenantRepository, where_between, where_equal

t = tables.events
s = tables.event_stamps
SORTABLE = {"id": SortKey(t.c.id, str, UUID)}
_STAMP_OF_EVENT = and_(s.c.workspace_id == t.c.workspace_id, s.c.event_id == t.c.id)
# An event with its sequence number (null until the dispatcher has stamped it).
STAMPED = t.outerjoin(s, _STAMP_OF_EVENT)


class EventRepository(TenantRepository):
    table = t

    def record(self, values: Mapping[str, Any]) -> None:
        """Queue the event on the unit of work: it is inserted, with the use case's other events, in
        the same transaction right before the commit."""
        self.uow.add_event({"workspace_id": self.workspace_id, **values, "request_id": logs.request_id()})

    async def get(self, event_id: UUID) -> Row | None:
        return await self._one(select(t, s.c.sequence).select_from(STAMPED).where(self.scope, t.c.id == event_id))

    async def list(
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        types: list[str] | None = None,
        resource_id: str | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        after_sequence: int | None = None,
    ) -> Page:
        statement = select(t, s.c.sequence).select_from(STAMPED).where(self.scope)
        if types is not None:  # an empty list matches nothing (a key that may read no type)
            statement = statement.where(t.c.type.in_(types))
        statement = where_equal(statement, {t.c.resource_id: resource_id})
        statement = where_between(statement, [(t.c.occurred_at, occurred_after, occurred_before)])
        if after_sequence is not None:
            statement = statement.where(s.c.sequence > after_sequence)
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)

    async def types_to_redact(self, resource_id: str) -> Sequence[str]:
        """The types of the events about a resource whose data is not erased yet."""
        statement = (
            select(t.c.type)
            .where(self.scope, t.c.resource_id == resource_id, t.c.redacted_at.is_(None))
            .distinct()
            .order_by(t.c.type)
        )
        return list((await self.uow.execute(statement)).scalars())

    async def redact(self, resource_id: str, now: datetime, limit: int, *, types: Sequence[str] | None) -> int:
        """Erase the data of up to `limit` events about a resource, of these `types` (None: every
        type); how many it erased."""
        batch = select(t.c.id).where(self.scope, t.c.resource_id == resource_id, t.c.redacted_at.is_(None))
        if types is not None:
            batch = batch.where(t.c.type.in_(types))
        batch = batch.limit(limit)
        statement = (
            update(t)
            .where(self.scope, t.c.id.in_(batch.scalar_subquery()))
            .values(data={"redacted": True}, previous_attributes=None, redacted_at=now)
        )
        return int((await self.uow.execute(statement)).rowcount or 0)

    async def dispatched_since(
        self, *, since: datetime | None, since_sequence: int | None, types: Sequence[str] | None
    ) -> builtins.list[Row]:  # `list` in this class is the method above
        """Events already sequenced, for replay: (id, type, sequence) in sequence order; `types`
        None for every type, an empty list for none."""
        statement = select(t.c.id, t.c.type, s.c.sequence).join(s, _STAMP_OF_EVENT).where(self.scope)
        if since is not None:
            statement = statement.where(t.c.occurred_at >= since)
        if since_sequence is not None:
            statement = statement.where(s.c.workspace_id == self.workspace_id, s.c.sequence > since_sequence)
        if types is not None:
            statement = statement.where(t.c.type.in_(types))
        return [dict(r) for r in (await self.uow.execute(statement.order_by(s.c.sequence))).mappings()]
