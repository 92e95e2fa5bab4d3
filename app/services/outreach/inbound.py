"""What comes back from a message: a tracked click, an open, an unsubscribe, and what providers
report (delivery, complaints, replies). Opens and clicks are engagements of the lead or contact
(a lead is rescored on them, as on any engagement); replies are inbound activities on the
person's timeline; an opt-out keyword or an unsubscribe opts the address out of that channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from app.domain.events import events as types
from app.domain.leads.scoring import Engagement
from app.domain.leads.sla import ActivityType, Direction
from app.domain.outreach import messages as rules
from app.domain.outreach.delivery import CallbackEvent, CallbackKind, ChannelConfig
from app.domain.outreach.policy import is_opt_out_keyword
from app.domain.outreach.vocabulary import (
    ChannelType,
    ConsentSource,
    ConsentStatus,
    MessageStatus,
    PersonRef,
    SuppressionReason,
    address_key,
)
from app.ids import new_id
from app.schemas.leads.routing import ActivityCreate
from app.schemas.outreach.messages import MessageRead
from app.services.campaigns import campaigns
from app.services.context import Context
from app.services.events.events import record
from app.services.leads import activities
from app.services.leads.scoring import rescore
from app.services.outreach import consents, suppressions
from app.services.outreach import policy as messaging

Row = dict[str, Any]


def _person(message: Mapping[str, Any]) -> PersonRef:
    if message["lead_id"] is not None:
        return PersonRef("lead", message["lead_id"])
    return PersonRef("contact", message["contact_id"])


async def clicked(ctx: Context, message_id: UUID, position: int) -> str | None:
    """The link a tracked click leads to (None: no such message or link), with the click recorded:
    an `email_click` engagement, the message's first click time, `message.clicked`."""
    message = await ctx.messages.get(message_id)
    targets = (message or {}).get("links") or []
    if message is None or not 0 <= position < len(targets):
        return None
    target = str(targets[position])
    if message["opened_at"] is None:  # a click proves the open the pixel did not report (images off)
        await opened(ctx, message_id)
    await _engaged(ctx, message, "email_click", {"message_id": str(message_id), "url": target})
    first = message["clicked_at"] is None
    row = await ctx.messages.set_fields(message_id, {"clicked_at": message["clicked_at"] or ctx.now})
    if first and row is not None:
        await record(ctx, types.MESSAGE_CLICKED, MessageRead.model_validate(row))
    return target


async def opened(ctx: Context, message_id: UUID) -> None:
    """The open pixel was fetched: the first open is an `email_open` engagement and `message.opened`
    (mail clients and proxies fetch it again and again: later fetches change nothing)."""
    message = await ctx.messages.get(message_id)
    if message is None or message["opened_at"] is not None:
        return
    await _engaged(ctx, message, "email_open", {"message_id": str(message_id)})
    row = await ctx.messages.set_fields(message_id, {"opened_at": ctx.now})
    if row is not None:
        await record(ctx, types.MESSAGE_OPENED, MessageRead.model_validate(row))


async def unsubscribe_target(ctx: Context, message_id: UUID) -> Row | None:
    """The message an unsubscribe link names (None: unknown)."""
    return await ctx.messages.get(message_id)


async def unsubscribed(ctx: Context, message_id: UUID) -> bool:
    """One-click unsubscribe (RFC 8058) or the confirmation page's button: on the message's
    channel, the consent of its person and of everyone else at the address it went to (the contact
    the lead became, a duplicate) becomes `opted_out` (marketing stops; transactional messages
    still go). Whether the message was known."""
    message = await ctx.messages.get(message_id)
    if message is None:
        return False
    channel = ChannelType(message["channel"])
    proof = {"message_id": str(message_id)}
    if message["unsubscribed_at"] is None:  # the first use counts (a campaign's unsubscribe rate)
        await ctx.messages.set_fields(message_id, {"unsubscribed_at": ctx.now})
    await consents.record(ctx, _person(message), channel, ConsentStatus.OPTED_OUT, ConsentSource.UNSUBSCRIBE, proof)
    if message["address_key"]:  # everyone at that address: the lead, the contact it became, a duplicate
        await consents.opt_out_address(ctx, channel, message["address_key"], ConsentSource.UNSUBSCRIBE, proof)
    return True


async def _engaged(ctx: Context, message: Mapping[str, Any], kind: str, properties: Row) -> None:
    """An engagement of the message's lead (rescored) or contact."""
    row = {
        "id": new_id(),
        "lead_id": message["lead_id"],
        "contact_id": message["contact_id"],
        "visitor_id": None,
        "type": kind,
        "occurred_at": ctx.now,
        "properties": properties,
        "origin": "message",
        "created_at": ctx.now,
    }
    ctx.engagements.add([row])
    if message["lead_id"] is not None:
        lead = await ctx.leads.get(message["lead_id"])
        if lead is not None and lead["merged_into_id"] is None:
            await rescore(ctx, lead, cause=f"engagement {kind}", extra=[Engagement(kind, ctx.now)])


# -- provider callbacks ---------------------------------------------------------------------------


async def apply_callback(ctx: Context, channel: ChannelConfig, events: Sequence[CallbackEvent]) -> None:
    """Apply what a provider reported, in order: delivery reports move their messages forward (a
    late or repeated report changes nothing), a complaint suppresses the address, a reply is an
    inbound activity of the person whose phone wrote (and an opt-out keyword opts them out)."""
    ids = [e.provider_message_id for e in events if e.provider_message_id and e.kind is not CallbackKind.INBOUND]
    known = await ctx.messages.by_provider_ids(channel.id, ids)
    by_id = await ctx.messages.on_channel(channel.id, [e.message_id for e in events if e.message_id])
    for event in events:
        if event.kind is CallbackKind.STATUS and event.status is not None:
            # our own id first (the provider's may not be recorded yet), then the provider's
            message = by_id.get(event.message_id) if event.message_id is not None else None
            message = message or known.get(event.provider_message_id or "")
            if message is not None:
                message = await _report(ctx, message, event)
                by_id[message["id"]] = message
                if message["provider_message_id"]:
                    known[message["provider_message_id"]] = message
        elif event.kind is CallbackKind.COMPLAINT:
            message = by_id.get(event.message_id) if event.message_id is not None else None
            message = message or known.get(event.provider_message_id or "")
            if message is None:
                continue  # only a complaint about a message this channel sent counts
            if message["complained_at"] is None:
                await ctx.messages.set_fields(message["id"], {"complained_at": ctx.now})
            if message["to_address"]:
                await suppressions.add(ctx, channel.type, message["to_address"], SuppressionReason.COMPLAINED,
                                       message_id=message["id"])  # fmt: skip
        elif event.kind is CallbackKind.INBOUND and event.from_address:
            await _reply(ctx, channel, event)


async def _report(ctx: Context, message: Row, event: CallbackEvent) -> Row:
    """A delivery report about one message. One still `sending` (the provider answered the
    callback before the worker recorded the hand-off) keeps it for the worker's settle; one
    whose provider id was never recorded (`unknown`: the answer was lost) learns it here."""
    assert event.status is not None
    report = {"status": event.status.value, "detail": event.detail, "provider_message_id": event.provider_message_id}
    if message["status"] == MessageStatus.SENDING.value:
        held = message.get("early_report") or {}
        if not held or rules.advances(MessageStatus(held["status"]), event.status):
            if await ctx.messages.hold_report(message["id"], report):
                return {**message, "early_report": report}
            message = await ctx.messages.get(message["id"]) or message  # settled meanwhile: apply it now
        else:
            return message
    if not message["provider_message_id"] and event.provider_message_id:
        learnt = {"provider_message_id": event.provider_message_id}
        message = await ctx.messages.set_fields(message["id"], learnt) or message
    return await _reported(ctx, message, event.status, event.detail)


async def apply_held(ctx: Context, message: Row) -> Row:
    """After the worker recorded a send: the delivery report that came while it was `sending`."""
    report = message.get("early_report")
    if not report:
        return message
    values: Row = {"early_report": None}
    if not message["provider_message_id"] and report.get("provider_message_id"):
        values["provider_message_id"] = report["provider_message_id"]
    message = await ctx.messages.set_fields(message["id"], values) or message
    return await _reported(ctx, message, MessageStatus(report["status"]), str(report.get("detail") or ""))


async def apply_found(ctx: Context, message: Row, status: MessageStatus, detail: str) -> Row:
    """The status a provider's lookup found a send in (delivered, failed), applied as its delivery
    report would be."""
    return await _reported(ctx, message, status, detail)


async def _reported(ctx: Context, message: Row, status: MessageStatus, detail: str) -> Row:
    current = MessageStatus(message["status"])
    if not rules.advances(current, status):
        return message
    values: Row = {"status": status.value}
    event = None
    if status is MessageStatus.DELIVERED:
        values["delivered_at"] = ctx.now
        event = types.MESSAGE_DELIVERED
    elif status is MessageStatus.SENT:
        values["sent_at"] = message["sent_at"] or ctx.now
        event = types.MESSAGE_SENT
    elif status in (MessageStatus.FAILED, MessageStatus.BOUNCED):
        values["failed_at"] = ctx.now
        values["last_error"] = detail[:1000] or None
        event = types.MESSAGE_FAILED if status is MessageStatus.FAILED else types.MESSAGE_BOUNCED
        if status is MessageStatus.BOUNCED and message["to_address"]:
            await suppressions.add(ctx, ChannelType(message["channel"]), message["to_address"],
                                   SuppressionReason.BOUNCED, message_id=message["id"])  # fmt: skip
    row = await ctx.messages.set_fields(message["id"], values) or message
    await ctx.messages.record_status(message["id"], status.value, ctx.now, detail or None)
    if event is not None:
        await record(ctx, event, MessageRead.model_validate(row))
    if message.get("campaign_id") is not None:  # a late report moves its campaign's progress
        await campaigns.message_moved(ctx, message["campaign_id"], current.value, status.value)
    return row


async def _reply(ctx: Context, channel: ChannelConfig, event: CallbackEvent) -> None:
    assert event.from_address is not None
    key = address_key(channel.type, event.from_address)
    text = (event.text or "").strip()
    policy = await messaging.policy(ctx)
    opted_out = is_opt_out_keyword(text, policy.opt_out_keywords)
    if opted_out:
        await consents.opt_out_address(ctx, channel.type, key, ConsentSource.REPLY_KEYWORD)
    answered = await ctx.messages.latest_to(key, [channel.type.value])
    if opted_out and answered is not None and answered["unsubscribed_at"] is None:
        # the message answered with STOP: what a campaign's pilot counts as an unsubscribe
        answered = await ctx.messages.set_fields(answered["id"], {"unsubscribed_at": ctx.now}) or answered
    person = _person(answered) if answered is not None else await _by_phone(ctx, key)
    if person is None:
        return  # a number the workspace does not know: nothing to attach it to
    kind = ActivityType.WHATSAPP if channel.type is ChannelType.WHATSAPP else ActivityType.SMS
    activity = ActivityCreate.model_validate(
        {
            person.column: person.id,
            "type": kind.value,
            "direction": Direction.INBOUND.value,
            "subject": "Reply",
            "notes": text[:10_000] or None,
        }
    )
    await activities.create(ctx, {**activity.model_dump(), "occurred_at": min(event.at or ctx.now, ctx.now)})
    if answered is not None:
        row = await ctx.messages.set_fields(answered["id"], {"replied_at": ctx.now}) or answered
        await record(ctx, types.MESSAGE_REPLIED, MessageRead.model_validate(row))


async def _by_phone(ctx: Context, phone: str) -> PersonRef | None:
    """The open lead with this phone, else the oldest live contact with it."""
    lead, _ = await ctx.leads.identity_match(None, phone)
    if lead is not None:
        return PersonRef("lead", lead["id"])
    contact = await ctx.contacts.by_email_or_phone(None, phone)
    return PersonRef("contact", contact["id"]) if contact is not None else None
