"""Exit rules without an event (`{"conditions": ...}`) end an enrolment as soon as they hold, not
only when the worker next advances it: they are judged whenever something about the person changes.

- An event that names the person (a lead or contact updated, a consent changed, a message opened,
  clicked or replied to, an order, a score or stage change, ...) is read by the journeys' event
  reader (`signals`), which judges these rules for the person's active enrolments.
- An engagement recorded through the API (`POST /v1/leads/{id}/engagements`, the batch) emits no
  event: the use case judges them itself, in its own transaction (`after_engagement`).
- The worker still judges them before every step it runs.

The exit reason is `conditions`, as when the worker finds them holding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.domain.errors import NotFound
from app.domain.journeys import document as documents
from app.domain.outreach.vocabulary import PersonRef
from app.services.context import Context
from app.services.journeys import enrolments
from app.services.leads import lookups

REASON = "conditions"


def condition_rules(document: documents.JourneyDocument) -> list[documents.ExitRule]:
    return [rule for rule in document.exit_on if rule.event is None and rule.conditions is not None]


async def end_if_held(
    ctx: Context,
    enrolment: Mapping[str, Any],
    document: documents.JourneyDocument,
    subject: Mapping[str, Any] | None,
) -> bool:
    """End the enrolment (`exited`, reason `conditions`) when one of its version's exit rules
    without an event holds for the person as they are now; whether it ended."""
    rules = condition_rules(document)
    if not rules or subject is None:
        return False
    if not any(enrolments.holds(rule.conditions, subject, ctx.now) for rule in rules):
        return False
    return await enrolments.end(ctx, enrolment, enrolments.EXITED, REASON) is not None


async def watching(ctx: Context) -> bool:
    """Whether any running journey of the workspace has a published version with an exit rule
    without an event (known to this process for a few seconds: publishing one is seen by other
    processes within FORM_CACHE_SECONDS)."""

    async def load() -> bool:
        for journey in await ctx.journeys.running():
            for number in range(1, int(journey["active_version"] or 0) + 1):
                try:
                    document = await enrolments.document_for(ctx, journey["id"], number)
                except NotFound:
                    continue
                if condition_rules(document):
                    return True
        return False

    return await lookups.cached(("journey_condition_exits", ctx.workspace_id), load)


def forget(ctx: Context) -> None:
    """A journey was published, paused, resumed or archived here: judge anew."""
    lookups.forget(("journey_condition_exits", ctx.workspace_id))


async def after_engagement(ctx: Context, people: Sequence[PersonRef]) -> int:
    """Engagements of these people were just recorded: end their enrolments whose exit conditions
    now hold (an `engagements.meeting_booked` rule, say); how many ended. Nothing is read when no
    running journey has such a rule."""
    if not people or not await watching(ctx):
        return 0
    ended, flushed = 0, False
    for person in sorted(set(people), key=lambda p: (p.kind, p.id)):  # one order: batches never deadlock
        active = await ctx.enrolments.active_of_person_locked(person.column, person.id)
        for enrolment in active:
            document = await enrolments.document_for(ctx, enrolment["journey_id"], enrolment["journey_version"])
            if not condition_rules(document):
                continue
            if not flushed:  # the engagements are written at commit: counted from here on
                await ctx.uow.flush()
                flushed = True
            subject = await enrolments.subject_of(ctx, person, enrolment["enrolled_at"])
            ended += await end_if_held(ctx, enrolment, document, subject)
    return ended
