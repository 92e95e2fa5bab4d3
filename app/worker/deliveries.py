"""Webhook delivery: a worker leases an endpoint and sends its due deliveries in sequence order, up
to the endpoint's `max_in_flight` at once (1: one at a time, in order), in batches whose outcomes
are recorded in one transaction. A failing delivery is rescheduled and never blocks the later ones;
a worker that dies leaves a lease that expires, and another worker sends again with the same
webhook-id whatever it had sent but not recorded (at-least-once)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from app import logs, metrics, outbound
from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.events import events as types
from app.domain.events.webhooks import Outcome, after_attempt, workspace_share
from app.domain.leads.sensitive import LEAD_EVENT_PREFIX
from app.ids import new_id, utcnow
from app.schemas.common import rfc3339
from app.schemas.events.webhooks import WebhookEndpointRead
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events
from app.services.leads import sensitive
from app.worker.delivery_client import Attempt, send

log = logging.getLogger("app.worker.deliveries")
# How long an endpoint whose sending turn failed unexpectedly rests before it is claimed again.
FAILED_TURN_BACKOFF_SECONDS = 10.0
# Due deliveries read at a time, and how long a batch may send before its outcomes are recorded
# (one transaction per batch): what a crash may send again, and how long the API may show a sent
# delivery as pending.
DUE_BATCH = 50
BATCH_SECONDS = 1.0


def envelope(row: dict[str, Any]) -> str:
    """The delivered body: the event as `/v1/events/{id}` shows it (`row` already as `shown` makes
    it)."""
    actor_type, _, actor_id = row["actor"].partition(":")
    return json.dumps(
        {
            "id": str(row["event_id"]),
            "type": row["event_type"],
            "occurred_at": rfc3339(row["occurred_at"]),
            "workspace_id": str(row["workspace_id"]),
            "api_version": row["api_version"],
            "actor": {"type": actor_type, "id": actor_id or None},
            "sequence": row["sequence"],
            "data": row["data"],
            "previous_attributes": row["previous_attributes"],
        },
        separators=(",", ":"),
    )


async def shown(database: Database, delivery: dict[str, Any]) -> dict[str, Any]:
    """A delivery's event without sensitive values, as the event log shows it: recorded without
    them, but one recorded before its field was marked sensitive (or by another process within
    FORM_CACHE_SECONDS of the marking) still has them, whoever asked for the delivery (a replay
    included). The workspace's sensitive keys come from the per-process cache; only the types that
    may carry them look anything up."""
    event_type = str(delivery["event_type"])
    if not event_type.startswith(LEAD_EVENT_PREFIX) and event_type not in sensitive.FORM_SUBMISSION_EVENTS:
        return delivery
    event = {"type": event_type, "data": delivery["data"], "previous_attributes": delivery["previous_attributes"]}
    async with UnitOfWork(database, write=False) as uow:
        ctx = Context(uow, delivery["workspace_id"], SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        scrubbed = await sensitive.delivered(ctx, event)
    if scrubbed is event:
        return delivery
    return {**delivery, "data": scrubbed["data"], "previous_attributes": scrubbed["previous_attributes"]}


async def claim(
    database: Database, settings: Settings, limit: int, busy: Mapping[UUID, int] | None = None
) -> list[dict[str, Any]]:
    """Lease up to `limit` endpoints with due deliveries, fairly across workspaces; `busy`: how
    many endpoints of each workspace this worker is sending to already (they count towards the
    workspace's share, WEBHOOK_WORKSPACE_SHARE of WORKER_CONCURRENCY)."""
    now = utcnow()
    share = workspace_share(settings.worker_concurrency, settings.webhook_workspace_share)
    async with UnitOfWork(database, write=True) as uow:
        endpoints = await uow.delivery_queue().claim_endpoints(
            now, now + timedelta(seconds=settings.worker_lease_seconds), limit, share=share, busy=busy or {}
        )
        await uow.commit()
    return endpoints


async def deliver_endpoint(
    database: Database, settings: Settings, client: httpx.AsyncClient, endpoint: dict[str, Any], stopping: Any
) -> int:
    """Send the endpoint's due deliveries (`endpoint` as `claim` leased it) until none are due,
    its turn (half the lease) is over, its lease was lost, or we stop: in batches (`_send_batch`),
    each batch's outcomes recorded in one transaction (`_record_batch`)."""
    sent = 0
    started = time.monotonic()
    deadline = started + settings.worker_lease_seconds / 2
    workspace_id, endpoint_id = endpoint["workspace_id"], endpoint["id"]
    lease = Lease(database, settings, workspace_id, endpoint_id, endpoint["lease_until"])
    backoff = 0.0

    def turn_over() -> bool:
        return time.monotonic() >= deadline or bool(stopping())

    try:
        # Its name lookups count against its workspace's share of the resolver threads.
        with outbound.on_behalf_of(workspace_id):
            while not turn_over():
                async with UnitOfWork(database, write=False) as uow:
                    due = await uow.delivery_queue().due_deliveries(workspace_id, endpoint_id, utcnow(), DUE_BATCH)
                if not due:
                    break
                while due and not turn_over():
                    async with lease.kept_alive():
                        if lease.lost:
                            return sent  # another worker has the queue: sending on would overlap it
                        batch: list[Sent] = []
                        try:
                            await _send_batch(database, settings, client, endpoint, due, turn_over, batch)
                        finally:
                            # Also when a send broke or we are cancelled: what was answered is
                            # recorded, not sent again. Even when the lease lapsed meanwhile: a
                            # late outcome never sets a delivery back (DeliveryQueue.record_attempts).
                            endpoint = await _record_batch(database, endpoint, batch)
                    sent += len(batch)
                    due = due[len(batch) :]
                    if not endpoint["enabled"]:
                        return sent
    except Exception:
        # Not a failed attempt (those are recorded and rescheduled) but the turn itself broke (the
        # database, a bug): the endpoint rests a while instead of being claimed again at the next
        # poll and failing the same way in a tight loop. The worker logs the failure.
        backoff = FAILED_TURN_BACKOFF_SECONDS
        raise
    finally:
        # Also when cancelled (the worker stopping): the queue is handed back, not left to lapse.
        await lease.release(backoff)
        logs.structured(
            log,
            "webhook_batch",
            "webhook sending turn",
            endpoint_id=str(endpoint_id),
            workspace_id=str(workspace_id),
            attempts=sent,
            lease_lost=lease.lost,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
        )
    return sent


@dataclass
class Sent:
    """One attempt made, its outcome not yet recorded."""

    delivery: dict[str, Any]
    started: datetime
    finished: datetime
    result: Attempt
    outcome: Outcome


async def _send_batch(
    database: Database,
    settings: Settings,
    client: httpx.AsyncClient,
    endpoint: dict[str, Any],
    due: list[dict[str, Any]],
    turn_over: Callable[[], bool],
    sent: list[Sent],
) -> None:
    """Send a prefix of `due` (in sequence order), up to the endpoint's `max_in_flight` at once: with
    1, each once the previous one is answered. No send starts once BATCH_SECONDS have passed since
    the first, the turn is over, or an answer disabled the endpoint; those left wait for the next
    batch. Each attempt made joins `sent` as it is answered (all of the prefix once this returns)."""
    window = asyncio.Semaphore(max(1, int(endpoint.get("max_in_flight") or 1)))
    # The endpoint's health as the answers so far tell it, in the order they come.
    health: dict[str, Any] = {"failing_since": endpoint["failing_since"], "disabled": False}
    started = time.monotonic()
    sends: list[asyncio.Task[None]] = []

    async def one(delivery: dict[str, Any]) -> None:
        try:
            sent.append(await _attempt(database, settings, client, endpoint, delivery, health))
        finally:
            window.release()

    try:
        for delivery in due:
            await window.acquire()
            if sends and (time.monotonic() - started >= BATCH_SECONDS or turn_over() or health["disabled"]):
                window.release()
                break
            sends.append(asyncio.create_task(one(delivery)))
        await asyncio.gather(*sends)
    except BaseException:
        for task in sends:
            task.cancel()
        raise


async def _attempt(
    database: Database,
    settings: Settings,
    client: httpx.AsyncClient,
    endpoint: dict[str, Any],
    delivery: dict[str, Any],
    health: dict[str, Any],
) -> Sent:
    """Send one delivery and decide its outcome (recorded later, with its batch's)."""
    now = utcnow()
    result = await send(
        client,
        url=endpoint["url"],
        secret=endpoint["secret"],
        message_id=str(delivery["event_id"]),
        body=envelope(await shown(database, delivery)),
        now=now,
        timeout_seconds=settings.webhook_timeout_seconds,
    )
    attempts = delivery["attempts"] + 1
    done = utcnow()
    outcome = after_attempt(
        attempts=attempts,
        status_code=result.status_code,
        now=done,
        failing_since=health["failing_since"],
        schedule=settings.webhook_retry_schedule,
        jitter=random.uniform(-1, 1),
    )
    health["failing_since"] = outcome.failing_since
    health["disabled"] = health["disabled"] or bool(outcome.disable_endpoint)
    if outcome.status == "succeeded":
        metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
        metrics.WEBHOOK_LAG.observe(max((done - delivery["occurred_at"]).total_seconds(), 0.0))
    else:
        metrics.WEBHOOK_DELIVERIES.labels("failed" if outcome.status == "failed" else "retried").inc()
    logs.structured(
        log,
        "webhook_delivery",
        "webhook delivery attempt",
        delivery_id=str(delivery["id"]),
        event_id=str(delivery["event_id"]),  # the request that recorded it names it (`event_ids`)
        request_id=delivery.get("request_id"),  # and that request's own line has this id
        event_type=delivery["event_type"],
        endpoint_id=str(endpoint["id"]),
        workspace_id=str(delivery["workspace_id"]),
        attempt=attempts,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        outcome=outcome.status,
        error=logs.scrub(result.error) if result.error else None,
    )
    return Sent(delivery, now, done, result, outcome)


async def _record_batch(database: Database, endpoint: dict[str, Any], batch: list[Sent]) -> dict[str, Any]:
    """Record a batch's attempts and outcomes in one transaction, and what they tell of the
    endpoint's health (failing since when; disabled on 410 Gone or 5 days failing). A crash before
    it commits loses none that was recorded: the batch's deliveries are still due and sent again
    with the same webhook-id (at-least-once). Returns the endpoint as it is now."""
    if not batch:
        return endpoint
    async with UnitOfWork(database, write=True) as uow:
        queue = uow.delivery_queue()
        moved = await queue.record_attempts(
            [
                (
                    {
                        "workspace_id": sent.delivery["workspace_id"],
                        "id": new_id(),
                        "delivery_id": sent.delivery["id"],
                        "attempted_at": sent.started,
                        "status_code": sent.result.status_code,
                        "duration_ms": sent.result.duration_ms,
                        "error": sent.result.error,
                        "response_excerpt": sent.result.response_excerpt,
                    },
                    {
                        "status": sent.outcome.status,
                        "last_attempt_at": sent.started,
                        "next_attempt_at": sent.outcome.next_attempt_at or sent.finished,
                        "last_status_code": sent.result.status_code,
                        "last_error": sent.result.error,
                        "updated_at": sent.finished,
                    },
                    sent.delivery["attempts"],
                )
                for sent in batch
            ]
        )
        done = max(sent.finished for sent in batch)
        changes: dict[str, Any] = {"updated_at": done, "updated_by": str(SYSTEM)}
        failing_since, disable = endpoint["failing_since"], None
        # In the order the answers came: the last one that moved its delivery has the say.
        for sent, moves in sorted(zip(batch, moved, strict=True), key=lambda pair: pair[0].finished):
            # A late attempt that moved nothing says nothing new about the endpoint's health
            # (unless the receiver said 410 Gone).
            if moves or sent.outcome.disable_endpoint:
                failing_since = sent.outcome.failing_since
            disable = disable or sent.outcome.disable_endpoint
        if failing_since != endpoint["failing_since"]:
            changes["failing_since"] = failing_since
        if disable:
            changes.update(enabled=False, disabled_reason=disable)
        if len(changes) > 2:  # a real change of the endpoint, not only bookkeeping
            updated = await queue.update_endpoint(endpoint["workspace_id"], endpoint["id"], changes)
            if updated is not None:
                if disable:
                    ctx = Context(uow, endpoint["workspace_id"], SYSTEM, done, scopes=SERVICE_SCOPES)
                    await events.record(
                        ctx, types.WEBHOOK_ENDPOINT_DISABLED, WebhookEndpointRead.model_validate(updated)
                    )
                endpoint = {**endpoint, **changes}
        await uow.commit()
    return endpoint


class Lease:
    """A sender's hold on an endpoint's queue. While an attempt is out it is renewed every quarter
    of WORKER_LEASE_SECONDS, so a slow receiver never lets another worker overlap the sender,
    while the lease of a sender that died still lapses within WORKER_LEASE_SECONDS. Every
    renewal and the release are conditional on the lease being still this sender's."""

    def __init__(
        self, database: Database, settings: Settings, workspace_id: UUID, endpoint_id: UUID, until: datetime
    ) -> None:
        self.database, self.workspace_id, self.endpoint_id = database, workspace_id, endpoint_id
        self.seconds = settings.worker_lease_seconds
        self.until: datetime = until
        self.lost = False

    async def renew(self) -> bool:
        renewed = utcnow() + timedelta(seconds=self.seconds)
        async with UnitOfWork(self.database, write=True) as uow:
            held = await uow.delivery_queue().renew_lease(self.workspace_id, self.endpoint_id, self.until, renewed)
            await uow.commit()
        if held:
            self.until = renewed
        else:
            self.lost = True
        return held

    @contextlib.asynccontextmanager
    async def kept_alive(self) -> AsyncIterator[None]:
        """Renewed now when less than half of it is left, then every quarter while the block
        runs (a renewal in progress finishes before the block's end is reported). With the
        defaults (60 s lease, turns of 30 s, 10 s attempts) that is never: no extra writes."""
        if not self.lost and self.until - utcnow() < timedelta(seconds=self.seconds / 2):
            await self.renew()
        done = asyncio.Event()

        async def beat() -> None:
            while not self.lost:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), self.seconds / 4)
                if done.is_set() or not await self.renew():
                    return

        beating = asyncio.create_task(beat())
        try:
            yield
        finally:
            done.set()
            await beating

    async def release(self, backoff: float = 0.0) -> None:
        """Hand the queue back, free to claim at once or after `backoff` seconds."""
        if not self.lost:
            free_from = utcnow() + timedelta(seconds=backoff)
            async with UnitOfWork(self.database, write=True) as uow:
                await uow.delivery_queue().release_endpoint(
                    self.workspace_id, self.endpoint_id, free_from, held=self.until
                )
                await uow.commit()
