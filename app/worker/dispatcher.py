"""The outbox dispatcher: takes new events off the queue, stamps each with its per-workspace sequence
(in the order it sees them committed) and fans each out into one delivery per subscribed endpoint,
in one transaction. On PostgreSQL the stamping is one statement (EventQueue.dispatch_pass)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from app.db.repositories.events.event_queue import EventQueue
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.events import events as types
from app.domain.events.webhooks import delivers
from app.ids import new_id


@dataclass(frozen=True)
class Pass:
    events: int = 0  # 0: nothing to do, or another worker is dispatching
    deliveries: int = 0


async def dispatch(database: Database, now: datetime, *, limit: int = 500) -> Pass:
    """One pass over up to `limit` new events."""
    async with UnitOfWork(database, write=True) as uow:
        queue = uow.event_queue()
        if database.is_sqlite:
            stamped = await _stamp_in_python(queue, limit, now)
            total = len(stamped)
        else:  # one statement; only events of subscribed workspaces come back
            total, stamped = await queue.dispatch_pass(limit, now)
        if not total:
            return Pass()
        deliveries = await _fan_out(queue, stamped, now)
        await queue.add_deliveries(deliveries)
        await uow.commit()
        return Pass(total, len(deliveries))


async def _stamp_in_python(queue: EventQueue, limit: int, now: datetime) -> list[dict[str, Any]]:
    """SQLite (one process, writers serialised): the same pass as PostgreSQL's statement, step by step."""
    pending = await queue.undispatched(limit)
    by_workspace: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for event in pending:
        by_workspace[event["workspace_id"]].append(event)
    stamps = []
    for workspace_id, batch in by_workspace.items():
        first = await queue.reserve_sequences(workspace_id, len(batch))
        for offset, event in enumerate(batch):
            event["sequence"] = first + offset
            stamps.append({"workspace_id": workspace_id, "event_id": event["id"], "sequence": event["sequence"]})
    await queue.stamp(stamps, now)
    new_leads = [(e["workspace_id"], UUID(e["resource_id"])) for e in pending if e["type"] == types.LEAD_CREATED]
    await queue.queue_dedupe(new_leads, now)  # for the worker's duplicate search
    return pending


async def _fan_out(queue: EventQueue, stamped: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """One pending delivery per stamped event and endpoint subscribed to it whose creator's
    scopes may read it."""
    if not stamped:
        return []
    endpoints: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for endpoint in await queue.subscribed_endpoints(list({e["workspace_id"] for e in stamped})):
        endpoints[endpoint["workspace_id"]].append({**endpoint, "scopes": frozenset(endpoint["scopes"])})
    deliveries = []
    for event in stamped:
        workspace_id = event["workspace_id"]
        for endpoint in endpoints[workspace_id]:
            if event["type"] == types.WEBHOOK_TEST:
                if str(endpoint["id"]) != event["resource_id"]:
                    continue
            elif not delivers(endpoint["event_types"], endpoint["scopes"], event["type"]):
                continue
            deliveries.append(
                {
                    "workspace_id": workspace_id,
                    "id": new_id(),
                    "endpoint_id": endpoint["id"],
                    "event_id": event["id"],
                    "event_type": event["type"],
                    "sequence": event["sequence"],
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return deliveries
