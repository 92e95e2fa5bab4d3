"""What scheduled digests delivered: one row per schedule and occurrence, ever."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import Row, TenantRepository

rd = tables.report_deliveries


class DigestRepository(TenantRepository[Row]):
    table = rd

    async def claim(self, values: Mapping[str, Any]) -> Row | None:
        """Record the delivery of (schedule, occurrence): None when it is recorded already (a
        second worker, a pass run again), whose digest must then not be sent again. The row is
        written in the transaction that queues the digest's messages."""
        return await self._insert_unless_exists(values)

    async def exists_on(self, schedule_id: UUID, day: date) -> bool:
        """Whether the schedule delivered an occurrence on this local day (at whatever time: its
        names are `<day>T<HH:MM>`)."""
        statement = select(rd.c.id).where(
            self.scope, rd.c.schedule_id == schedule_id, rd.c.occurrence.startswith(f"{day.isoformat()}T")
        )
        return (await self.uow.execute(statement.limit(1))).first() is not None

    async def set_messages(self, schedule_id: UUID, occurrence: str, message_ids: Sequence[UUID]) -> None:
        await self.uow.execute(
            update(rd)
            .where(self.scope, rd.c.schedule_id == schedule_id, rd.c.occurrence == occurrence)
            .values(message_ids=[str(m) for m in message_ids])
        )

    async def of_schedule(self, schedule_id: UUID, limit: int = 100) -> list[Row]:
        """The schedule's deliveries, the latest first."""
        statement = (
            select(rd).where(self.scope, rd.c.schedule_id == schedule_id).order_by(rd.c.created_at.desc()).limit(limit)
        )
        return await self._rows(statement)
