"""The outbox dispatcher: stamps new events with their per-workspace sequence (in the order it sees
them committed) and fans each out into one delivery per subscribed endpoint, in one transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain import events as types
from app.domain.webhooks import subscribed
from app.ids import new_id


@dataclass(frozen=True)
class Pass:
    events: int = 0  # 0: nothing to do, or another worker is dispatching
    deliveries: int = 0


async def dispatch(database: Database, now: datetime, *, limit: int = 500) -> Pass:
    """One pass over up to `limit` new events."""
    async with UnitOfWork(database, write=True) as uow:
        outbox = uow.outbox()
        if not await outbox.try_lock_dispatch():
            return Pass()
        pending = await outbox.undispatched(limit)
        if not pending:
            return Pass()
        by_workspace: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for event in pending:
            by_workspace[event["workspace_id"]].append(event)
        endpoints: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for endpoint in await outbox.subscribed_endpoints(list(by_workspace)):
            endpoints[endpoint["workspace_id"]].append(endpoint)
        stamps, deliveries = [], []
        for workspace_id, batch in by_workspace.items():
            first = await outbox.reserve_sequences(workspace_id, len(batch))
            for offset, event in enumerate(batch):
                sequence = first + offset
                stamps.append({"_ws": workspace_id, "_id": event["id"], "_seq": sequence})
                for endpoint in endpoints[workspace_id]:
                    if event["type"] == types.WEBHOOK_TEST:
                        if str(endpoint["id"]) != event["resource_id"]:
                            continue
                    elif not subscribed(endpoint["event_types"], event["type"]):
                        continue
                    deliveries.append(
                        {
                            "workspace_id": workspace_id,
                            "id": new_id(),
                            "endpoint_id": endpoint["id"],
                            "event_id": event["id"],
                            "event_type": event["type"],
                            "sequence": sequence,
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
        await outbox.stamp(stamps, now)
        await outbox.add_deliveries(deliveries)
        await uow.commit()
        return Pass(len(pending), len(deliveries))
