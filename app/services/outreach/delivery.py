"""Delivering messages (the worker's `messages` loop): claim due ones under a lease, hand each to
its channel's provider, and record what the provider answered.

Nothing is lost or sent twice: a claim commits `sending` before any hand-off; the answer is
recorded after. A message is retried only when the provider provably never took it
(Outcome.RETRY); when the answer is lost after the hand-off (a timeout, a dropped connection, a
worker that died: its lease runs out) the message ends `unknown` and is never resent blindly.

Reconciliation: at a provider that finds a send by an id of ours sent with it (a `LookupAdapter`:
Kavenegar's `localid`), an `unknown` message is looked up later (`lookup_at`, held by one worker at
a time as a claim is). Found: it went, `sent` with the provider's id (and delivered or failed when
the provider says so already). Not found, once LOOKUP_GRACE has passed since the attempt and
within the provider's lookup window: it never arrived, so it is `queued` and sent again (an
attempt like a retry's: `failed` when none is left). A lookup that says nothing certain is tried
again later, until LOOKUP_FOR after the attempt; then the message stays `unknown` for good.
Providers without a lookup: `unknown` for good at once, as before."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app import metrics, outbound
from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.db.wakeups import MESSAGES
from app.domain.errors import NotFound
from app.domain.events import events as types
from app.domain.leads.sla import ActivityType, Direction
from app.domain.outreach import messages as rules
from app.domain.outreach.delivery import ChannelConfig, LookupResult, Outcome, Outgoing, SendResult, Trace
from app.domain.outreach.policy import quiet_until
from app.domain.outreach.vocabulary import ChannelType, MessageStatus, PersonRef, Purpose, SuppressionReason
from app.ids import utcnow
from app.schemas.leads.routing import ActivityCreate
from app.schemas.outreach.messages import MessageRead
from app.services.campaigns import campaigns
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events.events import record
from app.services.leads import activities
from app.services.outreach import channels, inbound, suppressions
from app.services.outreach import policy as messaging
from app.services.outreach.providers.base import adapter_for, lookup_for

log = logging.getLogger("app.worker.messages")

CLAIM_BATCH = 50
LEASE_MARGIN = timedelta(seconds=1)
LOST_BATCH = 100
# Unknown sends at a provider with a lookup: the first lookup comes LOOKUP_GRACE after the attempt
# was recorded `unknown` (a provider still working through a slow request is not mistaken for one
# that never got it: a "not found" is believed only from then on). A lookup that settles nothing is
# made again after as long as has passed since the attempt (so 1, 2, 4, 8 … minutes after it), at
# most LOOKUP_MAX_INTERVAL apart, until LOOKUP_FOR after the attempt (or the provider's lookup
# window, when shorter); then the message stays `unknown` for good.
LOOKUP_GRACE = timedelta(seconds=60)
LOOKUP_MAX_INTERVAL = timedelta(hours=1)
LOOKUP_FOR = timedelta(hours=6)
LOOKUP_BATCH = 50


class RateLimits:
    """Per channel, at most `max_per_second` hand-offs a second (the channel's setting, default 10),
    shared by this worker's concurrent sends, and by every worker: on PostgreSQL each pass first
    reserves its sends' slots on the channel's timeline in the database (`reserve`)."""

    def __init__(self) -> None:
        self._next: dict[UUID, float] = {}
        self._lock = asyncio.Lock()

    def reserved(self, channel_id: UUID, start: datetime) -> None:
        """This worker's next sends on the channel go from `start` on: the slots it reserved on the
        timeline all workers share (`MessageQueue.reserve_slots`)."""
        at = time.monotonic() + (start - utcnow()).total_seconds()
        self._next[channel_id] = max(self._next.get(channel_id, at), at)

    async def wait(self, channel_id: UUID, per_second: float, *, before: datetime | None = None) -> bool:
        """Sleep until the channel's next slot and take it; False, at once and without taking it,
        when that slot comes at or after `before` (a claim's lease would run out first)."""
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(channel_id, now))
            if before is not None and start + (utcnow() - before).total_seconds() >= now:
                return False
            self._next[channel_id] = start + 1.0 / max(per_second, 0.001)
        if start > now:
            await asyncio.sleep(start - now)
        return True


async def deliver_due(
    database: Database,
    settings: Settings,
    limits: RateLimits,
    *,
    stopping: Callable[[], bool] = lambda: False,
    limit: int = CLAIM_BATCH,
) -> int:
    """One pass: settle lost sends, look up unknown ones due, claim due messages, send them
    (concurrently, each channel within its rate), then record every answer in one transaction; how
    many were claimed. A claim
    not yet handed off when the worker is stopping, or whose lease would run out before its send
    could end, is given back (queued again) instead of being sent late."""
    now = utcnow()
    async with UnitOfWork(database, write=False) as uow:  # reads: an idle worker takes no write lock
        queue = uow.message_queue()
        lost, due, lookup = await queue.any_lost(now), await queue.next_due(), await queue.next_lookup()
    if lost:
        await settle_lost(database, now)
    if lookup is not None and lookup <= now and not stopping():
        await reconcile_due(database, settings, limits)
    if due is None or due > now:
        return 0
    lease_end = now + timedelta(seconds=settings.worker_lease_seconds)
    async with UnitOfWork(database) as uow:
        claimed = await uow.message_queue().claim(now, lease_end, limit)
        await uow.commit()
    if not claimed:
        return 0
    configs = await _configs(database, claimed)
    await reserve(database, limits, claimed, configs, lease_end)
    results = await asyncio.gather(
        *(_send_one(settings, limits, configs.get(m["channel_id"]), m, lease_end, stopping) for m in claimed)
    )
    _count(claimed, results, len(settings.message_retry_schedule))
    async with UnitOfWork(database) as uow:
        answered = list(zip(claimed, results, strict=True))
        sent = [(m, r) for m, r in answered if r is not None and r.outcome is Outcome.SENT]
        rest = [(m, r) for m, r in answered if r is None or r.outcome is not Outcome.SENT]
        try:
            async with uow.savepoint():
                await _settle_sent(uow, sent)
        except Exception:
            log.exception("recording %d sends together failed; recording them one by one", len(sent))
            rest = sent + rest
        for message, result in rest:
            ctx = Context(uow, message["workspace_id"], SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
            try:
                async with uow.savepoint():  # one message's failure to record never loses the others'
                    if result is None:
                        await ctx.messages.release(message["id"], int(message["attempts"]), ctx.now)
                        ctx.uow.wake(MESSAGES)
                    else:
                        config = configs.get(message["channel_id"])
                        looks_up = config is not None and lookup_for(config.provider) is not None
                        await _settle(ctx, message, result, retry_schedule=settings.message_retry_schedule,
                                      look_up=looks_up)  # fmt: skip
            except Exception:
                log.exception("recording the send of message %s failed; it stays sending until its lease ends",
                              message["id"])  # fmt: skip
        await uow.commit()
    return len(claimed)


def _count(claimed: Sequence[Mapping[str, Any]], results: Sequence[SendResult | None], retries: int) -> None:
    """crm_messages_total: each send's outcome as `_settle` records it (a RETRY with no attempts
    left fails; a claim handed back unsent is `released`)."""
    for message, result in zip(claimed, results, strict=True):
        if result is None:
            outcome = "released"
        elif result.outcome is Outcome.RETRY:
            outcome = "retried" if int(message["attempts"]) <= retries else "failed"
        else:
            outcome = result.outcome.value
        metrics.MESSAGES.labels(str(message["channel"]), outcome).inc()


async def reserve(
    database: Database,
    limits: RateLimits,
    claimed: Sequence[Mapping[str, Any]],
    configs: Mapping[UUID, ChannelConfig],
    lease_end: datetime,
) -> None:
    """Reserve, per channel, as many slots as this pass claimed messages on the timeline every
    worker shares, so that together they keep to the channel's `max_per_second` (in one short
    transaction; the channel's row is locked only while its reservation is written)."""
    counts: dict[UUID, int] = {}
    for message in claimed:
        if message["channel_id"] in configs:
            counts[message["channel_id"]] = counts.get(message["channel_id"], 0) + 1
    if not counts or database.engine.dialect.name != "postgresql":  # SQLite: one process sends
        return
    async with UnitOfWork(database) as uow:
        queue = uow.message_queue()
        for channel_id, count in sorted(counts.items()):  # one order: two workers never deadlock
            config = configs[channel_id]
            per_second = float(config.settings.get("max_per_second") or 10)
            start = await queue.reserve_slots(config.workspace_id, channel_id, count, utcnow(), per_second,
                                              until=lease_end - LEASE_MARGIN)  # fmt: skip
            limits.reserved(channel_id, start)
        await uow.commit()


async def _configs(database: Database, claimed: Sequence[Mapping[str, Any]]) -> dict[UUID, ChannelConfig]:
    """The channels of the claimed messages, each read (and its secrets opened) once."""
    found: dict[UUID, ChannelConfig] = {}
    async with UnitOfWork(database, write=False) as uow:
        for message in claimed:
            channel_id = message["channel_id"]
            if channel_id is None or channel_id in found:
                continue
            ctx = Context(uow, message["workspace_id"], SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
            config = await channels.config_of(ctx, channel_id)
            if config is not None:
                found[channel_id] = config
    return found


async def close_connections() -> None:
    """Close the SMTP sessions kept open for the next messages (the worker stopping)."""
    from app.services.outreach.providers.smtp import ADAPTER

    await ADAPTER.connections.close_all()


async def next_due(database: Database) -> datetime | None:
    """When the loop has work next: the earliest queued message, or lookup of an unknown one."""
    async with UnitOfWork(database, write=False) as uow:
        due = [d for d in (await uow.message_queue().next_due(), await uow.message_queue().next_lookup()) if d]
    return min(due) if due else None


async def settle_lost(database: Database, now: datetime) -> int:
    """Messages whose worker died while sending them (lease over) end `unknown` (to be looked up
    where their provider can)."""
    async with UnitOfWork(database) as uow:
        lost = await uow.message_queue().lost(now, LOST_BATCH)
        for message in lost:
            ctx = Context(uow, message["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
            channel = await ctx.channels.get(message["channel_id"]) if message["channel_id"] else None
            looks_up = channel is not None and lookup_for(channel["provider"]) is not None
            await _settle(ctx, message, SendResult(Outcome.UNKNOWN, detail="the sending worker stopped mid-send"),
                          look_up=looks_up)  # fmt: skip
        await uow.commit()
    return len(lost)


async def reconcile_due(
    database: Database, settings: Settings, limits: RateLimits, *, limit: int = LOOKUP_BATCH
) -> int:
    """Look the unknown messages whose lookup is due up at their providers (held by this worker
    meanwhile, as a claim holds a send), then record what each lookup found in one transaction
    (each message in a savepoint of its own); how many were looked up."""
    now = utcnow()
    hold_until = now + timedelta(seconds=settings.worker_lease_seconds)
    async with UnitOfWork(database) as uow:
        held = await uow.message_queue().claim_lookups(now, hold_until, limit)
        await uow.commit()
    if not held:
        return 0
    configs = await _configs(database, held)
    found = await asyncio.gather(*(_look_up(settings, limits, configs.get(m["channel_id"]), m) for m in held))
    async with UnitOfWork(database) as uow:
        for message, result in zip(held, found, strict=True):
            config = configs.get(message["channel_id"])
            adapter = lookup_for(config.provider) if config is not None else None
            ctx = Context(uow, message["workspace_id"], SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
            try:
                async with uow.savepoint():
                    await _reconcile(ctx, message, result, window=adapter.lookup_window if adapter else None,
                                     retry_schedule=settings.message_retry_schedule)  # fmt: skip
            except Exception:
                log.exception("recording the lookup of message %s failed; it is looked up again after its hold",
                              message["id"])  # fmt: skip
        await uow.commit()
    return len(held)


async def _look_up(
    settings: Settings, limits: RateLimits, config: ChannelConfig | None, message: Mapping[str, Any]
) -> LookupResult | None:
    """What the message's provider knows of its send; None when it can no longer be asked (the
    channel was archived, or its provider offers no lookup)."""
    adapter = lookup_for(config.provider) if config is not None else None
    if config is None or adapter is None:
        return None
    if not config.secrets_readable:  # the key may be set back meanwhile: asked again later
        return LookupResult(Trace.INCONCLUSIVE, detail=channels.UNREADABLE)
    await limits.wait(config.id, float(config.settings.get("max_per_second") or 10))
    try:
        with outbound.on_behalf_of(config.workspace_id):
            return await adapter.look_up(config, message["id"], allow_loopback=settings.outbound_allow_loopback,
                                         timeout=settings.webhook_timeout_seconds)  # fmt: skip
    except Exception:
        log.exception("looking message %s up failed", message["id"])
        return LookupResult(Trace.INCONCLUSIVE, detail="an internal error interrupted the lookup")


async def _reconcile(
    ctx: Context,
    message: Mapping[str, Any],
    result: LookupResult | None,
    *,
    window: timedelta | None,
    retry_schedule: Sequence[float],
) -> None:
    """Record what the lookup of an unknown message found (see the module's docstring); nothing
    when the lookup's hold is no longer the message's (a delivery report or another worker
    settled it meanwhile)."""
    now, held, message_id = ctx.now, message["lookup_at"], message["id"]
    since = await ctx.messages.became(message_id, MessageStatus.UNKNOWN.value) or message["updated_at"]
    elapsed = now - since
    if result is None:
        await ctx.messages.settle_lookup(message_id, held, {"lookup_at": None})
        return
    if result.trace is Trace.FOUND:
        values = {"status": MessageStatus.SENT.value, "sent_at": now, "provider_message_id": result.provider_message_id,
                  "last_error": None, "lookup_at": None, "updated_at": now, "updated_by": str(ctx.actor)}  # fmt: skip
        row = await ctx.messages.settle_lookup(message_id, held, values)
        if row is None:
            return
        await ctx.messages.record_status(message_id, MessageStatus.SENT.value, now, f"found: {result.detail}")
        await record(ctx, types.MESSAGE_SENT, MessageRead.model_validate(row))
        if row["member_id"] is not None:
            await _touch(ctx, row)
        if result.status is not None:  # already delivered or failed: as its delivery report would
            await inbound.apply_found(ctx, row, result.status, result.detail)
        return
    believed = window is not None and LOOKUP_GRACE <= elapsed <= window
    if result.trace is Trace.NOT_FOUND and believed:
        await _resend(ctx, message, result, retry_schedule)
        return
    # Nothing certain (or a "not found" too early or too late to prove anything): ask again later.
    last = since + min(LOOKUP_FOR, window or LOOKUP_FOR)
    again = now + min(max(elapsed, LOOKUP_GRACE), LOOKUP_MAX_INTERVAL)
    if elapsed < LOOKUP_GRACE:
        again = since + LOOKUP_GRACE
    if again > last:
        log.warning("message %s stays unknown: its provider's lookups settled nothing (%s)", message_id,
                    result.detail)  # fmt: skip
        await ctx.messages.settle_lookup(message_id, held, {"lookup_at": None})
        return
    await ctx.messages.settle_lookup(message_id, held, {"lookup_at": again})


async def _resend(
    ctx: Context, message: Mapping[str, Any], result: LookupResult, retry_schedule: Sequence[float]
) -> None:
    """The provider proved the message never arrived: `queued` to be sent again (an attempt like a
    retry's, due at once but never inside a marketing message's quiet hours), or `failed` when
    no attempt is left."""
    now, attempt = ctx.now, int(message["attempts"])
    detail = f"not found at the provider: {result.detail}"
    values: dict[str, Any] = {"updated_at": now, "updated_by": str(ctx.actor), "lookup_at": None,
                              "last_error": detail[:1000]}  # fmt: skip
    event = None
    if attempt <= len(retry_schedule):
        status = MessageStatus.QUEUED
        values["send_at"] = await _retry_at(ctx, message, now)
    else:
        status, event = MessageStatus.FAILED, types.MESSAGE_FAILED
        values["failed_at"] = now
    values["status"] = status.value
    row = await ctx.messages.settle_lookup(message["id"], message["lookup_at"], values)
    if row is None:
        return
    await ctx.messages.record_status(message["id"], status.value, now, detail)
    if event is not None:
        await record(ctx, event, MessageRead.model_validate(row))
    if row["campaign_id"] is not None:
        await campaigns.message_moved(ctx, row["campaign_id"], MessageStatus.UNKNOWN.value, status.value)
    if status is MessageStatus.QUEUED:
        ctx.uow.wake(MESSAGES)


async def _send_one(
    settings: Settings,
    limits: RateLimits,
    config: ChannelConfig | None,
    message: Mapping[str, Any],
    lease_end: datetime,
    stopping: Callable[[], bool],
) -> SendResult | None:
    """The provider's answer to one claimed message, or None when it was not handed off (given back)."""
    if config is None:
        return SendResult(Outcome.FAILED, detail="the channel was archived before the message went")
    if not config.secrets_readable:  # nothing handed off: retried (the key may be set back meanwhile), then failed
        return SendResult(Outcome.RETRY, detail=channels.UNREADABLE)
    timeout = settings.webhook_timeout_seconds
    try:
        outgoing = outgoing_of(config, message)
    except Exception as exc:  # nothing was handed off: the message cannot be built, it fails
        log.exception("building message %s failed", message["id"])
        return SendResult(Outcome.FAILED, detail=f"the message could not be built: {type(exc).__name__}")
    # A slot past the lease (less a margin) is not waited for: the message is given back at once,
    # never left asleep while `sending` for another worker to settle as unknown.
    if not await limits.wait(config.id, float(config.settings.get("max_per_second") or 10),
                             before=lease_end - LEASE_MARGIN):  # fmt: skip
        return None
    # Stopping, or the lease (nearly) over after waiting for the channel's rate: give it back rather
    # than send a message another worker may already be settling as unknown.
    if stopping() or utcnow() + LEASE_MARGIN >= lease_end:
        return None
    try:
        with outbound.on_behalf_of(config.workspace_id):
            return await adapter_for(config.provider).send(
                config, outgoing, allow_loopback=settings.outbound_allow_loopback, timeout=timeout
            )
    except Exception:  # a bug in the middle of a send: perhaps handed off
        log.exception("sending message %s failed", message["id"])
        return SendResult(Outcome.UNKNOWN, detail="an internal error interrupted the send")


def outgoing_of(config: ChannelConfig, message: Mapping[str, Any]) -> Outgoing:
    """The message as its channel's adapter sends it; an email is built here, with its Message-ID."""
    channel = ChannelType(message["channel"])
    if channel is ChannelType.EMAIL:
        unsubscribe = _unsubscribe_of(message) if message["purpose"] == "marketing" else None
        parts = rules.EmailParts(
            from_email=str(config.settings["from_email"]),
            from_name=config.settings.get("from_name"),
            to=str(message["to_address"]),
            subject=str(message["subject"] or ""),
            body_text=str(message["body_text"] or ""),
            body_html=message["body_html"],
            reply_to=config.settings.get("reply_to"),
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto=config.settings.get("unsubscribe_mailbox") if unsubscribe else None,
        )
        mime, _ = rules.build_email(parts, now=utcnow(), message_id=message["email_message_id"])
        return Outgoing(message["id"], channel, parts.to, mime=mime, envelope_from=parts.from_email)
    template = None
    if channel is ChannelType.WHATSAPP and message.get("whatsapp_template"):
        template = dict(message["whatsapp_template"])
    return Outgoing(message["id"], channel, str(message["to_address"]), body_text=str(message["body_text"] or ""),
                    whatsapp_template=template)  # fmt: skip


def _unsubscribe_of(message: Mapping[str, Any]) -> str:
    from app.services.outreach import links

    return links.unsubscribe_url(message["workspace_id"], message["id"])


async def _settle(
    ctx: Context,
    message: Mapping[str, Any],
    result: SendResult,
    *,
    retry_schedule: Sequence[float] = (),
    look_up: bool = False,
) -> None:
    """Record the provider's answer: sent, bounced (and suppressed), failed, unknown (with
    `look_up`: to be looked up at the provider after LOOKUP_GRACE), or queued again for a later
    attempt while attempts remain."""
    now = ctx.now
    attempt = int(message["attempts"])
    values: dict[str, Any] = {"lease_until": None, "updated_at": now, "updated_by": str(ctx.actor)}
    event = None
    if result.outcome is Outcome.SENT:
        status, event = MessageStatus.SENT, types.MESSAGE_SENT
        values.update(sent_at=now, provider_message_id=result.provider_message_id, last_error=None)
    elif result.outcome is Outcome.RETRY and attempt <= len(retry_schedule):
        status = MessageStatus.QUEUED
        values.update(send_at=await _retry_at(ctx, message, now + timedelta(seconds=retry_schedule[attempt - 1])))
    elif result.outcome is Outcome.BOUNCED:
        status, event = MessageStatus.BOUNCED, types.MESSAGE_BOUNCED
        values.update(failed_at=now)
    elif result.outcome is Outcome.UNKNOWN:
        status = MessageStatus.UNKNOWN
        if look_up:
            values["lookup_at"] = now + LOOKUP_GRACE
    else:  # FAILED, or RETRY with no attempts left
        status, event = MessageStatus.FAILED, types.MESSAGE_FAILED
        values.update(failed_at=now)
    values["status"] = status.value
    values["last_error"] = None if status is MessageStatus.SENT else result.detail[:1000] or None
    row = await ctx.messages.settle(message["id"], attempt, values)
    if row is None:
        return  # not this claim's any more: settled by another worker after its lease ran out
    await ctx.messages.record_status(message["id"], status.value, now, result.detail or None)
    if status is MessageStatus.BOUNCED and message["to_address"]:
        await suppressions.add(ctx, ChannelType(message["channel"]), message["to_address"], SuppressionReason.BOUNCED,
                               message_id=message["id"])  # fmt: skip
    if event is not None:
        await record(ctx, event, MessageRead.model_validate(row))
    if status is MessageStatus.SENT and row["member_id"] is not None:
        await _touch(ctx, row)
    if row.get("early_report") and status in (MessageStatus.SENT, MessageStatus.UNKNOWN):
        await inbound.apply_held(ctx, row)  # the provider's report outran this record
    if status is MessageStatus.QUEUED:
        ctx.uow.wake(MESSAGES)


async def _settle_sent(uow: UnitOfWork, sent: Sequence[tuple[Mapping[str, Any], SendResult]]) -> None:
    """`_settle` for the sends that went, per workspace in a few statements: the messages, their
    status history, their events (and a member's touch, a report that came early) as one by one."""
    now = utcnow()
    by_workspace: dict[UUID, list[tuple[Mapping[str, Any], SendResult]]] = {}
    for message, result in sent:
        by_workspace.setdefault(message["workspace_id"], []).append((message, result))
    for workspace_id, pairs in by_workspace.items():
        ctx = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
        details = {m["id"]: r.detail for m, r in pairs}
        rows = await ctx.messages.settle_sent(
            [(m["id"], int(m["attempts"]), r.provider_message_id) for m, r in pairs], now, str(ctx.actor)
        )
        await ctx.messages.record_statuses([(row["id"], MessageStatus.SENT.value, now, details[row["id"]] or None)
                                            for row in rows])  # fmt: skip
        for row in rows:
            await record(ctx, types.MESSAGE_SENT, MessageRead.model_validate(row))
            if row["member_id"] is not None:
                await _touch(ctx, row)
            if row.get("early_report"):
                await inbound.apply_held(ctx, row)  # the provider's report outran this record


async def _retry_at(ctx: Context, message: Mapping[str, Any], at: datetime) -> datetime:
    """When a retried message goes again: marketing never inside the recipient's quiet hours (as
    when it was queued), so a retry that would fall in them waits for their end."""
    if message["purpose"] != Purpose.MARKETING.value:
        return at
    policy = await messaging.policy(ctx)
    if policy.quiet_hours is None:
        return at
    lead_id = message["lead_id"]
    person = PersonRef("lead", lead_id) if lead_id else PersonRef("contact", message["contact_id"])
    try:
        zone = await messaging.timezone_of(ctx, person)
    except NotFound:
        return at
    return quiet_until(at, zone, policy.quiet_hours) or at


async def _touch(ctx: Context, message: Mapping[str, Any]) -> None:
    """A message a member sent (with a key bound to them) is their outbound touch on the person's
    timeline, and like any human touch it may be the lead's first response."""
    kind = {"email": ActivityType.EMAIL, "sms": ActivityType.SMS, "whatsapp": ActivityType.WHATSAPP}[message["channel"]]
    person = "lead_id" if message["lead_id"] is not None else "contact_id"
    activity = ActivityCreate.model_validate(
        {
            person: message[person],
            "type": kind.value,
            "direction": Direction.OUTBOUND.value,
            "member_id": message["member_id"],
            "subject": (message["subject"] or f"{kind.value} message")[:300],
        }
    )
    await activities.create(ctx, {**activity.model_dump(), "occurred_at": ctx.now})
