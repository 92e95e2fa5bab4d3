"""Delivering messages (the worker's `messages` loop): claim due ones under a lease, hand each to
its channel's provider, and record what the provider answered.

Nothing is lost or sent twice: a claim commits `sending` before any hand-off; the answer is
recorded after. A message is retried only when the provider provably never took it
(Outcome.RETRY); when the answer is lost after the hand-off (a timeout, a dropped connection, a
worker that died: its lease runs out) the message ends `unknown` and is never resent blindly."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app import outbound
from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.db.wakeups import MESSAGES
from app.domain.errors import NotFound
from app.domain.events import events as types
from app.domain.leads.sla import ActivityType, Direction
from app.domain.outreach import messages as rules
from app.domain.outreach.delivery import ChannelConfig, Outcome, Outgoing, SendResult
from app.domain.outreach.policy import quiet_until
from app.domain.outreach.vocabulary import ChannelType, MessageStatus, PersonRef, Purpose, SuppressionReason
from app.ids import utcnow
from app.schemas.leads.routing import ActivityCreate
from app.schemas.outreach.messages import MessageRead
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events.events import record
from app.services.leads import activities
from app.services.outreach import channels, inbound, suppressions
from app.services.outreach import policy as messaging
from app.services.outreach.providers.base import adapter_for

log = logging.getLogger("app.worker.messages")

CLAIM_BATCH = 50
LEASE_MARGIN = timedelta(seconds=1)
LOST_BATCH = 100


class RateLimits:
    """Per channel, at most `max_per_second` hand-offs a second (the channel's setting, default 10),
    shared by this worker's concurrent sends."""

    def __init__(self) -> None:
        self._next: dict[UUID, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, channel_id: UUID, per_second: float) -> None:
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(channel_id, now))
            self._next[channel_id] = start + 1.0 / max(per_second, 0.001)
        if start > now:
            await asyncio.sleep(start - now)


async def deliver_due(
    database: Database,
    settings: Settings,
    limits: RateLimits,
    *,
    stopping: Callable[[], bool] = lambda: False,
    limit: int = CLAIM_BATCH,
) -> int:
    """One pass: settle lost sends, claim due messages, send them (concurrently, each channel
    within its rate), then record every answer in one transaction; how many were claimed. A claim
    not yet handed off when the worker is stopping, or whose lease would run out before its send
    could end, is given back (queued again) instead of being sent late."""
    now = utcnow()
    async with UnitOfWork(database, write=False) as uow:  # reads: an idle worker takes no write lock
        lost, due = await uow.message_queue().any_lost(now), await uow.message_queue().next_due()
    if lost:
        await settle_lost(database, now)
    if due is None or due > now:
        return 0
    lease_end = now + timedelta(seconds=settings.worker_lease_seconds)
    async with UnitOfWork(database) as uow:
        claimed = await uow.message_queue().claim(now, lease_end, limit)
        await uow.commit()
    if not claimed:
        return 0
    configs = await _configs(database, claimed)
    results = await asyncio.gather(
        *(_send_one(settings, limits, configs.get(m["channel_id"]), m, lease_end, stopping) for m in claimed)
    )
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
                        await _settle(ctx, message, result, retry_schedule=settings.message_retry_schedule)
            except Exception:
                log.exception("recording the send of message %s failed; it stays sending until its lease ends",
                              message["id"])  # fmt: skip
        await uow.commit()
    return len(claimed)


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
    async with UnitOfWork(database, write=False) as uow:
        return await uow.message_queue().next_due()


async def settle_lost(database: Database, now: datetime) -> int:
    """Messages whose worker died while sending them (lease over) end `unknown`."""
    async with UnitOfWork(database) as uow:
        lost = await uow.message_queue().lost(now, LOST_BATCH)
        for message in lost:
            ctx = Context(uow, message["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
            await _settle(ctx, message, SendResult(Outcome.UNKNOWN, detail="the sending worker stopped mid-send"))
        await uow.commit()
    return len(lost)


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
    await limits.wait(config.id, float(config.settings.get("max_per_second") or 10))
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
    ctx: Context, message: Mapping[str, Any], result: SendResult, *, retry_schedule: Sequence[float] = ()
) -> None:
    """Record the provider's answer: sent, bounced (and suppressed), failed, unknown, or queued
    again for a later attempt while attempts remain."""
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
