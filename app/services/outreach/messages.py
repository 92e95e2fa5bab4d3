"""Messages: sending one (or a batch) to a lead or a contact, with its basis checked, its content
rendered and stored, and its time set by quiet hours and the frequency cap; reading them back.
Delivery itself is the worker's (app/services/outreach/delivery.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from app.db.wakeups import MESSAGES
from app.domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.outreach import messages as rules
from app.domain.outreach.policy import MessagingPolicy, quiet_until
from app.domain.outreach.templates import Rendered, with_direction
from app.domain.outreach.vocabulary import (
    BlockReason,
    ChannelType,
    ConsentStatus,
    MessageStatus,
    PersonRef,
    Purpose,
    address_key,
)
from app.domain.pagination import Page, Sort
from app.domain.workspace.retention import Swept, Window, cursor, earliest, position
from app.ids import new_id
from app.schemas.common import invalid_input
from app.schemas.outreach.messages import MessageCreate, MessageRead
from app.services.batches import item_error
from app.services.context import Context
from app.services.events.events import record
from app.services.outreach import links, templates
from app.services.outreach import policy as messaging
from app.services.outreach.reads import Reads

Row = dict[str, Any]
MAX_SUBJECT = 1000


@dataclass(frozen=True, slots=True)
class Recipient:
    person: PersonRef
    row: Mapping[str, Any]
    address: str | None  # as the channel reaches them: an email, or an E.164 phone
    key: str | None  # the address normalised (suppressions and the cap count by it)


async def send(ctx: Context, body: MessageCreate) -> Row:
    """Queue one message (or record it blocked, with why); 404 for a person not of this workspace."""
    reads = Reads(ctx)
    policy = await messaging.policy(ctx)
    recipient = await _recipient(reads, body)
    prepared = await _prepare(ctx, reads, body, recipient, policy, _Cap(ctx, policy))
    return (await _store(ctx, [prepared]))[0]


async def send_batch(ctx: Context, items: Sequence[Any]) -> list[Row]:
    """Each item as `send`; one bad item is reported in its result and never rejects the others.
    Every item is checked and rendered before anything is written (the people, their consents and
    the suppressions of their addresses read in one query each), then the batch's messages are
    stored together."""
    policy = await messaging.policy(ctx)
    reads = Reads(ctx)
    results: dict[int, Row] = {}
    bodies: list[tuple[int, MessageCreate]] = []
    for index, item in enumerate(items):
        try:
            body = MessageCreate.model_validate(item)
            check_person_scope(ctx, body)
            bodies.append((index, body))
        except ValidationError as exc:
            results[index] = item_error(index, invalid_input(exc))
        except DomainError as exc:
            results[index] = item_error(index, exc)
    await reads.prefetch_people(_person_of(body) for _, body in bodies)
    recipients: list[tuple[int, MessageCreate, Recipient]] = []
    for index, body in bodies:
        try:
            recipients.append((index, body, await _recipient(reads, body)))
        except DomainError as exc:
            results[index] = item_error(index, exc)
    for channel_type in {body.channel for _, body, _ in recipients}:
        same = [(body, r) for _, body, r in recipients if body.channel is channel_type]
        marketing = [r.person for body, r in same if body.purpose is Purpose.MARKETING]
        await reads.prefetch_consents(marketing, channel_type)
        await reads.prefetch_suppressions(channel_type, [r.key for _, r in same if r.key is not None])
    cap = _Cap(ctx, policy)
    await cap.lock(r.key for _, body, r in recipients if body.purpose is Purpose.MARKETING and r.key is not None)
    prepared: list[tuple[int, _Prepared]] = []
    for index, body, recipient in recipients:
        try:
            prepared.append((index, await _prepare(ctx, reads, body, recipient, policy, cap)))
        except DomainError as exc:
            results[index] = item_error(index, exc)
    stored = await _store(ctx, [p for _, p in prepared])
    for (index, _), row in zip(prepared, stored, strict=True):
        results[index] = {"index": index, "status": row["status"], "id": row["id"], "block_reason": row["block_reason"]}
    return [results[index] for index in sorted(results)]


async def send_many(
    ctx: Context,
    bodies: Sequence[MessageCreate],
    *,
    campaign_id: UUID | None = None,
    tag: Callable[[Rendered, MessageCreate], Rendered] | None = None,
) -> list[Row | DomainError]:
    """Messages the service sends on its own behalf (a campaign's): each body checked, rendered
    (`tag` may change the rendered content first: a campaign's links) and stored as `send_batch`
    does, together; per body its stored row or why it could not be (a template archived since)."""
    policy = await messaging.policy(ctx)
    reads = Reads(ctx)
    out: list[Row | DomainError | None] = [None] * len(bodies)
    await reads.prefetch_people(_person_of(body) for body in bodies)
    recipients: list[tuple[int, MessageCreate, Recipient]] = []
    for index, body in enumerate(bodies):
        try:
            recipients.append((index, body, await _recipient(reads, body)))
        except DomainError as exc:
            out[index] = exc
    for channel_type in {body.channel for _, body, _ in recipients}:
        same = [(body, r) for _, body, r in recipients if body.channel is channel_type]
        await reads.prefetch_consents([r.person for body, r in same if body.purpose is Purpose.MARKETING], channel_type)
        await reads.prefetch_suppressions(channel_type, [r.key for _, r in same if r.key is not None])
    cap = _Cap(ctx, policy)
    await cap.lock(r.key for _, body, r in recipients if body.purpose is Purpose.MARKETING and r.key is not None)
    prepared: list[tuple[int, _Prepared]] = []
    extra = {"campaign_id": campaign_id} if campaign_id is not None else {}
    for index, body, recipient in recipients:
        try:
            prepared.append((index, await _prepare(ctx, reads, body, recipient, policy, cap, tag=tag, extra=extra)))
        except DomainError as exc:
            out[index] = exc
    for (index, _), row in zip(prepared, await _store(ctx, [p for _, p in prepared]), strict=True):
        out[index] = row
    return [r for r in out if r is not None]


@dataclass(frozen=True, slots=True)
class MemberEmail:
    """Content the service sends to members of the workspace (a scheduled digest): inline and
    final, nothing rendered. `body_html` may carry `data:image/…;base64,` images, which go on the
    wire as related parts referenced by `cid:` (app/domain/outreach/messages.py: build_email)."""

    subject: str
    body_text: str
    body_html: str


async def send_to_members(
    ctx: Context, members: Sequence[Mapping[str, Any]], content: MemberEmail, *, channel_id: UUID | None = None
) -> list[Row]:
    """Transactional email to members (rows with `email`), queued together: to neither a lead
    nor a contact (`lead_id` and `contact_id` null), stopped only by a missing channel, a missing
    address or a suppression. Through `channel_id` or the workspace's default email channel; a
    channel archived since it was chosen blocks them (`channel_missing`). Reading such a message
    needs `members:read`."""
    reads = Reads(ctx)
    try:
        channel = await _channel(ctx, reads, ChannelType.EMAIL, channel_id)
    except InvalidInput:
        channel = None
    subject = " ".join(content.subject.split())[:MAX_SUBJECT]
    keys = [address_key(ChannelType.EMAIL, str(m["email"])) if m.get("email") else None for m in members]
    await reads.prefetch_suppressions(ChannelType.EMAIL, [k for k in keys if k is not None])
    prepared = []
    for member, key in zip(members, keys, strict=True):
        message_id = new_id()
        blocked = rules.block_reason(
            purpose=Purpose.TRANSACTIONAL,
            consent=ConsentStatus.UNKNOWN,
            marketing_requires_opt_in=False,
            suppressed=key is not None and await reads.suppressed(ChannelType.EMAIL, key),
            address_valid=key is not None,
            channel_present=channel is not None,
        )
        email_message_id = None
        if channel is not None:
            domain = str(channel["settings"].get("from_email", "")).rpartition("@")[2] or "localhost"
            email_message_id = f"<{message_id}@{domain}>"
        status = MessageStatus.BLOCKED if blocked is not None else MessageStatus.QUEUED
        values = {
            "id": message_id,
            "lead_id": None,
            "contact_id": None,
            "channel": ChannelType.EMAIL.value,
            "channel_id": channel["id"] if channel is not None else None,
            "purpose": Purpose.TRANSACTIONAL.value,
            "status": status.value,
            "block_reason": blocked.value if blocked is not None else None,
            "to_address": member.get("email") or None,
            "address_key": key,
            "template_id": None,
            "template_version": None,
            "send_at": ctx.now,
            "member_id": None,  # the member who sent it (a human touch): nobody did
            "automated": True,
            "subject": subject,
            "body_text": content.body_text,
            "body_html": content.body_html,
            "sms_parts": None,
            "links": None,
            "whatsapp_template": None,
            "email_message_id": email_message_id,
            **ctx.audit_new(),
        }
        prepared.append(_Prepared(values, status, blocked))
    return await _store(ctx, prepared)


def check_person_scope(ctx: Context, body: MessageCreate) -> None:
    """Sending to a person reads them: the key needs that person's read scope too."""
    needed = "leads:read" if body.lead_id is not None else "contacts:read"
    if not ctx.allows(needed):
        raise Forbidden(f"sending to this person needs the {needed!r} scope, which this key lacks")


def _person_of(body: MessageCreate) -> PersonRef:
    if body.lead_id is not None:
        return PersonRef("lead", body.lead_id)
    assert body.contact_id is not None
    return PersonRef("contact", body.contact_id)


async def _recipient(reads: Reads, body: MessageCreate) -> Recipient:
    person = _person_of(body)
    row = await reads.person(person)
    if body.channel is ChannelType.EMAIL:
        address = row.get("email") if row.get("email_key") else None
    else:
        address = row.get("phone_e164")
    key = address_key(body.channel, address) if address else None
    return Recipient(person, row, address, key)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A message checked and rendered, ready to be stored."""

    values: Row
    status: MessageStatus
    blocked: BlockReason | None


class _Cap:
    """The frequency cap's view of the addresses a request sends marketing to: each address locked
    and its scheduled marketing read once (the lock held until commit), then kept up to date with
    what this request schedules, so two messages of one batch to one address count each other."""

    def __init__(self, ctx: Context, policy: MessagingPolicy) -> None:
        self.ctx = ctx
        self.policy = policy
        self._read: dict[str, tuple[datetime, list[datetime]]] = {}  # key: (read from, times then)
        self._added: dict[str, list[datetime]] = {}  # key: what this request scheduled
        self._locked: set[str] = set()

    async def lock(self, keys: Iterable[str]) -> None:
        """Take these addresses' locks now, in one order for every request (two batches naming the
        same addresses in other orders would otherwise wait for each other: a deadlock)."""
        if self.policy.marketing_per_7_days is None:
            return
        for key in sorted(set(keys) - self._locked):
            await self.ctx.messages.lock_address(key)
            self._locked.add(key)

    async def scheduled(self, key: str, since: datetime) -> list[datetime]:
        read = self._read.get(key)
        if key not in self._locked:
            await self.lock([key])
        if read is None or since < read[0]:
            read = self._read[key] = (since, await self.ctx.messages.marketing_times(key, since))
        return [at for at in (*read[1], *self._added.get(key, ())) if at > since]

    def add(self, key: str, at: datetime) -> None:
        if self.policy.marketing_per_7_days is not None:
            self._added.setdefault(key, []).append(at)


async def _prepare(
    ctx: Context,
    reads: Reads,
    body: MessageCreate,
    recipient: Recipient,
    policy: MessagingPolicy,
    cap: _Cap,
    *,
    tag: Callable[[Rendered, MessageCreate], Rendered] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> _Prepared:
    """Check and render one message; nothing is written (a DomainError for a bad item)."""
    message_id = new_id()
    channel_type = body.channel
    channel = await _channel(ctx, reads, channel_type, body.channel_id)
    key = recipient.key
    suppressed = key is not None and await reads.suppressed(channel_type, key)
    consent = (
        await reads.consent(recipient.person, channel_type)
        if body.purpose is Purpose.MARKETING
        else ConsentStatus.UNKNOWN
    )
    blocked = rules.block_reason(
        purpose=body.purpose,
        consent=consent,
        marketing_requires_opt_in=policy.marketing_requires_opt_in,
        suppressed=suppressed,
        address_valid=recipient.address is not None,
        channel_present=channel is not None,
    )
    unsubscribe_url = links.unsubscribe_url(ctx.workspace_id, message_id)
    rendered, template, locale = await _render(ctx, reads, body, recipient.person, unsubscribe_url)
    if tag is not None:
        rendered = tag(rendered, body)
    content = _content(ctx, body, rendered, message_id, unsubscribe_url, policy, locale=locale)
    whatsapp = None
    if template is not None and body.channel is ChannelType.WHATSAPP and template["whatsapp_template"]:
        approved = template["whatsapp_template"]
        whatsapp = {
            "name": approved["name"], "language": approved["language"],
            "parameters": list(rendered.whatsapp_parameters or ()),
        }  # fmt: skip
    email_message_id = None
    if channel is not None and body.channel is ChannelType.EMAIL:
        domain = str(channel["settings"].get("from_email", "")).rpartition("@")[2] or "localhost"
        email_message_id = f"<{message_id}@{domain}>"
    send_at = max(body.send_at or ctx.now, ctx.now)  # a time past is now: never before the cap and quiet hours
    if blocked is None and body.purpose is Purpose.MARKETING and key is not None:
        send_at, capped = await _schedule(reads, recipient, key, send_at, policy, cap)
        if capped:
            blocked = BlockReason.FREQUENCY_CAP
        else:
            cap.add(key, send_at)
    status = MessageStatus.BLOCKED if blocked is not None else MessageStatus.QUEUED
    member_id = UUID(ctx.actor.id) if ctx.actor.type == "member" and ctx.actor.id else None
    values = {
        "id": message_id,
        "lead_id": recipient.person.id if recipient.person.kind == "lead" else None,
        "contact_id": recipient.person.id if recipient.person.kind == "contact" else None,
        "channel": channel_type.value,
        "channel_id": channel["id"] if channel is not None else None,
        "purpose": body.purpose.value,
        "status": status.value,
        "block_reason": blocked.value if blocked is not None else None,
        "to_address": recipient.address,
        "address_key": key,
        "template_id": body.template_id,
        "template_version": template["version"] if template is not None else None,
        "send_at": send_at,
        "member_id": member_id,
        "automated": member_id is None,
        **content,
        "whatsapp_template": whatsapp,
        "email_message_id": email_message_id,
        **(extra or {}),
        **ctx.audit_new(),
    }
    return _Prepared(values, status, blocked)


async def _store(ctx: Context, prepared: Sequence[_Prepared]) -> list[Row]:
    """Write checked messages: the rows (in one statement), their first status and their events."""
    if not prepared:
        return []
    rows = await ctx.messages.create_many([p.values for p in prepared])
    await ctx.messages.record_statuses(
        [(row["id"], p.status.value, ctx.now, p.blocked.value if p.blocked else None)
         for p, row in zip(prepared, rows, strict=True)]
    )  # fmt: skip
    for p, row in zip(prepared, rows, strict=True):
        await record(ctx, types.MESSAGE_BLOCKED if p.blocked else types.MESSAGE_QUEUED, MessageRead.model_validate(row))
    if any(p.blocked is None for p in prepared):
        ctx.uow.wake(MESSAGES)
    return rows


async def live_channel(ctx: Context, channel_type: ChannelType, channel_id: UUID | None) -> Row | None:
    """The channel a message of `channel_type` would go through: `channel_id` (a live channel of
    that type, else a 422 naming `channel_id`) or the type's default (None: there is none)."""
    return await _channel(ctx, Reads(ctx), channel_type, channel_id)


async def _channel(ctx: Context, reads: Reads, channel_type: ChannelType, channel_id: UUID | None) -> Row | None:
    if channel_id is None:
        return await reads.default_channel(channel_type)
    channel = await ctx.channels.get(channel_id)
    if channel is None or channel["archived_at"] is not None:
        raise InvalidInput.field("channel_id", "no live channel with this id")
    if channel["type"] != channel_type.value:
        raise InvalidInput.field("channel_id", f"this channel sends {channel['type']}, not {channel_type.value}")
    return channel


async def _render(
    ctx: Context, reads: Reads, body: MessageCreate, person: PersonRef, unsubscribe_url: str
) -> tuple[Rendered, Row | None, str]:
    """The content for this person: (rendered, the template's version used, the locale)."""
    if body.template_id is not None:
        template = await reads.template(body.template_id)
        if template is None:
            raise InvalidInput.field("template_id", "no template with this id")
        if template["channel"] != body.channel.value:
            raise InvalidInput.field("template_id", f"this template is for {template['channel']}, not {body.channel}")
        rendered, version = await templates.render_for(
            ctx, body.template_id, person, unsubscribe_url=unsubscribe_url, template=template, reads=reads
        )
        return rendered, {**template, "version": version}, str(template["locale"])
    assert body.body_text is not None
    if body.channel is ChannelType.EMAIL and body.subject is None:
        raise InvalidInput.field("subject", "an email needs a subject")
    if body.channel is ChannelType.WHATSAPP:
        raise InvalidInput.field("template_id", "WhatsApp messages are sent from an approved template")
    rendered = await templates.render_inline(
        ctx, body.channel, person, subject=body.subject, body_text=body.body_text, body_html=body.body_html,
        unsubscribe_url=unsubscribe_url, reads=reads,
    )  # fmt: skip
    return rendered, None, "fa" if (await reads.workspace()).get("default_region") == "IR" else "en"


def _content(
    ctx: Context,
    body: MessageCreate,
    rendered: Rendered,
    message_id: UUID,
    unsubscribe_url: str,
    policy: MessagingPolicy,
    *,
    locale: str,
) -> Row:
    """What is stored and later sent: for marketing email, links tracked (unless the workspace turned
    tracking off), an open pixel, and a visible unsubscribe link when the content has none."""
    text, html = rendered.body_text, rendered.body_html
    subject = None
    if rendered.subject is not None:
        subject = " ".join(rendered.subject.split())  # one line: a header never carries a line break
        if len(subject) > MAX_SUBJECT:
            too_long = f"renders to {len(subject)} characters for this person (at most {MAX_SUBJECT})"
            raise InvalidInput.field("subject", too_long)
    tracked: list[str] = []
    if body.channel is ChannelType.EMAIL and html is None:  # every email goes as text and HTML
        html = with_direction(rules.html_from_text(text), locale)
    if body.channel is ChannelType.EMAIL and body.purpose is Purpose.MARKETING:
        if unsubscribe_url not in text:
            text = rules.unsubscribe_footer(text, unsubscribe_url, locale)
        if html is not None and unsubscribe_url not in html:
            html = rules.unsubscribe_html(html, unsubscribe_url, locale)
        if html is not None and policy.tracking:
            own = links.base_url()

            def click(n: int) -> str:
                return links.click_url(ctx.workspace_id, message_id, n)

            html, tracked = rules.track_links(html, click, untracked=lambda u: u.startswith(own))
            html = rules.with_open_pixel(html, links.open_url(ctx.workspace_id, message_id))
            text = rules.track_text_links(text, click, tracked, untracked=lambda u: u.startswith(own))
    return {
        "subject": subject,
        "body_text": text,
        "body_html": html,
        "sms_parts": rendered.sms_parts if body.channel is not ChannelType.EMAIL else None,
        "links": tracked or None,
    }


async def _schedule(
    reads: Reads, recipient: Recipient, key: str, wanted: datetime, policy: MessagingPolicy, cap: _Cap
) -> tuple[datetime, bool]:
    """When a marketing message may go: after the quiet hours of the person's time zone, and when
    the frequency cap has room (counted per address, concurrent sends serialised on PostgreSQL);
    (the time, whether the cap skips it instead)."""
    zone = messaging.zone_of(recipient.row, await reads.workspace()) if policy.quiet_hours is not None else None
    at = wanted
    if policy.marketing_per_7_days is not None:
        scheduled = await cap.scheduled(key, at - rules.CAP_WINDOW - rules.CAP_WINDOW)
    else:
        scheduled = []
    for _ in range(8):  # quiet hours and the cap each move it later; settles in a few rounds
        moved = at
        if policy.marketing_per_7_days is not None:
            moved = rules.first_free_slot(moved, scheduled, policy.marketing_per_7_days)
            if moved > at and policy.frequency_cap_action == "skip":
                return wanted, True
        if policy.quiet_hours is not None and zone is not None:
            moved = quiet_until(moved, zone, policy.quiet_hours) or moved
        if moved == at:
            break
        at = moved
    return at, False


def reader_scope(row: Mapping[str, Any]) -> str:
    """The scope that reads a message's recipient: the lead's, the contact's, or (to neither) the
    members' (a digest to members)."""
    if row["lead_id"] is not None:
        return "leads:read"
    return "contacts:read" if row["contact_id"] is not None else "members:read"


async def get(ctx: Context, message_id: UUID) -> Row:
    """A message with its status history. It shows its recipient and content, so a key reads it
    only with that person's read scope (404 otherwise, as for another workspace's). The row and
    its history as of one moment (a worker may record a status between the two reads)."""
    await ctx.uow.snapshot()
    row = await ctx.messages.get(message_id)
    if row is None or not ctx.allows(reader_scope(row)):
        raise NotFound("no message with this id")
    return {**row, "history": await ctx.messages.history(message_id)}


async def list_messages(
    ctx: Context,
    *,
    sort: Sort,
    cursor: str | None,
    limit: int,
    lead_id: UUID | None = None,
    contact_id: UUID | None = None,
    channel: str | None = None,
    status: str | None = None,
    purpose: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> Page[Row]:
    """Messages matching the filters, of the people this key may read (leads, contacts, members)."""
    return await ctx.messages.page(
        sort=sort,
        cursor=cursor,
        limit=limit,
        of_leads=ctx.allows("leads:read"),
        of_contacts=ctx.allows("contacts:read"),
        of_members=ctx.allows("members:read"),
        created=(created_after, created_before),
        lead_id=lead_id,
        contact_id=contact_id,
        channel=channel,
        status=status,
        purpose=purpose,
    )


# -- retention -------------------------------------------------------------------------------------------


async def forget_bodies(ctx: Context, window: Window, after: list[Any] | None, limit: int) -> Swept:
    """One page of the nightly retention of rendered messages (`retention.message_body_days`): the
    messages created in the window that will not be sent again lose their rendered subject and
    bodies; recipient, status, history, template version, campaign and tracked links' targets stay
    (clicks still redirect). One that may still be sent (queued, sending, or `unknown` with a lookup
    to come) is left for a later night, and holds the pass's mark back to its time."""
    rows = await ctx.messages.aging(start=window.start, end=window.end, after=position(after), limit=limit)
    if not rows:
        return Swept(0, None)
    held = None
    due = []
    for row in rows:
        if rules.may_be_sent_again(row["status"], row["lookup_at"]):
            held = earliest(held, row["created_at"])
        elif row["holds"]:
            due.append(row["id"])
    removed = await ctx.messages.forget_bodies(due)
    last = rows[-1]
    return Swept(removed, cursor(last["created_at"], last["id"]), held)
