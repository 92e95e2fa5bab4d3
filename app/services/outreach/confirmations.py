"""Consent given on a form, and double opt-in: a submission's ticked consent checkboxes give a new
person their consent (email `pending_confirmation` while the workspace asks for double opt-in),
with the submission, IP, user agent and the text the form showed as proof; the confirmation email
(transactional) carries a signed `/confirm/{token}` link whose POST sets the email consent
`opted_in` (source `confirmation`). A public post never changes a known person's consent: one
whose email consent is unsettled only gets the confirmation email."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from app.domain.outreach import confirmations as rules
from app.domain.outreach.vocabulary import ChannelType, ConsentSource, ConsentStatus, PersonRef, Purpose
from app.schemas.outreach.messages import MessageCreate
from app.services.context import Context
from app.services.outreach import consents, links, messages, templates
from app.services.outreach import policy as messaging

Row = dict[str, Any]


def proof_of(submission_id: UUID, meta: Mapping[str, Any], text: str | None) -> Row:
    """What shows a form's consent: the submission, where it came from, and the words shown."""
    proof: Row = {"submission_id": str(submission_id)}
    for key in ("ip", "user_agent"):
        if meta.get(key):
            proof[key] = str(meta[key])
    if text is not None:
        proof["text"] = text
    return proof


async def from_form(
    ctx: Context,
    person: PersonRef,
    ticked: Sequence[rules.Ticked],
    submission_id: UUID,
    meta: Mapping[str, Any],
    *,
    new: bool,
) -> None:
    """A submission's ticked consent boxes, for the person it became (`new`) or counted on."""
    if not ticked:
        return
    policy = await messaging.policy(ctx)
    for box in ticked:
        if new:
            status = rules.new_person_status(box.channel, policy.double_opt_in)
            proof = proof_of(submission_id, meta, box.text)
            await consents.record(ctx, person, box.channel, status, ConsentSource.FORM, proof)
            if status is ConsentStatus.PENDING_CONFIRMATION:
                await _ask(ctx, person, submission_id)
        elif box.channel is ChannelType.EMAIL and policy.double_opt_in:
            status = await consents.status_of(ctx, person, ChannelType.EMAIL)
            if rules.asks_confirmation(status):
                await _ask(ctx, person, submission_id)


async def _ask(ctx: Context, person: PersonRef, submission_id: UUID) -> None:
    """Queue the confirmation email (transactional: consent cannot be asked for under a consent
    rule; a suppression still stops it). Nothing for a person without an email address."""
    row = await (ctx.leads.get(person.id) if person.kind == "lead" else ctx.contacts.get(person.id))
    if row is None or not row.get("email_key"):
        return
    url = links.confirmation_url(ctx.workspace_id, person, submission_id)
    words = rules.confirmation_email(url, await templates.default_locale(ctx))
    body = MessageCreate.model_validate(
        {
            person.column: person.id,
            "channel": ChannelType.EMAIL,
            "purpose": Purpose.TRANSACTIONAL,
            "subject": words.subject,
            "body_text": words.body_text,
            "body_html": words.body_html,
        }
    )
    await messages.send(ctx, body)


async def _live(ctx: Context, person: PersonRef) -> list[PersonRef]:
    """Who a link's person is now: a lead merged since is the lead it was merged into; a lead
    qualified since is also its contact (both get the confirmation)."""
    if person.kind == "contact":
        return [person]
    for _ in range(10):  # a chain of merges, each into a newer lead
        lead = await ctx.leads.get(person.id)
        if lead is None:
            return []
        merged_into = lead["merged_into_id"]
        if merged_into is None:
            found = [person]
            contact_id = lead.get("contact_id")
            if contact_id is not None:
                found.append(PersonRef("contact", contact_id))
            return found
        person = PersonRef("lead", merged_into)
    return []


async def pending(ctx: Context, link: links.Confirmation) -> Row | None:
    """The submission a confirmation link names, while the link may still confirm (None: unknown,
    expired, or the person opted out after that submission)."""
    submission = await ctx.submissions.get(link.submission_id)
    if submission is None or submission["spam"]:
        return None
    people = await _live(ctx, link.person)
    if not people:
        return None
    current = await ctx.consents.one(people[0].column, people[0].id, ChannelType.EMAIL.value)
    status = ConsentStatus(current["status"]) if current is not None else ConsentStatus.UNKNOWN
    since = current["captured_at"] if current is not None else None
    if not rules.may_confirm(status=status, status_since=since, submitted_at=submission["created_at"], now=ctx.now):
        return None
    return dict(submission)


async def confirm(ctx: Context, link: links.Confirmation, *, ip: str | None, user_agent: str | None) -> bool:
    """The confirmation link's POST: the person's email consent becomes `opted_in` (source
    `confirmation`), its proof the submission's with where the confirmation came from; True when
    the link was good (confirming twice changes nothing more)."""
    submission = await pending(ctx, link)
    if submission is None:
        return False
    shown = next((c.get("text") for c in submission["meta"].get("consents") or () if c.get("channel") == "email"), None)
    proof = proof_of(link.submission_id, submission["meta"], shown)
    if ip:
        proof["confirmed_ip"] = ip
    if user_agent:
        proof["confirmed_user_agent"] = user_agent[:1000]
    opted_in, source = ConsentStatus.OPTED_IN, ConsentSource.CONFIRMATION
    for person in await _live(ctx, link.person):
        if await consents.status_of(ctx, person, ChannelType.EMAIL) is not ConsentStatus.OPTED_IN:
            await consents.record(ctx, person, ChannelType.EMAIL, opted_in, source, proof)
    return True
