"""The worker's due timers (cross-workspace): claiming pending timers whose time has come (leased,
so any number of workers share them) and recording how each fired; and the other clock the worker
watches, leads' first-response deadlines (kept on the lead row), breached once they pass."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, or_, select, update

from app.db import tables
from app.db.repositories.base import next_version
from app.db.repositories.events.queue import CrossWorkspaceQueue

tm = tables.timers


class TimerQueue(CrossWorkspaceQueue):
    # -- timers ------------------------------------------------------------------------------------
    async def claim_timers(self, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
        statement = await self._lock_rows(
            select(tm)
            .where(
                tm.c.status == "pending", tm.c.run_at <= now, or_(tm.c.lease_until.is_(None), tm.c.lease_until < now)
            )
            .order_by(tm.c.run_at)
            .limit(limit)
        )
        rows = [dict(r) for r in (await self.uow.execute(statement)).mappings()]
        if rows:
            await self.uow.execute(
                update(tm)
                .where(tm.c.workspace_id == bindparam("_ws"), tm.c.id == bindparam("_id"))
                .values(lease_until=lease_until),
                [{"_ws": r["workspace_id"], "_id": r["id"]} for r in rows],
            )
        return rows

    async def next_timer_due(self, now: datetime) -> datetime | None:
        """When a pending timer can next be claimed: the earliest one no worker holds is due (the
        partial index ix_timers_due answers it; the leased ones it skips are the few being fired),
        or, sooner, a lease on one already due runs out (its worker died before firing it)."""
        free = (
            select(tm.c.run_at)
            .where(tm.c.status == "pending", or_(tm.c.lease_until.is_(None), tm.c.lease_until < now))
            .order_by(tm.c.run_at)
            .limit(1)
        )
        # Only due timers are ever leased: the range of the index up to now holds them all.
        held = select(func.min(tm.c.lease_until)).where(
            tm.c.status == "pending", tm.c.run_at <= now, tm.c.lease_until >= now
        )
        moments = [(await self.uow.execute(statement)).scalar() for statement in (free, held)]
        return min((moment for moment in moments if moment is not None), default=None)

    async def finish_timer(self, workspace_id: UUID, timer_id: UUID, values: dict[str, Any]) -> None:
        await self.uow.execute(
            update(tm).where(tm.c.workspace_id == workspace_id, tm.c.id == timer_id).values(**values)
        )

    # -- first-response SLA ------------------------------------------------------------------------
    async def next_sla_due(self) -> datetime | None:
        """The earliest pending first-response deadline of a live lead (not archived, not merged), any
        workspace (index ix_leads_sla_pending); a pending lead without a deadline is never due."""
        ld = tables.leads
        statement = (
            select(ld.c.first_response_due_at)
            .where(
                ld.c.sla_status == "pending",
                ld.c.first_response_due_at.is_not(None),  # SQLite sorts NULLs first: one would hide the rest
                ld.c.archived_at.is_(None),
                ld.c.merged_into_id.is_(None),
            )
            .order_by(ld.c.first_response_due_at)
            .limit(1)
        )
        return (await self.uow.execute(statement)).scalar()

    async def breach_due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Mark up to `limit` pending live leads (not archived, not merged) whose deadline has passed as
        breached; the changed leads.
        Rows another worker is breaching are skipped (SKIP LOCKED), so each breach happens once."""
        ld = tables.leads
        due = await self._lock_rows(
            select(ld.c.workspace_id, ld.c.id)
            .where(
                ld.c.sla_status == "pending",
                ld.c.first_response_due_at <= now,
                ld.c.archived_at.is_(None),  # nobody acts on an archived or merged lead
                ld.c.merged_into_id.is_(None),
            )
            .order_by(ld.c.first_response_due_at)
            .limit(limit)
        )
        rows = (await self.uow.execute(due)).all()
        if not rows:
            return []
        changed = []
        by_workspace: dict[UUID, list[UUID]] = {}
        for workspace_id, lead_id in rows:
            by_workspace.setdefault(workspace_id, []).append(lead_id)
        for workspace_id, ids in by_workspace.items():
            statement = (
                update(ld)
                .where(ld.c.workspace_id == workspace_id, ld.c.id.in_(ids), ld.c.sla_status == "pending")
                .values(sla_status="breached", version=next_version(ld))
                .returning(ld)
            )
            changed.extend(dict(r) for r in (await self.uow.execute(statement)).mappings())
        return changed
