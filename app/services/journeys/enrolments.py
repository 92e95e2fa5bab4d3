"""Enrolments: a person entering a journey (by its trigger, or by hand), leaving it (a goal, an
exit rule, an exit step, the journey archived), and what each ran; the journey's statistics."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.db.wakeups import JOURNEYS
from app.domain import conditions as rules
from app.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.journeys import document as documents
from app.domain.outreach.vocabulary import ChannelType, PersonRef
from app.domain.pagination import Sort
from app.domain.workspace.calendar import BusinessHours, add_working_time
from app.ids import new_id
from app.schemas.journeys.journeys import EnrolmentRead
from app.schemas.workspace.settings import SlaSettings
from app.services.context import Context
from app.services.events import events
from app.services.workspace import calendars, settings

ACTIVE, COMPLETED, EXITED = "active", "completed", "exited"


def person_of(row: Mapping[str, Any]) -> PersonRef:
    return PersonRef("lead", row["lead_id"]) if row.get("lead_id") else PersonRef("contact", row["contact_id"])


async def document_for(ctx: Context, journey_id: UUID, number: int) -> documents.JourneyDocument:
    version = await ctx.journeys.version(journey_id, number)
    if version is None:
        raise NotFound(f"the journey has no version {number}")
    return documents.parse(version["document"])


async def business_calendar(ctx: Context) -> BusinessHours | None:
    """The workspace's business hours (its SLA settings' `business_hours`); None: around the clock."""
    values = (await settings.get(ctx, "sla", SlaSettings))["values"]
    workspace = await ctx.workspaces.get() or {}
    region = workspace.get("default_region")
    if (values["business_hours"] or {}).get("region_holidays"):
        await calendars.prepare(region, ctx.now.year)
    return calendars.business_hours(values["business_hours"], workspace.get("timezone") or "UTC", region)


async def in_business_hours(ctx: Context, at: datetime) -> bool:
    """Whether `at` is within the workspace's business hours (always, without any)."""
    hours = await business_calendar(ctx)
    return hours is None or add_working_time(hours, at, 0) <= at


def subject_from(row: Mapping[str, Any], kind: str, now: datetime) -> dict[str, Any]:
    """A person's subject from their row alone (no analytics, consents or engagement counts)."""
    subject = dict(row)
    subject["last_activity_at"] = row.get("last_engaged_at") if kind == "lead" else row.get("last_order_at")
    if kind == "contact":
        subject["active"] = row.get("active_until") is not None and row["active_until"] > now
    subject.setdefault("custom_fields", {})
    subject["tags"] = list(subject.get("tags") or [])
    subject["engagements"] = {}
    return subject


async def subject_of(ctx: Context, person: PersonRef, since: datetime | None) -> dict[str, Any] | None:
    """What conditions read of a person (None: no such person): their columns, custom fields and
    tags, a contact's RFM segment and churn level from the latest analytics snapshot, the latest
    activity, and `engagements` (their count by type since `since`, the enrolment)."""
    return (await read_person(ctx, person, since))[1]


async def read_person(
    ctx: Context,
    person: PersonRef,
    since: datetime | None,
    reads: Collection[str] | None = None,
    *,
    known: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the person's row, their subject as `subject_of` makes it): (None, None) when there is no such
    person. `reads`: the fields the caller's conditions read; engagements and a contact's analytics
    are then read only when those name them (None: everything). `known`: their row as the caller
    read it already in this transaction (not read again)."""
    engagements = reads is None or any(f.partition(".")[0] == rules.ENGAGEMENTS for f in reads)
    consents = reads is None or any(f.partition(".")[0] == rules.CONSENT for f in reads)
    analytics = reads is None or bool({"rfm_segment", "churn_level"} & set(reads))
    if person.kind == "lead":
        lead = cast(Any, known) if known is not None else await ctx.leads.get(person.id)
        if lead is None or lead["merged_into_id"] is not None:
            return None, None
        row: dict[str, Any] = dict(lead)
        subject = dict(row)
        subject["last_activity_at"] = lead.get("last_engaged_at")
    else:
        contact = cast(Any, known) if known is not None else await ctx.contacts.get(person.id)
        if contact is None:
            return None, None
        row = dict(contact)
        subject = dict(row)
        subject["last_activity_at"] = contact.get("last_order_at")
        active_until = contact.get("active_until")
        subject["active"] = active_until is not None and active_until > ctx.now
        snapshot = await ctx.analytics.latest() if analytics else None
        if snapshot is not None:
            value = await ctx.analytics.value_of(snapshot["id"], person.id)
            if value is not None:
                subject["rfm_segment"] = value.get("rfm_segment")
                subject["churn_level"] = value.get("churn_level")
    subject.setdefault("custom_fields", {})
    subject["tags"] = list(subject.get("tags") or [])
    subject["engagements"] = (
        await ctx.engagements.counts_since(person.column, person.id, since) if since is not None and engagements else {}
    )
    if consents:
        given = {row["channel"]: row["status"] for row in await ctx.consents.of(person.column, person.id)}
        subject[rules.CONSENT] = {channel.value: given.get(channel.value, "unknown") for channel in ChannelType}
    if reads is None or "in_business_hours" in reads:
        subject["in_business_hours"] = await in_business_hours(ctx, ctx.now)
    return row, subject


def _allowed_again(reenrolment: documents.Reenrolment, last: Mapping[str, Any] | None, now: datetime) -> bool:
    if last is None:
        return True
    if last["status"] == ACTIVE:
        return False
    kind = reenrolment.type.value
    if kind == "always":
        return True
    if kind == "after_days":
        ended = last["ended_at"] or last["enrolled_at"]
        return bool(now >= ended + timedelta(days=int(reenrolment.days or 0)))
    return False  # never


async def enrol(
    ctx: Context,
    journey: Mapping[str, Any],
    document: documents.JourneyDocument,
    person: PersonRef,
    trigger: Mapping[str, Any],
) -> Row | None:
    """Enrol a person in the journey's active version, when its re-enrolment rule allows: the new
    enrolment (its first step due now, for the worker), or None (one is active, or the rule says
    not again). `journey.enrolled`."""
    last = await ctx.enrolments.last_of(journey["id"], person.column, person.id)
    if not _allowed_again(document.reenrolment, last, ctx.now):
        return None
    row = await ctx.enrolments.enrol(
        {
            "id": new_id(),
            "journey_id": journey["id"],
            "journey_version": journey["active_version"],
            person.column: person.id,
            "status": ACTIVE,
            "current_step": document.steps[0].id,
            "visit": 1,
            "due_at": ctx.now,
            "enrolled_at": ctx.now,
            "trigger": dict(trigger),
            **ctx.audit_new(),
        }
    )
    if row is not None:
        ctx.uow.wake(JOURNEYS)
        await events.record(ctx, types.JOURNEY_ENROLLED, EnrolmentRead.model_validate(row), resource_id=row["id"])
    return row


async def enrol_by_hand(ctx: Context, journey_id: UUID, lead_id: UUID | None, contact_id: UUID | None) -> Row:
    """`POST /v1/journeys/{id}/enrolments`: 409 unless the journey is active and the person may
    enter (not in it now, and its re-enrolment rule allows); 422 for a person of the other audience
    or not of this workspace."""
    from app.services.journeys import journeys

    needed = "leads:write" if lead_id is not None else "contacts:write"
    if not ctx.allows(needed):
        raise Forbidden(f"enrolling a person changes them: this needs the {needed!r} scope, which this key lacks")
    journey = await journeys.get(ctx, journey_id)
    if journey["status"] != "active":
        raise Conflict(f"the journey is {journey['status']}: only an active journey enrols")
    audience = "leads" if lead_id is not None else "contacts"
    field = "lead_id" if lead_id is not None else "contact_id"
    if audience != journey["audience"]:
        raise InvalidInput.field(field, f"this journey enrols {journey['audience']}")
    person = PersonRef("lead", lead_id) if lead_id is not None else PersonRef("contact", contact_id)  # type: ignore[arg-type]
    found = await (ctx.leads.get(person.id) if person.kind == "lead" else ctx.contacts.get(person.id))
    if found is None:
        raise InvalidInput.field(field, f"no {person.kind} with this id")
    document = await document_for(ctx, journey_id, journey["active_version"])
    row = await enrol(ctx, journey, document, person, {"type": "manual", "by": str(ctx.actor)})
    if row is None:
        raise Conflict("the person is in this journey now, or its re-enrolment rule does not let them in again")
    return shown(row)


async def end(
    ctx: Context,
    enrolment: Mapping[str, Any],
    status: str,
    reason: str | None,
    *,
    also: Mapping[str, Any] | None = None,
) -> Row | None:
    """The enrolment ends, if still active: `completed` (its last step done) or `exited` (with
    why); `journey.completed` / `journey.exited`. None when it had ended already. `also`: other
    columns written with it (where the worker's pass moved it)."""
    values = {**(also or {}), "status": status, "exit_reason": reason, "due_at": None, "waiting_event": None,
              "ended_at": ctx.now, **ctx.audit_change()}  # fmt: skip
    row = await ctx.enrolments.end_if_active(enrolment["id"], values)
    if row is None:  # ended meanwhile (completed by the worker, exited by an event): nothing more
        return None
    event = types.JOURNEY_COMPLETED if status == COMPLETED else types.JOURNEY_EXITED
    await events.record(ctx, event, EnrolmentRead.model_validate(row), resource_id=row["id"])
    return row


async def exit_all(ctx: Context, journey_id: UUID, reason: str) -> int:
    ended = 0
    while True:
        page = await ctx.enrolments.list_of(journey_id, sort=_CREATED, cursor=None, limit=200, status=ACTIVE)
        if not page.rows:
            return ended
        for row in page.rows:
            await end(ctx, row, EXITED, reason)
            ended += 1


def shown(row: Mapping[str, Any]) -> Row:
    return {k: v for k, v in row.items() if k not in ("workspace_id", "failures")}


_CREATED = Sort("created_at", descending=False)


async def get(ctx: Context, enrolment_id: UUID) -> Row:
    """The enrolment with its step runs, both as of one moment (a worker may advance it between
    the two reads)."""
    await ctx.uow.snapshot()
    row = await ctx.enrolments.get(enrolment_id)
    if row is None or not ctx.allows(f"{person_of(row).kind}s:read"):
        raise NotFound("no enrolment with this id")
    steps = await ctx.enrolments.steps_of(enrolment_id)
    return {**shown(row), "steps": [{k: v for k, v in s.items() if k not in ("workspace_id", "enrolment_id")}
                                    for s in steps]}  # fmt: skip


async def list_enrolments(
    ctx: Context, journey_id: UUID, *, sort: Sort, cursor: str | None, limit: int, filters: Mapping[str, Any]
) -> Page[Row]:
    from app.services.journeys import journeys

    journey = await journeys.get(ctx, journey_id)
    if not ctx.allows(f"{journey['audience']}:read"):
        raise Forbidden(f"a journey's enrolments name its {journey['audience']}: this needs {journey['audience']}:read")
    equal = {
        "status": filters.get("status"),
        "current_step": filters.get("step"),
        "variant": filters.get("variant"),
        "exit_reason": filters.get("exit_reason"),
    }
    page = await ctx.enrolments.list_of(journey_id, sort=sort, cursor=cursor, limit=limit, **equal)
    return Page([shown(row) for row in page.rows], page.next_cursor)


def holds(condition: rules.Condition | None, subject: Mapping[str, Any], now: datetime) -> bool:
    return condition is None or rules.evaluate(condition, subject, now)


def converted(row: Mapping[str, Any]) -> bool:
    """An enrolment reached a goal: an exit rule (an event, or conditions) ended it."""
    reason = row.get("exit_reason") or ""
    return row.get("status") == EXITED and (reason.startswith("event:") or reason == "conditions")


async def stats(ctx: Context, journey_id: UUID) -> dict[str, Any]:
    """Enrolments by outcome, per step entered / completed / waiting / exited, goal conversion, and
    conversion per variant of the active version's first split (a two-proportion test each against
    the first variant, a winner only past the minimum sample)."""
    from app.domain.journeys import stats as statistics  # loads statsmodels: only when asked
    from app.services.journeys import journeys

    journey = await journeys.get(ctx, journey_id)
    counts = await ctx.enrolments.counts(journey_id)
    total = sum(counts.values())
    by_status: dict[str, int] = {}
    exited: dict[str, int] = {}
    goal = 0
    by_variant: dict[str, list[int]] = {}
    for (status, reason, variant), number in counts.items():
        by_status[status] = by_status.get(status, 0) + number
        hit = converted({"status": status, "exit_reason": reason})
        if status == EXITED:
            exited[reason or "unknown"] = exited.get(reason or "unknown", 0) + number
        goal += number if hit else 0
        if variant is not None:
            pair = by_variant.setdefault(variant, [0, 0])
            pair[0] += number if hit else 0
            pair[1] += number
    rows = []
    for run in await ctx.enrolments.step_rows(journey_id):
        if run["finished_at"] is not None or run["status"] == COMPLETED:
            rows.append((run["step_id"], "completed", None))
        elif run["status"] == ACTIVE:
            rows.append((run["step_id"], "waiting", None))
        else:
            rows.append((run["step_id"], "exited", run["exit_reason"]))
    number = journey["active_version"] or journey["draft_version"]
    document = await document_for(ctx, journey_id, number)
    steps = statistics.step_counts(rows, steps=[s.id for s in document.steps])
    split = None
    first_split = next((s for s in document.steps if isinstance(s, documents.SplitStep)), None)
    if first_split is not None:
        names = [v.name for v in first_split.variants]
        pairs = {name: (by_variant.get(name, [0, 0])[0], by_variant.get(name, [0, 0])[1]) for name in names}
        found = statistics.compare_variants(pairs)
        split = {
            "step_id": first_split.id, "alpha": found.alpha, "min_per_variant": found.min_per_variant,
            "variants": [{"name": v.name, "enrolled": v.enrolled, "converted": v.conversions, "rate": v.rate}
                         for v in found.variants],
            "comparisons": [
                {"control": c.control.name, "variant": c.variant.name, "difference": c.difference,
                 "p_value": c.p_value, "p_adjusted": c.p_adjusted,
                 "interval": list(c.interval) if c.interval is not None else None, "winner": c.winner}
                for c in found.comparisons
            ],
            "winner": found.winner,
        }  # fmt: skip
    return {
        "journey_id": journey_id,
        "enrolled": total,
        "active": by_status.get(ACTIVE, 0),
        "completed": by_status.get(COMPLETED, 0),
        "exited": exited,
        "converted": goal,
        "conversion_rate": goal / total if total else None,
        "steps": [{"step_id": step_id, **values} for step_id, values in steps.items()],
        "split": split,
    }
