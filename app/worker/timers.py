"""Firing due timers: claimed in batches with a lease; each handler runs in its own transaction
together with marking its timer fired, so a timer's effect and its completion commit together."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events
from app.services.leads import tasks
from app.worker import recurring

log = logging.getLogger("app.worker.timers")
Handler = Callable[[Context, dict[str, Any], datetime], Awaitable[None]]
RETRY_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 10


class Notification(BaseModel):
    model_config = ConfigDict(extra="allow")


async def notify(ctx: Context, payload: dict[str, Any], run_at: datetime) -> None:
    """Kind `notify`: emit the event `payload["type"]` with `payload["data"]` (e.g. `task.due`)."""
    await events.record(
        ctx, payload["type"], Notification(**payload.get("data", {})), resource_id=payload.get("resource_id")
    )


HANDLERS: dict[str, Handler] = {"notify": notify, recurring.KIND: recurring.fire, tasks.REMINDER: tasks.remind}


async def fire_due(database: Database, settings: Settings, *, limit: int = 200) -> int:
    now = utcnow()
    async with UnitOfWork(database, write=True) as uow:
        due = await uow.timer_queue().claim_timers(now, now + timedelta(seconds=settings.worker_lease_seconds), limit)
        await uow.commit()
    for timer in due:
        await _fire(database, timer)
    return len(due)


async def next_due(database: Database) -> datetime | None:
    async with UnitOfWork(database, write=False) as uow:
        return await uow.timer_queue().next_timer_due()


async def _fire(database: Database, timer: dict[str, Any]) -> None:
    handler = HANDLERS.get(timer["kind"])
    now = utcnow()
    try:
        if handler is None:
            raise LookupError(f"no handler for timer kind {timer['kind']!r}")
        async with UnitOfWork(database, write=True) as uow:
            ctx = Context(uow, timer["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
            await handler(ctx, timer["payload"], timer["run_at"])
            await uow.timer_queue().finish_timer(
                timer["workspace_id"], timer["id"], {"status": "fired", "fired_at": now, "lease_until": None}
            )
            await uow.commit()
    except Exception as exc:
        log.exception("timer %s (%s) failed", timer["id"], timer["kind"])
        attempts = timer["attempts"] + 1
        async with UnitOfWork(database, write=True) as uow:
            await uow.timer_queue().finish_timer(
                timer["workspace_id"],
                timer["id"],
                {
                    "attempts": attempts,
                    "last_error": str(exc)[:500],
                    "lease_until": None,
                    "status": "failed" if attempts >= MAX_ATTEMPTS else "pending",
                    "run_at": now + RETRY_AFTER,
                },
            )
            await uow.commit()
