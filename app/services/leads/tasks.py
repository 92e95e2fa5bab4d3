"""Tasks: follow-up steps with a due time and an assignee, linked to a lead, contact, account or
opportunity. A reminder fires at the due time through a durable timer (event `task.due`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page
from app.db.repositories.leads.rows import TaskRow
from app.domain.errors import ErrorList
from app.domain.events import events as types
from app.domain.pagination import Sort
from app.schemas.customers.relationships import TaskRead
from app.services.context import Context
from app.services.customers import records
from app.services.customers.records import Kind
from app.services.events import events, timers

REMINDER = "task.due"  # timer kind


def _key(task_id: UUID) -> str:
    return f"task:{task_id}"


async def _prepare(ctx: Context, values: dict[str, Any], current: TaskRow | None) -> dict[str, Any]:
    errors = ErrorList()
    await records.check_links(ctx, values, errors)
    errors.raise_if_any()
    prepared = {k: v for k, v in values.items() if v is not None or k in ("due_at", "assignee_id", "notes")}
    if current is None:
        prepared.setdefault("status", "open")
    status = prepared.get("status")
    if status is not None and status != (current["status"] if current is not None else None):
        prepared["completed_at"] = ctx.now if status == "completed" else None
    return prepared


TASK = Kind("task", lambda repos: repos.tasks, TaskRead, _prepare)


async def _schedule(ctx: Context, row: TaskRow) -> None:
    """One pending reminder per open task with a due time, at that time (rescheduled on change)."""
    await timers.cancel(ctx, _key(row["id"]))
    if row["status"] == "open" and row["due_at"] is not None:
        key = f"{_key(row['id'])}:{row['version']}"
        await timers.schedule(ctx, REMINDER, row["due_at"], {"task_id": str(row["id"])}, key=key)


async def create(ctx: Context, values: dict[str, Any]) -> TaskRow:
    row = await records.create(ctx, TASK, values)
    await _schedule(ctx, row)
    return row


async def update(ctx: Context, task_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> TaskRow:
    before, after = await records.update(ctx, TASK, task_id, changes, if_match=if_match)
    if after is not before:
        if (before["due_at"], before["status"]) != (after["due_at"], after["status"]):
            await _schedule(ctx, after)
        if after["status"] == "completed" and before["status"] != "completed":
            await events.record(ctx, types.TASK_COMPLETED, TaskRead.model_validate(after))
    return after


async def remind(ctx: Context, payload: dict[str, Any], run_at: datetime) -> None:
    """Timer handler: `task.due` for a task still open and still due then."""
    row = await ctx.tasks.get(UUID(payload["task_id"]))
    if row is None or row["status"] != "open" or row["due_at"] != run_at:
        return
    await events.record(ctx, types.TASK_DUE, TaskRead.model_validate(row))


async def list_tasks(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, overdue: bool | None, due_before: datetime | None,
    due_after: datetime | None, **equal: Any,
) -> Page[TaskRow]:  # fmt: skip
    ranges = [("due_at", due_after, due_before)]
    if overdue:
        equal["status"] = "open"
        ranges.append(("due_at", None, ctx.now))
    return await records.list_records(
        ctx, TASK, sort=sort, cursor=cursor, limit=limit, archived=None, ranges=ranges, **equal
    )
