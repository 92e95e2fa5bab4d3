"""Use cases that can lose a race for a unique key run again on what the winner wrote.

Website capture, lead creation and order sync each write rows that a unique index keeps single:
one open lead per email and per phone, one order per shop and order id, one contact per shop
customer id. When two requests write the same key at once, the database refuses the later one; the
use case then runs again from the start (`run`), in a fresh transaction, nothing of the refused run
kept, and finds the winner's row: it merges into that lead, or answers 409, or updates that order.
A use case is written to be run again so (conventions: "Transactions").

A use case that queues its rows until commit (write-behind) writes them at the end of each run
(`written`), so that a refusal reaches it here instead of the commit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.db.conflicts import is_retryable_conflict
from app.db.wakeups import EVENTS
from app.services.context import Context

log = logging.getLogger("app.services")
T = TypeVar("T")
# Runs of a use case that keeps losing its race: past them the request fails (500), as before.
RUNS = 3


class RacesLost(Exception):
    """Every run of a use case was refused a key another request wrote first."""


async def run(
    ctx: Context,
    attempt: Callable[[bool], Awaitable[T]],
    *,
    lost: Callable[[BaseException], bool] = is_retryable_conflict,
) -> T:
    """`attempt(again)` until a run is not refused a unique key another request wrote first (what
    `lost` recognises): `again` is False on the first run. Between runs the unit of work is rolled
    back and begins a transaction afresh, where the stored answer of an Idempotency-Key is written
    with what the next run writes."""
    for number in range(1, RUNS + 1):
        try:
            return await attempt(number > 1)
        except Exception as exc:
            if not lost(exc):
                raise
            if number == RUNS:
                raise RacesLost(f"refused a unique key {RUNS} times") from exc
        log.debug("another request wrote this key first; running the use case again")
        await ctx.uow.rollback()
        await ctx.uow.connection()
    raise AssertionError("unreachable")


async def written(ctx: Context) -> None:
    """Write the rows and events the use case queued now rather than at commit, in the same single
    statement the commit would have sent (see UnitOfWork.flush): a key another request took is
    refused here, where the use case can run again. The dispatcher is woken after commit as it
    would have been for the events."""
    await ctx.uow.flush()
    ctx.uow.wake(EVENTS)
