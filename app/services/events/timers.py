"""Durable timers: `schedule(kind, run_at, payload, key=...)`, idempotent by key, cancellable,
fired by the worker (at-least-once) even across restarts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.db.repositories.base import Row
from app.ids import new_id
from app.services.context import Context


async def schedule(ctx: Context, kind: str, run_at: datetime, payload: dict[str, Any], *, key: str) -> Row:
    """The timer under `key`: a new one, or the one already scheduled with that key."""
    repo = ctx.timers
    row = await repo.add(
        {
            "id": new_id(),
            "kind": kind,
            "key": key,
            "run_at": run_at,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "created_at": ctx.now,
        }
    )
    if row is None:
        row = await repo.by_key(key)
        assert row is not None
    return row


async def cancel(ctx: Context, key: str) -> bool:
    return await ctx.timers.cancel(key)
