"""How writers wake the worker when they make work due (see app/worker/runner.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork

# New events wake idle workers (LISTEN crm_outbox) through a NOTIFY sent with the write, at most
# once per NOTIFY_EVERY_SECONDS per process: a NOTIFY on every commit serialises committers on
# PostgreSQL's notification queue (database CPU on every commit). Events
# committed inside the window are seen by the pass the notification starts, which waits as long
# (app/worker/runner.py COALESCE_SECONDS); polling stays the source of truth.
#
# Other work for the worker (a timer scheduled, a job queued, a delivery made due) wakes the loop
# that does it the same way, with the kind as the notification's payload; events use the empty
# payload. A worker in this process (SQLite's `serve`, tests) is also told directly after commit
# (LOCAL_WAKERS), since SQLite has no NOTIFY.
OUTBOX_CHANNEL = "crm_outbox"
NOTIFY_EVERY_SECONDS = 0.05
EVENTS, TIMERS, JOBS, DELIVERIES, MESSAGES = "", "timers", "jobs", "deliveries", "messages"
JOURNEYS = "journeys"
CAMPAIGNS = "campaigns"
REPORTS = "reports"  # a report schedule made due (scheduled digests)
_last_notify: dict[str, float] = {}
LOCAL_WAKERS: set[Callable[[str], None]] = set()


def notify_due(kind: str = EVENTS) -> bool:
    now = time.monotonic()
    if now - _last_notify.get(kind, -NOTIFY_EVERY_SECONDS) < NOTIFY_EVERY_SECONDS:
        return False
    _last_notify[kind] = now
    return True


async def notify_with_commit(uow: UnitOfWork, kinds: Iterable[str]) -> None:
    """PostgreSQL: NOTIFY the loops doing these kinds of work, in the transaction about to commit
    (delivered at commit: never for a rolled-back write), each kind at most once per window."""
    for kind in sorted(kinds):
        if notify_due(kind):
            await uow.execute(text("SELECT pg_notify(:channel, :kind)"), {"channel": OUTBOX_CHANNEL, "kind": kind})


def wake_local(kinds: Iterable[str]) -> None:
    """Tell a worker in this process (LOCAL_WAKERS) directly, after commit."""
    for waker in tuple(LOCAL_WAKERS):
        for kind in kinds:
            waker(kind)
