"""Journeys: define one (a document: trigger, steps, exits, re-enrolment), edit its draft, publish
the draft as the version new enrolments start in, pause, resume and archive. Every version's
document is kept; an enrolment runs on the version it started in. A draft that sends marketing
may have to be approved first (reviews are in `reviews.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.concurrency import check_if_match, lost_update
from app.domain.errors import Conflict, ErrorList, InvalidInput, NotFound
from app.domain.journeys import document as documents
from app.domain.journeys import reviews as review_rules
from app.domain.journeys import templates as built_in
from app.domain.pagination import Sort
from app.ids import new_id
from app.services.campaigns import campaigns
from app.services.context import Context
from app.services.journeys import exits, schedules, signals
from app.services.leads import sensitive

DOCUMENT_FIELDS = ("name", "audience", "description", "trigger", "steps", "exit_on", "reenrolment")


async def read(ctx: Context, journey_id: UUID) -> Row:
    """`GET /v1/journeys/{id}`: the journey as answered, its row and its version as of one moment
    (a publish between the two reads would pair the row with another version)."""
    await ctx.uow.snapshot()
    return await shown(ctx, await get(ctx, journey_id))


async def get(ctx: Context, journey_id: UUID) -> Row:
    row = await ctx.journeys.get(journey_id)
    if row is None:
        raise NotFound("no journey with this id")
    return row


async def version_of(ctx: Context, row: Mapping[str, Any], number: int | None = None) -> Row:
    """A stored version (default: the draft, else the active one): its document and its review."""
    number = number or row["draft_version"] or row["active_version"]
    version = await ctx.journeys.version(row["id"], number)
    if version is None:
        raise NotFound(f"the journey has no version {number}")
    return version


async def requirements(ctx: Context) -> dict[str, Any]:
    """The workspace's approval settings (the `campaigns` section: journeys share the campaigns' bar)."""
    return await campaigns.requirements(ctx)


def review_of(version: Mapping[str, Any], current: Mapping[str, Any]) -> Row:
    """A draft version's review as answered: its bar (as submitted, else the settings now), whether
    publishing waits for it, and what publishing still lacks."""
    required = version["required_approvals"]
    if required is None:
        required = current["required_approvals"]
    required_groups = version["required_review_groups"]
    if required_groups is None:
        required_groups = current["require_distinct_review_groups"]
    needed = review_rules.needs_approval(
        version["document"].get("steps") or [], apply_to_journeys=current["approvals_apply_to_journeys"]
    )
    lacks = review_rules.missing(version["review_status"], approvals=version["approvals"],
                                 review_groups=version["review_groups"], required=required,
                                 required_groups=required_groups)  # fmt: skip
    return {
        "version": version["number"],
        "required": needed,
        "status": version["review_status"],
        "contributors": list(version["contributors"] or []),
        "approvals": version["approvals"],
        "required_approvals": required,
        "review_groups": version["review_groups"],
        "required_review_groups": required_groups,
        "missing": lacks if needed else [],
        "submitted_at": version["submitted_at"],
        "approved_at": version["approved_at"],
    }


async def shown(ctx: Context, row: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> Row:
    """The journey as answered: its row, the document being edited (else the active one) and the
    draft's review. `current`: the approval settings, when the caller has read them."""
    version = await version_of(ctx, row)
    out = {**{k: v for k, v in row.items() if k != "workspace_id"}, **version["document"], "name": row["name"]}
    out["review"] = None
    if row["draft_version"] is not None:
        out["review"] = review_of(version, current if current is not None else await requirements(ctx))
    return out


def member_of(ctx: Context) -> str | None:
    """The member bound to the calling key, if any."""
    return ctx.actor.id if ctx.actor.type == "member" and ctx.actor.id is not None else None


def with_contributor(contributors: list[str] | None, ctx: Context) -> list[str]:
    """A draft's contributors with the calling key's member (if any) among them."""
    found = list(contributors or [])
    member = member_of(ctx)
    if member is not None and member not in found:
        found.append(member)
    return found


# A draft that leaves review: not submitted, no approval counts, the bar set again at its next submission.
NOT_SUBMITTED: Mapping[str, Any] = {"review_status": None, "approvals": 0, "review_groups": 0,
                                    "required_approvals": None, "required_review_groups": None,
                                    "approved_at": None}  # fmt: skip


def _parse(values: Mapping[str, Any]) -> documents.JourneyDocument:
    return documents.parse({k: values[k] for k in DOCUMENT_FIELDS if k in values and values[k] is not None})


async def _check_references(ctx: Context, document: documents.JourneyDocument) -> None:
    """Templates, teams and segments a document names must be the workspace's (422 naming them)."""
    errors = ErrorList()
    for index, step in enumerate(document.steps):
        if isinstance(step, documents.SendStep) and step.template_id is not None:
            template = await ctx.templates.get(step.template_id)
            if template is None or template["archived_at"] is not None:
                errors.add(f"steps.{index}.template_id", "no live template with this id")
            elif template["channel"] != step.channel.value:
                errors.add(f"steps.{index}.template_id", f"this template is for {template['channel']}")
        if isinstance(step, documents.SendStep) and step.channel_id is not None:
            channel = await ctx.channels.get(step.channel_id)
            if channel is None or channel["archived_at"] is not None or channel["type"] != step.channel.value:
                errors.add(f"steps.{index}.channel_id", f"no live {step.channel.value} channel with this id")
        if (
            isinstance(step, documents.TaskStep)
            and step.team_id is not None
            and await ctx.teams.get(step.team_id) is None
        ):
            errors.add(f"steps.{index}.assign.team_id", "no team with this id")
    trigger = document.trigger
    segment_id = trigger.segment_id if isinstance(trigger, documents.SegmentTrigger) else None
    if segment_id is not None and await ctx.segments.get(segment_id) is None:
        errors.add("trigger.segment_id", "no segment with this id")
    errors.raise_if_any()


async def create(ctx: Context, values: dict[str, Any]) -> Row:
    """A new journey in draft (version 1), from a document or from a built-in template (`template`,
    its document overlaid with what the request gives)."""
    template = values.pop("template", None)
    if template is not None:
        make = built_in.BUILT_IN.get(template)
        if make is None:
            names = ", ".join(built_in.BUILT_IN)
            raise InvalidInput.field("template", f"no built-in journey {template!r} (one of: {names})")
        base = make()
        values = {**base, **{k: v for k, v in values.items() if v is not None}}
    document = _parse(values)
    await sensitive.check_conditions(ctx, values)
    await _check_references(ctx, document)
    dumped = documents.dump(document)
    journey_id = new_id()
    row = await ctx.journeys.create(
        {
            "id": journey_id,
            "name": document.name,
            "audience": document.audience.value,
            "status": "draft",
            "active_version": None,
            "draft_version": 1,
            "template": template,
            **ctx.audit_new(),
        }
    )
    await ctx.journeys.add_version(journey_id, 1, dumped, ctx.now, str(ctx.actor),
                                   contributors=with_contributor(None, ctx))  # fmt: skip
    return await shown(ctx, row)


async def update(ctx: Context, journey_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> Row:
    """Edit the draft: an active journey gets a new draft version (its enrolments keep theirs). A
    change to a draft withdraws every approval of it (kept, marked withdrawn) and takes it out of
    review; the editor's member becomes one of its contributors."""
    row = await get(ctx, journey_id)
    check_if_match(if_match, row["version"])
    if row["status"] == "archived":
        raise Conflict("the journey is archived")
    edited = await version_of(ctx, row)
    current = dict(edited["document"])
    merged = {**current, **{k: v for k, v in changes.items() if k in DOCUMENT_FIELDS}}
    if row["active_version"] is not None and merged.get("audience") != current.get("audience"):
        raise InvalidInput.field("audience", "a published journey keeps its audience")
    document = _parse(merged)
    await sensitive.check_conditions(ctx, {k: v for k, v in changes.items() if k in DOCUMENT_FIELDS})
    await _check_references(ctx, document)
    dumped = documents.dump(document)
    if dumped == current and row["draft_version"] is not None:
        return await shown(ctx, row)
    values: dict[str, Any] = {"name": document.name, "audience": document.audience.value, **ctx.audit_change()}
    number = row["draft_version"] or int(row["active_version"]) + 1
    values["draft_version"] = number
    # the journey's compare-and-set first: of two concurrent edits, the second runs again on a fresh read
    updated = await ctx.journeys.update(journey_id, row["version"], values)
    if updated is None:
        raise lost_update(if_match)
    if row["draft_version"] is not None:
        contributors = with_contributor(edited["contributors"], ctx)
        await ctx.journeys.set_version(journey_id, number, {"document": dumped, "updated_at": ctx.now,
                                                            "contributors": contributors, **NOT_SUBMITTED})  # fmt: skip
        await ctx.journey_reviews.withdraw(journey_id, number, ctx.now)
    else:
        await ctx.journeys.add_version(journey_id, number, dumped, ctx.now, str(ctx.actor),
                                       contributors=with_contributor(None, ctx))  # fmt: skip
    return await shown(ctx, updated)


def _draft_number(row: Mapping[str, Any], doing: str) -> int:
    """The draft's version number (409 when archived or without a draft)."""
    if row["status"] == "archived":
        raise Conflict("the journey is archived")
    if row["draft_version"] is None:
        raise Conflict(f"nothing to {doing}: the journey has no draft (edit it first)")
    return int(row["draft_version"])


async def draft_of(ctx: Context, row: Mapping[str, Any], doing: str) -> Row:
    """The draft version, to publish or to submit (`doing`): 409 when archived or without a draft."""
    return await version_of(ctx, row, _draft_number(row, doing))


async def check_publishable(ctx: Context, draft: Mapping[str, Any]) -> documents.JourneyDocument:
    """A draft's document, which could be published as it is: else 422 naming what a draft may leave
    open and a published version may not (a template not chosen yet...) and any reference no longer
    valid."""
    document = documents.parse(draft["document"])
    documents.check_publishable(document)
    await _check_references(ctx, document)
    await _check_reasons(ctx, document)
    return document


async def _check_reasons(ctx: Context, document: documents.JourneyDocument) -> None:
    """A `disqualify` step's reason must be one of the workspace's (422 naming it) when the journey
    is published; a draft may name one not added yet (a built-in's `no_response`, say)."""
    steps = [(i, s) for i, s in enumerate(document.steps) if isinstance(s, documents.DisqualifyStep)]
    if not steps:
        return
    from app.schemas.workspace.settings import DisqualificationReasons
    from app.services.workspace import settings

    allowed = (await settings.get(ctx, "disqualification-reasons", DisqualificationReasons))["values"]["reasons"]
    errors = ErrorList()
    for index, step in steps:
        if step.reason not in allowed:
            known = ", ".join(allowed)
            errors.add(f"steps.{index}.reason", f"use one of: {known} (/v1/settings/disqualification-reasons)")
    errors.raise_if_any()


async def publish(ctx: Context, journey_id: UUID, *, if_match: str | None) -> Row:
    """The draft becomes the active version and the journey `active`. A draft that sends marketing,
    when the workspace's approvals apply to journeys, must be approved first (409
    `/problems/approval-required` naming what it lacks)."""
    row = await get(ctx, journey_id)
    check_if_match(if_match, row["version"])
    draft = await draft_of(ctx, row, "publish")
    document = await check_publishable(ctx, draft)
    review = review_of(draft, await requirements(ctx))
    if review["required"]:
        review_rules.refuse_unapproved(draft["review_status"], review["missing"])
    trigger = document.trigger
    from_sequence = await signals.start_reading(ctx, journey_id)
    values = {
        "from_sequence": from_sequence,
        "active_version": row["draft_version"],
        "draft_version": None,
        "status": "active",
        "paused_at": None,
        "trigger_type": trigger.type.value,
        "trigger_event": trigger.event if isinstance(trigger, documents.EventTrigger) else None,
        "next_run_at": await schedules.next_run(ctx, trigger, ctx.now)
        if isinstance(trigger, documents.ScheduleTrigger)
        else None,
        **ctx.audit_change(),
    }
    await ctx.journeys.set_version(journey_id, row["draft_version"],
                                   {"published_at": ctx.now, "published_by": str(ctx.actor)})  # fmt: skip
    updated = await ctx.journeys.update(journey_id, row["version"], values)
    if updated is None:
        raise lost_update(if_match)
    exits.forget(ctx)
    return await shown(ctx, updated)


async def _set_status(ctx: Context, journey_id: UUID, *, want: str, from_: tuple[str, ...], if_match: str | None,
                      values: Mapping[str, Any]) -> Row:  # fmt: skip
    row = await get(ctx, journey_id)
    check_if_match(if_match, row["version"])
    if row["status"] == want:
        return await shown(ctx, row)
    if row["status"] not in from_:
        raise Conflict(f"a {row['status']} journey cannot be made {want}")
    updated = await ctx.journeys.update(journey_id, row["version"], {"status": want, **values, **ctx.audit_change()})
    if updated is None:
        raise lost_update(if_match)
    return await shown(ctx, updated)


async def pause(ctx: Context, journey_id: UUID, *, if_match: str | None) -> Row:
    """No step runs and no one is enrolled while paused; waits that fall due meanwhile run at resume."""
    return await _set_status(ctx, journey_id, want="paused", from_=("active",), if_match=if_match,
                             values={"paused_at": ctx.now})  # fmt: skip


async def resume(ctx: Context, journey_id: UUID, *, if_match: str | None) -> Row:
    return await _set_status(ctx, journey_id, want="active", from_=("paused",), if_match=if_match,
                             values={"paused_at": None})  # fmt: skip


async def archive(ctx: Context, journey_id: UUID, *, if_match: str | None) -> Row:
    """Archived: no one is enrolled any more and every active enrolment exits (`journey_archived`)."""
    from app.services.journeys import enrolments

    row = await _set_status(ctx, journey_id, want="archived", from_=("draft", "active", "paused"),
                            if_match=if_match, values={"archived_at": ctx.now})  # fmt: skip
    await enrolments.exit_all(ctx, journey_id, "journey_archived")
    exits.forget(ctx)
    return row


async def list_journeys(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, status: str | None, audience: str | None
) -> Page[Row]:
    archived = None if status is not None else False  # archived journeys only when asked for
    page = await ctx.journeys.list(sort=sort, cursor=cursor, limit=limit, archived=archived, status=status,
                                   audience=audience)  # fmt: skip
    current = await requirements(ctx)
    return Page([await shown(ctx, row, current) for row in page.rows], page.next_cursor)


async def version(ctx: Context, journey_id: UUID, number: int) -> Row:
    row = await get(ctx, journey_id)
    found = await ctx.journeys.version(journey_id, number)
    if found is None:
        raise NotFound(f"the journey has no version {number}")
    return {"journey_id": row["id"], **{k: v for k, v in found.items() if k != "workspace_id"}}
