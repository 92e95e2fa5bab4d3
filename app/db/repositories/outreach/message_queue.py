"""The worker's queue of messages (cross-workspace): claiming due ones under a lease, settling
the ones whose worker died while sending them, and claiming the `unknown` ones due to be looked up
at their provider; and the channels' shared send rate."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from app.db import tables
from app.db.repositories.base import next_version
from app.db.repositories.events.queue import CrossWorkspaceQueue

ms = tables.messages


class MessageQueue(CrossWorkspaceQueue):
    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` queued messages due by `now`, oldest due first, marked `sending` under a
        lease until `lease_until` (committed before any is handed to a provider: a worker that dies
        after the hand-off leaves `sending`, which `lost` settles as unknown, never as queued)."""
        statement = await self._lock_rows(
            select(ms).where(ms.c.status == "queued", ms.c.send_at <= now).order_by(ms.c.send_at, ms.c.id).limit(limit)
        )
        rows = [dict(r) for r in (await self.uow.execute(statement)).mappings()]
        for row in rows:
            values = {"status": "sending", "lease_until": lease_until, "attempts": row["attempts"] + 1}
            await self.uow.execute(
                update(ms)
                .where(ms.c.workspace_id == row["workspace_id"], ms.c.id == row["id"])
                .values(version=next_version(ms), updated_at=now, **values)
            )
            row.update(values)
        return rows

    async def lost(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Messages left `sending` by a worker whose lease ran out: perhaps handed off, perhaps not."""
        statement = await self._lock_rows(
            select(ms).where(ms.c.status == "sending", ms.c.lease_until < now).order_by(ms.c.lease_until).limit(limit)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def any_lost(self, now: datetime) -> bool:
        """Whether a message was left `sending` by a worker whose lease ran out (an index lookup)."""
        statement = select(ms.c.id).where(ms.c.status == "sending", ms.c.lease_until < now).limit(1)
        return (await self.uow.execute(statement)).first() is not None

    async def next_due(self) -> datetime | None:
        """When the earliest queued message is due (the worker sleeps until then at most)."""
        statement = select(ms.c.send_at).where(ms.c.status == "queued").order_by(ms.c.send_at).limit(1)
        value: datetime | None = (await self.uow.execute(statement)).scalar()
        return value

    async def claim_lookups(self, now: datetime, hold_until: datetime, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` unknown messages due to be looked up at their provider by `now`, held by
        this worker until `hold_until` (their `lookup_at`, which the lookup's record must still
        find: no other worker looks one up meanwhile, and a worker that dies lets it come due again)."""
        statement = await self._lock_rows(
            select(ms)
            .where(ms.c.status == "unknown", ms.c.lookup_at <= now)
            .order_by(ms.c.lookup_at, ms.c.id)
            .limit(limit)
        )
        rows = [dict(r) for r in (await self.uow.execute(statement)).mappings()]
        for row in rows:
            await self.uow.execute(
                update(ms)
                .where(ms.c.workspace_id == row["workspace_id"], ms.c.id == row["id"])
                .values(lookup_at=hold_until)
            )
            row["lookup_at"] = hold_until
        return rows

    async def next_lookup(self) -> datetime | None:
        """When the earliest lookup of an unknown message is due (an index lookup)."""
        statement = (
            select(ms.c.lookup_at)
            .where(ms.c.status == "unknown", ms.c.lookup_at.is_not(None))
            .order_by(ms.c.lookup_at)
            .limit(1)
        )
        value: datetime | None = (await self.uow.execute(statement)).scalar()
        return value

    async def reserve_slots(self, workspace_id: UUID, channel_id: UUID, count: int, now: datetime,
                            per_second: float, *, until: datetime) -> datetime:  # fmt: skip
        """Reserve up to `count` consecutive send slots of the channel, `1 / per_second` apart, on
        the timeline every worker shares (`channels.next_send_at`, its row locked for the moment it
        takes), none at or after `until` (the claims' lease): the first slot's instant, never before
        `now`. Claims past the reserved slots are given back by the sender without waiting."""
        ch = tables.channels
        where = (ch.c.workspace_id == workspace_id, ch.c.id == channel_id)
        statement = select(ch.c.next_send_at).where(*where)
        if await self._postgres():  # wait for the other worker's reservation: never skip it
            statement = statement.with_for_update()
        found = await self.uow.execute(statement)
        current: datetime | None = found.scalar()
        start = max(current or now, now)
        step = 1 / max(per_second, 0.001)
        fits = max(0, min(count, math.ceil((until - start).total_seconds() / step)))
        after = start + timedelta(seconds=fits * step)
        await self.uow.execute(update(ch).where(*where).values(next_send_at=after))
        return start
