"""Shop integrations of one workspace, the receipts of their platform deliveries and the payloads
that could not be applied."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, update

from app.db import tables
from app.db.repositories.base import Page, RecordRepository, TenantRepository, datetime_key, dialect_insert

it, rc, fl = tables.integrations, tables.integration_receipts, tables.integration_failures


class IntegrationRepository(RecordRepository):
    table = it
    sortable = {"created_at": datetime_key(it.c.created_at)}

    async def receive(self, integration_id: UUID, delivery_id: str, topic: str, outcome: str, at: datetime) -> bool:
        """Record a platform delivery once: False when this delivery id was received before, unless
        it failed then (a redelivery of a failed one is applied again)."""
        insert = dialect_insert(await self._dialect())
        statement = insert(rc).values(
            workspace_id=self.workspace_id, integration_id=integration_id, delivery_id=delivery_id, topic=topic,
            outcome=outcome, received_at=at,
        )  # fmt: skip
        statement = statement.on_conflict_do_update(
            index_elements=[rc.c.workspace_id, rc.c.integration_id, rc.c.delivery_id],
            set_={"outcome": outcome, "received_at": at},
            where=rc.c.outcome == "failed",
        ).returning(rc.c.delivery_id)
        return (await self.uow.execute(statement)).first() is not None

    async def purge_receipts(self, before: datetime) -> int:
        statement = delete(rc).where(rc.c.workspace_id == self.workspace_id, rc.c.received_at < before)
        return int((await self.uow.execute(statement)).rowcount or 0)

    async def set_outcome(self, integration_id: UUID, delivery_id: str, outcome: str) -> None:
        statement = (
            update(rc)
            .where(rc.c.workspace_id == self.workspace_id, rc.c.integration_id == integration_id,
                   rc.c.delivery_id == delivery_id)
            .values(outcome=outcome)
        )  # fmt: skip
        await self.uow.execute(statement)

    async def count_delivery(self, integration_id: UUID, at: datetime, *, failed: bool) -> None:
        """The integration's counters (no new version: bookkeeping, not a change of its settings)."""
        values: dict[str, Any] = {"last_received_at": at, "received_count": it.c.received_count + 1}
        if failed:
            values |= {"failure_count": it.c.failure_count + 1, "last_failure_at": at}
        await self.uow.execute(update(it).where(self.scope, it.c.id == integration_id).values(**values))


class IntegrationFailureRepository(TenantRepository):
    table = fl

    async def add(self, values: Mapping[str, Any]) -> None:
        await self.uow.execute(fl.insert().values(workspace_id=self.workspace_id, **values))

    async def list(self, integration_id: UUID, *, sort: Any, cursor: str | None, limit: int) -> Page:
        statement = select(fl).where(self.scope, fl.c.integration_id == integration_id)
        return await self._page(statement, sortable=_FAILURES_SORTABLE, sort=sort, cursor=cursor, limit=limit)


_FAILURES_SORTABLE = {"received_at": datetime_key(fl.c.received_at)}
