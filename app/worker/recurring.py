"""Recurring work (nightly clean-ups now; analytics snapshots later): each task is a cron
expression evaluated in every workspace's own time zone, run as a chain of durable timers. A fired
timer runs the task and schedules the next occurrence in the same transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.schedules import is_occurrence, next_occurrence
from app.ids import new_id
from app.services.context import Context
from app.services.events import timers

KIND = "recurring"


@dataclass(frozen=True)
class Recurring:
    name: str
    cron: str
    run: Callable[[Context], Awaitable[Any]]


async def purge_idempotency_keys(ctx: Context) -> int:
    """Stored answers past their time, and the refs that pointed a privacy request at them (a key
    used again later is another request's)."""
    keys = await ctx.idempotency.purge_expired(ctx.now)
    await ctx.personal_refs.forget_rows("idempotency_keys", keys)
    return len(keys)


async def enforce_retention(ctx: Context) -> Any:
    """The workspace's retention settings, every class at once (form submissions' raw data, message
    bodies, archived leads, webhook response excerpts, privacy exports), as a `retention.enforce`
    job whose result reports what each class removed (app/services/workspace/retention.py)."""
    from app.services.workspace import retention

    return await retention.enqueue(ctx)


async def purge_audit_log(ctx: Context) -> int:
    """The workspace's retention of its audit log (`retention.audit_log_days`, default 730): older
    entries go from the start of the chain, the last one purged stays its anchor."""
    from app.schemas.workspace.settings import RetentionSettings
    from app.services.audit import audit
    from app.services.workspace import settings

    days = (await settings.get(ctx, "retention", RetentionSettings))["values"]["audit_log_days"]
    return await audit.purge(ctx, ctx.now - timedelta(days=days))


async def discard_abandoned_uploads(ctx: Context) -> int:
    """CSV uploads still `uploading` a day later: their server died mid-upload (a failed upload
    cleans up after itself). Their stored pieces and the import go."""
    return await ctx.imports.discard_uploading(ctx.now - ABANDONED_AFTER)


async def purge_integration_receipts(ctx: Context) -> int:
    """Receipts of shop deliveries past the platforms' redelivery windows (Shopify retries for 4
    hours, WooCommerce for less): a redelivery that old is not expected."""
    return await ctx.integrations.purge_receipts(ctx.now - RECEIPTS_KEPT)


async def refresh_sales_forecasts(ctx: Context) -> Any:
    """Cached sales forecasts whose orders moved, or whose history gained a period, are recomputed
    overnight (as a job: a model fit per forecast), so the day's reads find them ready. A workspace
    that never asked for one gets no job."""
    from app.services.reports import sales_forecast

    return await sales_forecast.enqueue_refresh(ctx, "nightly")


ABANDONED_AFTER = timedelta(days=1)
RECEIPTS_KEPT = timedelta(days=30)


async def rescore_leads(ctx: Context) -> Any:
    """Behaviour fades without new engagements: rescore every lead nightly (as a job)."""
    from app.services.leads import scoring

    return await scoring.enqueue_rescore(ctx, "nightly decay")


async def refresh_analytics(ctx: Context) -> Any:
    """Customer values move with time alone (P(alive) falls without orders): a snapshot nightly."""
    from app.services.analytics import analytics

    return await analytics.enqueue_refresh(ctx, cause="nightly")


TASKS: dict[str, Recurring] = {
    task.name: task
    for task in (
        Recurring("purge-idempotency-keys", "30 3 * * *", purge_idempotency_keys),
        Recurring("enforce-retention", "40 3 * * *", enforce_retention),
        Recurring("purge-audit-log", "35 3 * * *", purge_audit_log),
        Recurring("rescore-leads", "15 2 * * *", rescore_leads),
        Recurring("refresh-analytics", "30 1 * * *", refresh_analytics),
        Recurring("discard-abandoned-uploads", "50 3 * * *", discard_abandoned_uploads),
        Recurring("purge-integration-receipts", "55 3 * * *", purge_integration_receipts),
        Recurring("refresh-sales-forecasts", "10 2 * * *", refresh_sales_forecasts),
    )
}


async def _schedule_next(ctx: Context, task: Recurring, timezone: str, after: datetime) -> None:
    run_at = next_occurrence(task.cron, timezone, after)
    key = f"{KIND}:{task.name}:{run_at.isoformat()}"
    await timers.schedule(ctx, KIND, run_at, {"name": task.name}, key=key)


ENSURE_CHUNK = 200  # workspaces per transaction (one INSERT … ON CONFLICT DO NOTHING)


async def ensure(database: Database, now: datetime) -> None:
    """Give every workspace the next occurrence of every task (idempotent: keyed by occurrence).
    One statement per 200 workspaces: a timer scheduled (and looked up) one by one in a single
    transaction held SQLite's write lock for seconds once there were hundreds of workspaces, and
    other writers failed with "database is locked"."""
    async with UnitOfWork(database, write=False) as reader:
        workspaces = await reader.system().workspace_time_zones()
    for start in range(0, len(workspaces), ENSURE_CHUNK):
        rows = []
        for workspace_id, timezone in workspaces[start : start + ENSURE_CHUNK]:
            for task in TASKS.values():
                run_at = next_occurrence(task.cron, timezone, now)
                rows.append({
                    "workspace_id": workspace_id, "id": new_id(), "kind": KIND, "run_at": run_at,
                    "key": f"{KIND}:{task.name}:{run_at.isoformat()}", "payload": {"name": task.name},
                    "status": "pending", "attempts": 0, "created_at": now,
                })  # fmt: skip
        async with UnitOfWork(database, write=True) as uow:
            await uow.system().ensure_timers(rows)  # one statement for the chunk
            await uow.commit()


async def fire(ctx: Context, payload: dict[str, Any], run_at: datetime) -> None:
    """Timer handler: run the task, then chain the next occurrence. An occurrence that is no longer
    on the schedule (the workspace changed time zone) ends its chain; `ensure` starts the new one."""
    task = TASKS.get(payload["name"])
    if task is None:
        return
    workspace = await ctx.workspaces.get()
    if workspace is None or not is_occurrence(task.cron, workspace["timezone"], run_at):
        return
    await task.run(ctx)
    await _schedule_next(ctx, task, workspace["timezone"], max(run_at, ctx.now))
