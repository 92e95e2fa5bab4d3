"""Website lead capture: a publishable key posts a form; the submission is stored (exactly once,
before the answer) and becomes a lead, or is kept aside as spam."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from app.db.conflicts import is_open_identity_conflict
from app.db.repositories.leads.rows import FormRow, LeadRow
from app.domain.errors import Forbidden, NotFound
from app.domain.events import events as types
from app.domain.leads.capture import allowed_origins, map_fields, origin_allowed, spam_reason
from app.domain.outreach import confirmations as rules
from app.domain.outreach.vocabulary import PersonRef
from app.domain.workspace.api_keys import KeyKind
from app.ids import new_id
from app.schemas.common import invalid_input
from app.schemas.leads.forms import SubmissionRead
from app.schemas.leads.leads import LeadCreate, LeadRead
from app.services import reruns
from app.services.context import Context
from app.services.events import events
from app.services.leads import duplicates, engagements, leads, lookups, sensitive
from app.services.leads.forms import LEAD_TARGETS
from app.services.outreach import confirmations
from app.services.workspace import settings
from app.services.workspace.api_keys import Caller

# What a later submission may fill in on an open lead when it was empty (identity, ownership and
# bookkeeping stay as they are).
FILLABLE = frozenset(LEAD_TARGETS) - {"owner_id", "external_id", "referred_by_lead_id"}


@dataclass(frozen=True)
class Consenting:
    """The consent boxes a submission ticked, and whom they speak for (a new person, or a known one)."""

    person: PersonRef
    new: bool
    ticked: tuple[rules.Ticked, ...]
    meta: dict[str, Any]


@dataclass(frozen=True)
class Submission:
    id: UUID  # all the public answer carries: nothing in it tells a new person from a known one
    lead_id: UUID | None  # None for spam and returning customers
    spam: bool
    consent: Consenting | None = None


async def open_form(ctx: Context, caller: Caller, form_id: UUID, origin: str | None) -> FormRow:
    """The form the key may post to from this origin (403 for a foreign or `null` origin)."""

    async def load() -> FormRow | None:
        return await ctx.forms.get(form_id)

    form = await lookups.cached(("form", ctx.workspace_id, form_id), load)
    if form is None:
        raise NotFound("no form with this id")
    if caller.kind is not KeyKind.PUBLISHABLE:
        raise Forbidden("post forms with a publishable key (pk_…); secret keys never belong in a web page")
    if not origin_allowed(origin, allowed_origins(form["allowed_origins"], caller.allowed_origins)):
        raise Forbidden(f"origin {origin} may not post this form")
    return form


async def submit(ctx: Context, form: FormRow, fields: dict[str, Any], meta: dict[str, Any], now_ms: int) -> Submission:
    """Store a submission: spam is kept aside; a new person becomes a lead; someone with an open
    lead has the submission counted (and what the lead lacked filled in) there; a returning
    customer has it recorded on their contact.

    A new person's submission is written as one statement, without looking them up first. When
    they had an open lead after all (or a concurrent submission made it first), the identity index
    refuses the new lead at that write and the submission runs again (`reruns`), looking them up
    first: it then counts on their open lead."""

    async def attempt(again: bool) -> Submission:
        submission = await _submit(ctx, form, fields, meta, now_ms, known=again)
        await reruns.written(ctx)
        if submission.consent is not None:  # the person's rows are written: their consent may refer to them
            c = submission.consent
            await confirmations.from_form(ctx, c.person, c.ticked, submission.id, c.meta, new=c.new)
        return submission

    return await reruns.run(ctx, attempt, lost=is_open_identity_conflict)


async def _submit(
    ctx: Context, form: FormRow, fields: dict[str, Any], meta: dict[str, Any], now_ms: int, *, known: bool
) -> Submission:
    """One run of `submit`; `known`: the identity index refused this person's new lead in the run
    before (look their open lead up first)."""
    submission_id = new_id()
    reason = spam_reason(
        fields, honeypot_field=form["honeypot_field"], min_fill_seconds=form["min_fill_seconds"], now_ms=now_ms
    )
    lead_id = contact_id = None
    merged = False
    consenting: tuple[PersonRef, bool] | None = None  # whom the ticked consent boxes speak for; new?
    ticked = rules.ticked(fields, form.get("consents") or ()) if reason is None else []
    if ticked:  # the words each ticked box showed, kept with the submission (the consent's proof)
        meta = {**meta, "consents": [{"channel": box.channel.value, "text": box.text} for box in ticked]}
    if reason is None:
        visitor_id = meta.get("visitor_id")
        visitor_id = visitor_id if isinstance(visitor_id, str) and 0 < len(visitor_id) <= 128 else None
        data = _lead_data(form, fields, meta)
        policy = await deduplication(ctx)
        existing = await leads.open_lead_like(ctx, data) if known else None
        if existing is None:
            try:
                lead = await leads.create_for_capture(
                    ctx,
                    data,
                    engagement=_arrival(form, submission_id),
                    visitor_id=visitor_id,
                    returning_customers=policy["link_existing_contacts"],
                )
                if visitor_id is not None:  # the visitor's earlier anonymous engagements become the lead's
                    await engagements.link_visitor(ctx, lead, visitor_id, created=True)
                consenting = PersonRef("lead", lead["id"]), True
            except leads.DuplicateLead as duplicate:
                existing, contact_id = duplicate.existing, duplicate.contact_id
        if existing is not None:  # the same person again: the submission counts on their open lead
            lead = await _into_open_lead(ctx, form, submission_id, existing, data, policy["update_matched_lead"])
            merged = True
            if visitor_id is not None:
                await engagements.link_visitor(ctx, lead, visitor_id, created=False)
            consenting = PersonRef("lead", lead["id"]), False
        elif contact_id is not None:  # a customer came back: no new lead
            ctx.engagements.add([_form_engagement(ctx, form, submission_id, None, contact_id)])
            consenting = PersonRef("contact", contact_id), False
        if contact_id is None:
            lead_id = lead["id"]
    row = {
        "id": submission_id,
        "form_id": form["id"],
        "lead_id": lead_id,
        "contact_id": contact_id,
        "merged": merged,
        "spam": reason is not None,
        "spam_reason": reason,
        "fields": fields,
        "meta": meta,
        "created_at": ctx.now,
    }
    ctx.submissions.add(row)
    event = types.FORM_SUBMISSION_SPAM if reason else types.FORM_SUBMISSION_RECEIVED
    shown = (await sensitive.submissions(ctx, form, [row]))[0]  # no sensitive value in the event
    await events.record(ctx, event, SubmissionRead.model_validate(shown), resource_id=form["id"])
    consent = None
    if ticked and consenting is not None:
        consent = Consenting(consenting[0], consenting[1], tuple(ticked), meta)
    return Submission(submission_id, lead_id, reason is not None, consent)


async def deduplication(ctx: Context) -> dict[str, Any]:
    return await duplicates.policy(ctx)


def _engagement_type(form: FormRow) -> str:
    """What a submission of this form records on a known lead or contact (`form_submit` unless the
    form says what it is for: a newsletter sign-up, a demo request...)."""
    return str(form.get("engagement_type") or "form_submit")


def _arrival(form: FormRow, submission_id: UUID) -> dict[str, Any] | None:
    """What a new lead from this form arrives with: the form's engagement, when it names one."""
    if form.get("engagement_type") is None:
        return None
    return {
        "type": str(form["engagement_type"]),
        "properties": {"form_id": str(form["id"]), "submission_id": str(submission_id)},
    }


def _form_engagement(
    ctx: Context, form: FormRow, submission_id: UUID, lead_id: UUID | None, contact_id: UUID | None
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "lead_id": lead_id,
        "contact_id": contact_id,
        "visitor_id": None,
        "type": _engagement_type(form),
        "occurred_at": ctx.now,
        "properties": {"form_id": str(form["id"]), "submission_id": str(submission_id)},
        "origin": "api",
        "created_at": ctx.now,
    }


async def _into_open_lead(
    ctx: Context, form: FormRow, submission_id: UUID, lead: LeadRow, data: dict[str, Any], update: bool
) -> LeadRow:
    """A submission from someone with an open lead: what the lead lacked is filled in from the
    form (when the policy says so; nothing typed before is overwritten), tags are added, and the
    submission counts as a form_submit engagement.

    Whoever knows a person's email can post this public form, so every field it fills (and every
    tag it adds) is written on that engagement, with the submission as its source: the lead's
    timeline shows what came from which public post. A form made for something (a newsletter
    sign-up, a demo request) records that engagement instead of `form_submit`."""
    applied: dict[str, Any] = {}
    before = lead
    if update:  # the rule every automatic merge follows (nothing the lead has is overwritten)
        lead, applied = await leads.fill_open_lead(ctx, lead, data, FILLABLE)
    properties: dict[str, Any] = {"form_id": str(form["id"]), "submission_id": str(submission_id)}
    if applied:
        shown = leads.filled_and_added(LeadRead.model_validate(lead), applied, before)  # as the lead shows them
        if shown["filled_fields"]:
            properties["filled_fields"] = shown["filled_fields"]
        if "tags" in applied:
            properties["added_tags"] = shown["added_tags"]
    _, lead = await engagements.engage(ctx, lead["id"], {"type": _engagement_type(form), "properties": properties})
    return lead


def _lead_data(form: FormRow, fields: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    mapped = map_fields(fields, form["field_mapping"], LEAD_TARGETS, honeypot_field=form["honeypot_field"])
    data: dict[str, Any] = {key: meta[key] for key in meta if key.startswith("utm_")}
    data.update(referrer_url=meta.get("referrer"), landing_page=meta.get("landing_page"))
    data.update(mapped.lead)
    data.update(source=form["default_source"], tags=list(form["default_tags"]), owner_id=form["default_owner_id"])
    if mapped.custom:
        data["custom_fields"] = mapped.custom
    try:
        return LeadCreate.model_validate({k: v for k, v in data.items() if v is not None}).model_dump()
    except ValidationError as exc:
        raise invalid_input(exc) from exc


async def _forget_policy(ctx: Context, values: dict[str, Any]) -> None:
    lookups.forget(("deduplication", ctx.workspace_id))


settings.AFTER_CHANGE["deduplication"] = _forget_policy
