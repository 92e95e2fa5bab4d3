"""Firing due timers: claimed in batches with a lease; each handler runs in its own transaction
together with marking its timer fired, so a timer's effect and its completion commit together."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from app import logs, metrics
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
FIRE_CONCURRENCY = 4  # timers of one claim fired at once (PostgreSQL), each on its own connection


class Notification(BaseModel):
    model_config = ConfigDict(extra="allow")


async def notify(ctx: Context, payload: dict[str, Any], run_at: datetime) -> None:
    """Kind `notify`: emit the event `payload["type"]` with `payload["data"]` (e.g. `task.due`)."""
    await events.record(
        ctx, payload["type"], Notification(**payload.get("data", {})), resource_id=payload.get("resource_id")
    )


HANDLERS: dict[str, Handler] = {"notify": notify, recurring.KIND: recurring.fire, tasks.REMINDER: tasks.remind}


async def fire_due(database: Database, settings: Settings, *, limit: int = 200) -> int:
    started = time.perf_counter()
    now = utcnow()
    async with UnitOfWork(database, write=True) as uow:
        due = await uow.timer_queue().claim_timers(now, now + timedelta(seconds=settings.worker_lease_seconds), limit)
        await uow.commit()
    if database.is_sqlite or len(due) < 2:  # SQLite's writers are serialised: one at a time
        failed = sum([not await _fire(database, timer) for timer in due])
    else:
        # Timers are independent: a few fire at once (each in its own transaction), so the last of
        # a claim of many does not wait for every one before it.
        gate = asyncio.Semaphore(FIRE_CONCURRENCY)

        async def fire(timer: dict[str, Any]) -> bool:
            async with gate:
                return await _fire(database, timer)

        failed = sum(not fired for fired in await asyncio.gather(*(fire(timer) for timer in due)))
    if due:  # a pass that found nothing due is not worth a line (the loop looks every poll)
        logs.structured(
            log,
            "timer_pass",
            "timer pass",
            fired=len(due) - failed,
            failed=failed,
            kinds=sorted({str(timer["kind"]) for timer in due}),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
    return len(due)


async def next_due(database: Database) -> datetime | None:
    """When the next timer no worker holds is due (perhaps already: it fell due after a claim)."""
    async with UnitOfWork(database, write=False) as uow:
        return await uow.timer_queue().next_timer_due(utcnow())


async def _fire(database: Database, timer: dict[str, Any]) -> bool:
    """Whether the timer fired (False: it failed, and is retried or given up)."""
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
        metrics.TIMERS_LAG.observe(max((now - timer["run_at"]).total_seconds(), 0.0))
        return True
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
        return False
