"""What events do to journeys (run by the worker, after the dispatcher numbered them): an event
that is an active journey's trigger enrols the person it names (when the trigger's conditions hold
for the event's resource); one an enrolment's exit rules name ends it (`event:<type>`); any event
naming the person ends an enrolment whose exit rules without an event now hold (`conditions`); one
a wait step waits for moves that enrolment on. Each workspace's events are read once, in their sequence,
from a cursor kept in the same transaction as what they did."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.conditions import fields_of as rules_of
from app.domain.errors import NotFound
from app.domain.events import events as types
from app.domain.journeys import document as documents
from app.domain.outreach.vocabulary import PersonRef
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.journeys import enrolments, exits
from app.services.journeys.enrolments import EXITED, holds

log = logging.getLogger("app.services")
SEGMENT_ENTERED = types.CONTACT_SEGMENT_ENTERED
BATCH = 500
# Event types that name a contact as their resource, besides `contact.*`.
CONTACT_RESOURCES = ("customer.created",)


def people_named(event: Mapping[str, Any]) -> list[PersonRef]:
    """The lead and the contact an event is about: its resource for `lead.*` and `contact.*` (and
    the contact for `customer.created`), else the `lead_id` and `contact_id` its data carries
    (messages, consents, orders, churn alerts; `customer.converted` names both the contact and the
    lead it came from). A journey takes the one of its audience."""
    kind = str(event["type"]).partition(".")[0]
    data = event["data"] if isinstance(event["data"], Mapping) else {}
    if kind in ("lead", "contact") and event["resource_id"]:
        resource = _uuid(event["resource_id"])
        return [PersonRef(kind, resource)] if resource is not None else []  # type: ignore[arg-type]
    if event["type"] in CONTACT_RESOURCES:
        contact = _uuid(data.get("id"))
        return [PersonRef("contact", contact)] if contact is not None else []
    found = []
    for column, person_kind in (("lead_id", "lead"), ("contact_id", "contact")):
        value = _uuid(data.get(column))
        if value is not None:
            found.append(PersonRef(person_kind, value))  # type: ignore[arg-type]
    return found


def _uuid(value: Any) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None


async def start_reading(ctx: Context, journey_id: UUID) -> int:
    """A journey is being published: the events stamped so far enrol no one in it (its
    `from_sequence`, returned), and when no other journey was reading the workspace's events, they
    are read from here on (not from where reading stopped when the last journey was archived)."""
    queue = ctx.uow.enrolment_queue()
    others = [j for j in await ctx.journeys.running() if j["id"] != journey_id]
    return await queue.start_cursor(ctx.workspace_id, ctx.now, move=not others)


async def process(database: Database, now: datetime, *, limit: int = BATCH) -> int:
    """One pass: each workspace with a published journey, its new events (up to `limit` each);
    how many events were read."""
    read = 0
    async with UnitOfWork(database, write=False) as uow:
        workspaces = await uow.enrolment_queue().reading_workspaces()
    for workspace_id in workspaces:
        async with UnitOfWork(database) as uow:
            queue = uow.enrolment_queue()
            cursor = await queue.claim_cursor(workspace_id)
            if cursor is None:
                continue
            batch = await queue.events_after(workspace_id, cursor, limit)
            if not batch:
                continue
            ctx = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
            journeys = _Journeys(ctx)
            for event in batch:
                if str(event["type"]).startswith("journey."):
                    continue  # journeys do not react to their own events
                await _handle(ctx, journeys, event)
            await queue.advance_cursor(workspace_id, int(batch[-1]["sequence"]), now)
            await uow.commit()
            read += len(batch)
    return read


# Published journey versions, parsed, by (workspace, journey, number): they never change.
_PUBLISHED: dict[tuple[UUID, UUID, int], documents.JourneyDocument] = {}
_PUBLISHED_LIMIT = 1024


class _Journeys:
    """The workspace's journeys and their documents, read once per pass."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._by_trigger: dict[str, list[tuple[dict[str, Any], documents.JourneyDocument]]] | None = None
        self._awaited: set[str] | None = None
        self._any_event = False  # a version exits on conditions alone

    async def awaited(self, event_type: str) -> bool:
        """Whether an enrolment could exit or go on at this event: a version that enrolments of a
        running journey may be on (any published one) exits on it or waits for it. Events no one
        awaits skip the read of the person's enrolments."""
        if self._awaited is None:
            awaited: set[str] = set()
            for journey in await self.ctx.journeys.running():
                for number in range(1, int(journey["active_version"] or 0) + 1):
                    try:
                        document = await self.document(journey["id"], number)
                    except NotFound:
                        continue  # no such version: no enrolment runs on it
                    awaited |= {rule.event for rule in document.exit_on if rule.event is not None}
                    if exits.condition_rules(document):
                        self._any_event = True  # conditions judged on any event naming the person
                    awaited |= {step.event for step in document.steps
                                if isinstance(step, documents.WaitStep) and step.event is not None}  # fmt: skip
            self._awaited = awaited
        return self._any_event or event_type in self._awaited

    async def triggered_by(self, event_type: str) -> list[tuple[dict[str, Any], documents.JourneyDocument]]:
        if self._by_trigger is None:
            self._by_trigger = {}
            for journey in await self.ctx.journeys.running():
                if journey["status"] != "active" or journey["trigger_type"] not in ("event", "segment"):
                    continue
                document = await self.document(journey["id"], journey["active_version"])
                # a segment trigger is an event trigger on contact.segment_entered of its segment
                event = journey["trigger_event"] if journey["trigger_type"] == "event" else SEGMENT_ENTERED
                self._by_trigger.setdefault(str(event), []).append((journey, document))
        return self._by_trigger.get(event_type, [])

    async def document(self, journey_id: UUID, number: int) -> documents.JourneyDocument:
        """A published version of a journey (what enrolments run on): kept by the process, since a
        published version never changes."""
        key = (self.ctx.workspace_id, journey_id, int(number))
        found = _PUBLISHED.get(key)
        if found is None:
            if len(_PUBLISHED) >= _PUBLISHED_LIMIT:
                _PUBLISHED.clear()
            found = _PUBLISHED[key] = await enrolments.document_for(self.ctx, journey_id, int(number))
        return found


async def _handle(ctx: Context, journeys: _Journeys, event: Mapping[str, Any]) -> None:
    for person in people_named(event):
        await _handle_for(ctx, journeys, event, person)


async def _handle_for(ctx: Context, journeys: _Journeys, event: Mapping[str, Any], person: PersonRef) -> None:
    event_type = str(event["type"])
    data = event["data"] if isinstance(event["data"], Mapping) else {}
    # exits and event waits of the person's active enrolments (before new enrolments: an event
    # that enrols someone never also ends that enrolment)
    # locked: a worker advancing one of them finishes first, and this reads what it left
    awaited = await journeys.awaited(event_type)
    active = await ctx.enrolments.active_of_person_locked(person.column, person.id) if awaited else []
    for enrolment in active:
        document = await journeys.document(enrolment["journey_id"], enrolment["journey_version"])
        rules = [rule for rule in document.exit_on if rule.event == event_type]
        by_conditions = exits.condition_rules(document)
        if rules or by_conditions:
            subject = await enrolments.subject_of(ctx, person, enrolment["enrolled_at"])
            if rules and any(holds(rule.conditions, subject or {}, ctx.now) for rule in rules):
                await enrolments.end(ctx, enrolment, EXITED, f"event:{event_type}")
                continue
            if await exits.end_if_held(ctx, enrolment, document, subject):
                continue  # whatever changed about them, their exit conditions now hold
        if enrolment["waiting_event"] == event_type:
            result = {"event": event_type, "event_id": str(event["id"])}
            await ctx.enrolments.finish_step(enrolment["id"], enrolment["current_step"], enrolment["visit"], result,
                                             ctx.now)  # fmt: skip
            await ctx.enrolments.set_fields(enrolment["id"], {"due_at": ctx.now, "waiting_event": None})
    for journey, document in await journeys.triggered_by(event_type):
        if (journey["audience"] == "leads") != (person.kind == "lead"):
            continue
        if int(event["sequence"]) <= int(journey["from_sequence"] or 0):
            continue  # it happened before the journey was published
        trigger = document.trigger
        if isinstance(trigger, documents.SegmentTrigger):
            if str(data.get("segment_id")) != str(trigger.segment_id):
                continue
        elif not isinstance(trigger, documents.EventTrigger):
            continue
        elif trigger.conditions is not None:
            facts = dict(data)
            if "in_business_hours" in rules_of(trigger.conditions):  # when the event happened
                facts["in_business_hours"] = await enrolments.in_business_hours(ctx, event["occurred_at"])
            if not holds(trigger.conditions, facts, ctx.now):
                continue
        kind = "segment" if isinstance(trigger, documents.SegmentTrigger) else "event"
        cause = {"type": kind, "event": event_type, "event_id": str(event["id"])}
        await enrolments.enrol(ctx, journey, document, person, cause)
