"""The journeys engine (run by the worker): advances the enrolments that fell due, each step once.

A pass claims due enrolments of active journeys (FOR UPDATE SKIP LOCKED on PostgreSQL: workers
share the due ones, in due order) and, for each in a savepoint, runs its steps until it reaches a
wait or ends. A step run is a row keyed by (enrolment, step, visit) written in the same transaction
as what the step did (a message queued, a task created, a field changed) and as the enrolment's new
position: a worker killed anywhere leaves either all of it or none, so no step runs twice and the
next pass resumes each enrolment where it was. Sends only queue messages: delivery is the
messages' own machinery (consent, quiet hours, frequency cap, exactly-once delivery)."""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from app.db.repositories.base import Row
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain import conditions as rules
from app.domain.concurrency import LostUpdate
from app.domain.errors import DomainError
from app.domain.events import events as types
from app.domain.journeys import document as documents
from app.domain.journeys import waits
from app.domain.leads.scoring import Engagement
from app.domain.outreach.templates import RenderError, render_text
from app.domain.outreach.vocabulary import PersonRef
from app.domain.workspace.calendar import BusinessHours, add_working_time
from app.ids import new_id
from app.schemas.customers.relationships import ContactUpdate
from app.schemas.journeys.journeys import EnrolmentRead, JourneyNotified
from app.schemas.leads.leads import LeadUpdate
from app.schemas.outreach.messages import MessageCreate
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events
from app.services.journeys import enrolments
from app.services.journeys.enrolments import COMPLETED, EXITED, holds, person_of
from app.services.leads import leads as lead_service
from app.services.leads import qualification, routing, scoring, tasks
from app.services.outreach import messages, templates
from app.services.outreach import policy as messaging

log = logging.getLogger("app.services")
BATCH = 200
STEPS_PER_PASS = 50  # an enrolment that runs this many steps without a wait goes on in the next pass
RETRY_AFTER = timedelta(minutes=1)  # an enrolment whose pass failed is tried again then (times its failures)
MAX_FAILURES = 5
MAX_VISITS = 100  # an enrolment entering one step this many times leaves the journey (`loop_limit`)
Documents = dict[tuple[UUID, UUID, int], documents.JourneyDocument]


async def advance_due(database: Database, now: datetime, *, limit: int = BATCH) -> int:
    """One pass over up to `limit` due enrolments; how many were claimed. The batch runs together
    first: no savepoint per enrolment, its enrolments' positions and step runs written at the end in
    a few statements. Should any enrolment fail there (a bug, a concurrent write to a person), the
    whole batch is rolled back and runs again one enrolment at a time, each in its savepoint, where
    a failure stays with its enrolment."""
    try:
        return await _advance(database, now, limit, together=True)
    except LostUpdate:
        log.info("a lead of a journey batch changed meanwhile; advancing the batch one enrolment at a time")
    except Exception:
        log.exception("a journey batch could not advance together; advancing it one enrolment at a time")
    return await _advance(database, now, limit, together=False)


async def _advance(database: Database, now: datetime, limit: int, *, together: bool) -> int:
    async with UnitOfWork(database) as uow:
        claimed = await uow.enrolment_queue().due(now, limit)
        if not claimed:
            return 0
        cache: Documents = {}
        runs = await _runs_of(uow, claimed, now)
        if together:
            writes = _Together()
            await writes.prefetch(uow, claimed, now)
            for row in claimed:
                ctx = Context(uow, row["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
                await run(ctx, row, await _document(ctx, cache, row), _Runs(runs.get(row["id"], [])), writes)
            await writes.flush(uow, now)
            await uow.commit()
            return len(claimed)
        for row in claimed:
            ctx = Context(uow, row["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
            try:
                async with uow.savepoint():  # what a failed run did (rows, events) is undone whole
                    document = await _document(ctx, cache, row)
                    await run(ctx, row, document, _Runs(runs.get(row["id"], [])))
            except LostUpdate:  # a concurrent write to the person: run again at once on a fresh read
                async with uow.savepoint():
                    await ctx.enrolments.set_fields(row["id"], {"due_at": now + timedelta(seconds=1)})
            except Exception:
                log.exception("journey enrolment %s failed to advance", row["id"])
                async with uow.savepoint():
                    await _failed(ctx, row)
        await uow.commit()
        return len(claimed)


class _Writes:
    """Where a pass writes its enrolments and their step runs: at once (one enrolment at a time)."""

    later: lead_service.LaterWrites | None = None  # a lead's update: written now

    def known(self, person: PersonRef) -> dict[str, Any] | None:
        """The person's row as this pass knows it without reading (None: read it)."""
        return None

    async def settle(self, ctx: Context, person: PersonRef) -> None:
        """Write now what is kept for the end about this person: before a step that reads them
        from the database, or writes them itself."""

    async def start_step(self, ctx: Context, values: dict[str, Any]) -> bool:
        """Record that a step run begins; False when that run exists already."""
        return await ctx.enrolments.start_step(values)

    async def finish_step(
        self, ctx: Context, enrolment: Mapping[str, Any], step_id: str, visit: int, result: Mapping[str, Any] | None
    ) -> None:
        await ctx.enrolments.finish_step(enrolment["id"], step_id, visit, result, ctx.now)

    async def move(self, ctx: Context, enrolment: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        await ctx.enrolments.set_fields(enrolment["id"], values)

    async def end(
        self, ctx: Context, enrolment: Mapping[str, Any], status: str, reason: str | None, moved: Mapping[str, Any]
    ) -> None:
        await enrolments.end(ctx, enrolment, status, reason, also=moved)


class _Together(_Writes):
    """A batch's writes kept until its end, then written per workspace in a few statements: its
    enrolments are locked by the pass (an awaited event's handler locks one before it writes), so
    what is read at the start is what each of them is until the commit."""

    def __init__(self) -> None:
        self.started: dict[UUID, dict[tuple[UUID, str, int], dict[str, Any]]] = {}
        self.finished: dict[UUID, list[tuple[UUID, str, int, Mapping[str, Any] | None, datetime]]] = {}
        self.positions: dict[UUID, list[dict[str, Any]]] = {}
        self.leads: dict[UUID, dict[UUID, tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}  # by workspace, lead
        self.prefetched: dict[PersonRef, dict[str, Any]] = {}  # each used once, by its only enrolment
        self.latest: dict[PersonRef, dict[str, Any]] = {}  # a lead as the updates kept for the end leave it
        self.stored: dict[UUID, list[Engagement]] = {}  # the batch's leads' engagements, as scoring reads them
        self.later = self

    async def prefetch(self, uow: UnitOfWork, claimed: list[dict[str, Any]], now: datetime) -> None:
        """The people of the batch read in one query per workspace and kind; one with several
        enrolments in the batch is read when each needs them (another's step may change them)."""
        seen: dict[PersonRef, int] = {}
        for row in claimed:
            seen[person_of(row)] = seen.get(person_of(row), 0) + 1
        wanted: dict[UUID, list[PersonRef]] = {}
        for row in claimed:
            person = person_of(row)
            if seen[person] == 1:
                wanted.setdefault(row["workspace_id"], []).append(person)
        for workspace_id, people in wanted.items():
            ctx = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
            leads = await ctx.leads.by_ids([p.id for p in people if p.kind == "lead"])
            contacts = await ctx.contacts.by_ids([p.id for p in people if p.kind == "contact"])
            for person in people:
                found = (leads if person.kind == "lead" else contacts).get(person.id)
                if found is not None:
                    self.prefetched[person] = dict(found)
            if leads:
                self.stored.update(await scoring.engagements_of(ctx, list(leads)))

    def known(self, person: PersonRef) -> dict[str, Any] | None:
        if person in self.latest:
            return self.latest[person]
        return self.prefetched.pop(person, None)

    def engagements(self, lead_id: UUID) -> list[Engagement] | None:
        return self.stored.pop(lead_id, None)

    async def settle(self, ctx: Context, person: PersonRef) -> None:
        if person.kind != "lead":
            return
        pending = self.leads.get(ctx.workspace_id, {}).pop(person.id, None)
        if pending is not None and not await ctx.leads.update_many_as_read([pending]):
            raise LostUpdate("a lead changed while the batch advanced")
        self.latest.pop(person, None)  # read from the database again, where it now is

    async def write(self, ctx: Context, row: Any, values: dict[str, Any]) -> Any:
        pending = self.leads.setdefault(ctx.workspace_id, {})
        earlier = pending.pop(row["id"], None)
        # a second change of the lead in this batch: the first is written now
        if earlier is not None and not await ctx.leads.update_many_as_read([earlier]):
            raise LostUpdate("a lead changed while the batch advanced")
        pending[row["id"]] = (row, values)
        updated = {**row, **values, "version": int(row["version"]) + 1}
        self.latest[PersonRef("lead", row["id"])] = updated
        return updated

    async def start_step(self, ctx: Context, values: dict[str, Any]) -> bool:
        key = (values["enrolment_id"], values["step_id"], int(values["visit"]))
        self.started.setdefault(ctx.workspace_id, {})[key] = {**values, "result": None, "finished_at": None}
        return True

    async def finish_step(
        self, ctx: Context, enrolment: Mapping[str, Any], step_id: str, visit: int, result: Mapping[str, Any] | None
    ) -> None:
        begun = self.started.get(ctx.workspace_id, {}).get((enrolment["id"], step_id, visit))
        value = dict(result) if result is not None else None
        if begun is not None:  # began in this pass: written once, finished
            begun.update(result=value, finished_at=ctx.now)
        else:
            self.finished.setdefault(ctx.workspace_id, []).append((enrolment["id"], step_id, visit, value, ctx.now))

    async def move(self, ctx: Context, enrolment: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        self.positions.setdefault(ctx.workspace_id, []).append({**enrolment, **values})

    async def end(
        self, ctx: Context, enrolment: Mapping[str, Any], status: str, reason: str | None, moved: Mapping[str, Any]
    ) -> None:
        values = {**moved, "status": status, "exit_reason": reason, "due_at": None, "waiting_event": None,
                  "ended_at": ctx.now, **ctx.audit_change()}  # fmt: skip
        row = {**enrolment, **values}
        self.positions.setdefault(ctx.workspace_id, []).append(row)
        event = types.JOURNEY_COMPLETED if status == COMPLETED else types.JOURNEY_EXITED
        shown = EnrolmentRead.model_validate({**row, "version": int(enrolment["version"]) + 1})
        await events.record(ctx, event, shown, resource_id=row["id"])

    async def flush(self, uow: UnitOfWork, now: datetime) -> None:
        for workspace_id, changes in self.leads.items():
            leads = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES).leads
            if not await leads.update_many_as_read(list(changes.values())):
                raise LostUpdate("a lead changed while the batch advanced")
        for workspace_id in {*self.started, *self.finished, *self.positions}:
            repo = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES).enrolments
            await repo.add_steps(list(self.started.get(workspace_id, {}).values()))
            await repo.finish_steps(self.finished.get(workspace_id, []))
            await repo.write_positions(self.positions.get(workspace_id, []))


async def _failed(ctx: Context, enrolment: Mapping[str, Any]) -> None:
    """A pass failed (a bug, a lost race): tried again later, and after MAX_FAILURES in a row the
    enrolment exits (`error`) rather than failing forever."""
    failures = int(enrolment.get("failures") or 0) + 1
    if failures >= MAX_FAILURES:
        await enrolments.end(ctx, enrolment, EXITED, "error")
        return
    await ctx.enrolments.set_fields(enrolment["id"], {"due_at": ctx.now + RETRY_AFTER * failures,
                                                      "failures": failures})  # fmt: skip


async def _runs_of(uow: UnitOfWork, claimed: list[dict[str, Any]], now: datetime) -> dict[UUID, list[Row]]:
    """The step runs of the claimed enrolments, by enrolment: one read per workspace in the batch
    rather than three or more per enrolment."""
    by_workspace: dict[UUID, list[UUID]] = {}
    for row in claimed:
        by_workspace.setdefault(row["workspace_id"], []).append(row["id"])
    found: dict[UUID, list[Row]] = {}
    for workspace_id, ids in by_workspace.items():
        ctx = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
        for step_run in await ctx.enrolments.step_runs_of(ids):
            found.setdefault(step_run["enrolment_id"], []).append(step_run)
    return found


class _Runs:
    """The steps an enrolment ran (a row each, by step and visit), read at the start of its pass and
    kept as the pass writes them: the enrolment is locked by the pass (and an awaited event's
    handler locks it before it records the step's end), so no one else writes them meanwhile."""

    def __init__(self, rows: list[Row]) -> None:
        self._rows = {(r["step_id"], int(r["visit"])): r for r in rows}

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, step_id: str, visit: int) -> Row | None:
        return self._rows.get((step_id, visit))

    def visits(self, step_id: str) -> int:
        """How many times the enrolment entered the step."""
        return sum(1 for step, _ in self._rows if step == step_id)

    def started(self, values: Mapping[str, Any]) -> None:
        self._rows[(values["step_id"], int(values["visit"]))] = {**values, "result": None, "finished_at": None}

    def finished(self, step_id: str, visit: int, result: Mapping[str, Any] | None, at: datetime) -> None:
        row = self._rows.get((step_id, visit))
        if row is not None:
            row.update(result=dict(result) if result is not None else None, finished_at=at)


async def _finish(writes: _Writes, ctx: Context, enrolment: Mapping[str, Any], runs: _Runs, step_id: str,
                  visit: int, result: Mapping[str, Any] | None) -> None:  # fmt: skip
    await writes.finish_step(ctx, enrolment, step_id, visit, result)
    runs.finished(step_id, visit, result, ctx.now)


async def next_due(database: Database) -> datetime | None:
    async with UnitOfWork(database, write=False) as uow:
        return await uow.enrolment_queue().next_due()


async def _document(ctx: Context, cache: Documents, row: Mapping[str, Any]) -> documents.JourneyDocument:
    key = (row["workspace_id"], row["journey_id"], int(row["journey_version"]))
    if key not in cache:
        cache[key] = await enrolments.document_for(ctx, row["journey_id"], int(row["journey_version"]))
    return cache[key]


class _Person:
    """The enrolment's person as read (their row, and what the journey's conditions read of them),
    loaded once per pass and again after a change."""

    def __init__(
        self, ctx: Context, person: PersonRef, since: datetime, reads: frozenset[str], writes: _Writes
    ) -> None:
        self.ctx, self.person, self.since, self.reads, self.writes = ctx, person, since, reads, writes
        self._row: dict[str, Any] | None = None
        self._subject: dict[str, Any] | None = None
        self.loaded = False

    async def _load(self) -> None:
        if not self.loaded:
            self._row, self._subject = await enrolments.read_person(
                self.ctx, self.person, self.since, self.reads, known=self.writes.known(self.person)
            )
            self.loaded = True

    async def subject(self) -> dict[str, Any] | None:
        await self._load()
        return self._subject

    async def row(self) -> dict[str, Any] | None:
        """Their row as the subject was made from it (a change worked out from the subject is
        written against its version)."""
        await self._load()
        return self._row

    def changed(self) -> None:
        self.loaded = False


def _reads(document: documents.JourneyDocument) -> frozenset[str]:
    """The fields of the person the engine's conditions read: exit rules without an event, branches."""
    fields: set[str] = set()
    for rule in document.exit_on:
        if rule.event is None and rule.conditions is not None:
            fields |= rules.fields_of(rule.conditions)
    for found in document.steps:
        if isinstance(found, documents.BranchStep):
            fields |= rules.fields_of(found.conditions)
    return frozenset(fields)


async def run(
    ctx: Context,
    enrolment: Mapping[str, Any],
    document: documents.JourneyDocument,
    runs: _Runs | None = None,
    writes: _Writes | None = None,
) -> None:
    """Advance one enrolment from its current step until a wait, or its end. `runs`: its step runs
    (read here when not given). Its row is written once, where the pass leaves it: the steps in
    between are in the same transaction, so no one sees (or keeps) a position in between."""
    if runs is None:
        runs = _Runs(await ctx.enrolments.step_runs_of([enrolment["id"]]))
    writes = writes if writes is not None else _Writes()
    person = _Person(ctx, person_of(enrolment), enrolment["enrolled_at"], _reads(document), writes)
    step_id: str | None = enrolment["current_step"]
    visit = int(enrolment["visit"])
    moved: dict[str, Any] = {}  # the enrolment's columns this pass changed, not written yet
    for _ in range(STEPS_PER_PASS):
        if step_id is None:
            await writes.end(ctx, enrolment, COMPLETED, None, moved)
            return
        subject = await person.subject()
        if subject is None:
            await writes.end(ctx, enrolment, EXITED, "person_gone", moved)
            return
        if any(rule.event is None and holds(rule.conditions, subject, ctx.now) for rule in document.exit_on):
            await writes.end(ctx, enrolment, EXITED, "conditions", moved)
            return
        step = documents.step(document, step_id)
        entered = False
        if runs.get(step_id, visit) is None:
            values = {"enrolment_id": enrolment["id"], "step_id": step_id, "visit": visit, "number": len(runs) + 1,
                      "step_type": step.type.value, "started_at": ctx.now, "id": new_id(),
                      "journey_id": enrolment["journey_id"], "lead_id": enrolment["lead_id"],
                      "contact_id": enrolment["contact_id"]}  # fmt: skip
            entered = await writes.start_step(ctx, values)
            if entered:
                runs.started(values)
            else:  # not as read: read them again
                runs = _Runs(await ctx.enrolments.step_runs_of([enrolment["id"]]))
        if isinstance(step, documents.WaitStep):
            if entered:  # the wait begins: the enrolment sleeps until it ends (or its event comes)
                await _begin_wait(writes, ctx, enrolment, step, visit, moved)
                return
            following = await _end_wait(writes, ctx, enrolment, document, step, visit, runs)
        elif isinstance(step, documents.ExitStep):
            await _finish(writes, ctx, enrolment, runs, step_id, visit, None)
            await writes.end(ctx, enrolment, EXITED, "exit_step", moved)
            return
        elif entered:
            following, result = await _run_step(ctx, enrolment, document, step, person, visit, writes)
            await _finish(writes, ctx, enrolment, runs, step_id, visit, result)
            if isinstance(step, documents.SplitStep) and enrolment.get("variant") is None and result:
                moved["variant"] = result["variant"]  # the first split's variant is the enrolment's
                enrolment = {**enrolment, "variant": result["variant"]}
        else:  # ran in an earlier pass (a step row commits with the enrolment's move): go on as it went
            following = _went(document, step, visit, runs)
        if following is None:
            await writes.end(ctx, enrolment, COMPLETED, None, moved)
            return
        visit = runs.visits(following) + 1
        if visit > MAX_VISITS:
            await writes.end(ctx, enrolment, EXITED, "loop_limit", moved)
            return
        step_id = following
        moved.update(current_step=step_id, visit=visit, due_at=ctx.now, waiting_event=None, failures=0)
        enrolment = {**enrolment, **moved}
    # a long run of steps without a wait: on in the next pass (due now), letting others through
    await writes.move(ctx, enrolment, {**moved, "due_at": ctx.now})


async def _begin_wait(
    writes: _Writes,
    ctx: Context,
    enrolment: Mapping[str, Any],
    step: documents.WaitStep,
    visit: int,
    moved: Mapping[str, Any],
) -> None:
    zone = ZoneInfo("UTC")
    if step.until is not None:  # the person's clock: as the database has them
        await writes.settle(ctx, person_of(enrolment))
        zone = await _zone(ctx, person_of(enrolment))
    waiting_event = None
    if step.mode == "event":
        waiting_event = step.event
        due = waits.event_wait_deadline(step.timeout_seconds, ctx.now) if step.timeout_seconds else None
    else:
        due = waits.due_at(_wait_spec(step), now=ctx.now, zone=zone, calendar=await _calendar(ctx, step))
    await writes.move(
        ctx,
        enrolment,
        {**moved, "current_step": step.id, "visit": visit, "due_at": due, "waiting_event": waiting_event,
         "failures": 0},
    )  # fmt: skip


async def _end_wait(
    writes: _Writes, ctx: Context, enrolment: Mapping[str, Any], document: documents.JourneyDocument,
    step: documents.WaitStep, visit: int, runs: _Runs,
) -> str | None:  # fmt: skip
    """The wait is over: its event came (recorded on the step run), else its time (a timeout goes
    to `on_timeout` when the step names one)."""
    run = runs.get(step.id, visit)
    if run is not None and run["finished_at"] is not None:  # the event it waited for came
        return documents.successor(document, step.id)
    result: dict[str, Any] = {"until": ctx.now.isoformat()}
    if step.mode == "event":
        result = {"timed_out": True}
        await _finish(writes, ctx, enrolment, runs, step.id, visit, result)
        return step.on_timeout or documents.successor(document, step.id)
    await _finish(writes, ctx, enrolment, runs, step.id, visit, result)
    return documents.successor(document, step.id)


def _went(document: documents.JourneyDocument, step: documents.Step, visit: int, runs: _Runs) -> str | None:
    """Where a step that already ran went on to (a branch's or a split's recorded choice)."""
    if isinstance(step, documents.BranchStep | documents.SplitStep):
        run = runs.get(step.id, visit)
        result = (run or {}).get("result") or {}
        if isinstance(step, documents.BranchStep):
            return step.then if result.get("branch") == "then" else step.otherwise
        chosen = next((v for v in step.variants if v.name == result.get("variant")), step.variants[0])
        return chosen.next
    return documents.successor(document, step.id)


def _wait_spec(step: documents.WaitStep) -> dict[str, Any]:
    if step.until is not None:
        spec: dict[str, Any] = {"until": {"time": step.until.time.strftime("%H:%M"),
                                          "weekdays": sorted(step.until.weekdays)}}  # fmt: skip
    else:
        spec = {"seconds": step.seconds}
    if step.business_hours:
        spec["business_hours"] = True
    return spec


async def _zone(ctx: Context, person: PersonRef) -> ZoneInfo:
    try:
        return await messaging.timezone_of(ctx, person)
    except DomainError:
        return ZoneInfo("UTC")


async def _calendar(ctx: Context, step: documents.WaitStep | documents.TaskStep) -> BusinessHours | None:
    """The workspace's business hours (its SLA settings' `business_hours`) for a step that keeps
    to them; None: around the clock."""
    if not step.business_hours:
        return None
    return await enrolments.business_calendar(ctx)


async def _run_step(
    ctx: Context,
    enrolment: Mapping[str, Any],
    document: documents.JourneyDocument,
    step: documents.Step,
    person: _Person,
    visit: int,
    writes: _Writes,
) -> tuple[str | None, dict[str, Any] | None]:
    """Do what the step does: (the step it goes on to, what it did)."""
    following = documents.successor(document, step.id) if isinstance(step, documents.LINEAR) else None
    who = person_of(enrolment)
    try:
        if isinstance(step, documents.SendStep | documents.TaskStep | documents.DisqualifyStep |
                      documents.ReactivateStep):  # fmt: skip
            await writes.settle(ctx, who)  # they read (and may write) the person from the database
        if isinstance(step, documents.SendStep):
            person.changed()  # what it writes may touch the person's row: read afresh for what follows
            return following, await _send(ctx, who, step)
        if isinstance(step, documents.TaskStep):
            subject = await person.subject() or {}
            person.changed()
            return following, await _task(ctx, enrolment, who, step, subject)
        if isinstance(step, documents.BranchStep):
            taken = holds(step.conditions, await person.subject() or {}, ctx.now)
            return (step.then if taken else step.otherwise), {"branch": "then" if taken else "else"}
        if isinstance(step, documents.SplitStep):  # the first split's variant becomes the enrolment's (`run`)
            variant = _draw(enrolment["id"], step)
            return variant.next, {"variant": variant.name}
        if isinstance(step, documents.UpdateStep):
            result = await _update(ctx, who, step, await person.subject() or {}, await person.row(), writes)
            person.changed()  # read again: from what the pass keeps for the end when it is a lead's change
            return following, result
        if isinstance(step, documents.DisqualifyStep):
            row = await qualification.disqualify(ctx, who.id, step.reason, step.note, if_match=None)
            person.changed()
            return following, {"status": row["status"]}
        if isinstance(step, documents.ReactivateStep):
            row = await qualification.reactivate(ctx, who.id, if_match=None)
            person.changed()
            return following, {"status": row["status"]}
        if isinstance(step, documents.NotifyStep):
            notified = JourneyNotified(
                journey_id=enrolment["journey_id"], enrolment_id=enrolment["id"], step_id=step.id,
                lead_id=enrolment["lead_id"], contact_id=enrolment["contact_id"], message=step.message,
                data=dict(step.data) if step.data else None,
            )  # fmt: skip
            await events.record(ctx, types.JOURNEY_NOTIFIED, notified, resource_id=enrolment["id"])
            return following, None
    except LostUpdate:
        raise  # a concurrent write: the whole pass runs again, never a step half done
    except DomainError as exc:  # the step could not do its work (a template archived since...): on
        return following, {"error": str(exc)[:500]}
    raise AssertionError(f"unexpected step {step!r}")


async def _send(ctx: Context, who: PersonRef, step: documents.SendStep) -> dict[str, Any]:
    fields = {"channel": step.channel, "channel_id": step.channel_id, "template_id": step.template_id}
    body = MessageCreate.model_validate({who.column: who.id, "purpose": step.purpose, **fields})
    row = await messages.send(ctx, body)
    return {"message_id": str(row["id"]), "status": row["status"], "block_reason": row["block_reason"]}


async def _task(
    ctx: Context, enrolment: Mapping[str, Any], who: PersonRef, step: documents.TaskStep, subject: Mapping[str, Any]
) -> dict[str, Any]:
    """A task about the person; its title and notes are templates with the person's variables and
    `event`: the data of the event that enrolled them (a churn alert's reasons and CLV at risk)."""
    variables = await templates.variables_of(ctx, who, unsubscribe_url="")
    variables["event"] = await _trigger_data(ctx, enrolment)
    try:
        title = " ".join(render_text(step.title, variables).split())[:500] or step.title[:500]
        notes = render_text(step.notes, variables) if step.notes else None
    except RenderError:
        title, notes = step.title[:500], step.notes
    assignee = None
    if step.team_id is not None:
        assignee = await routing.next_in_team(ctx, step.team_id)
    else:
        assignee = subject.get("owner_id")
    due = ctx.now + timedelta(seconds=step.due_in_seconds)
    calendar = await _calendar(ctx, step)
    if calendar is not None:  # counted in working time: 0 is the first working minute
        due = add_working_time(calendar, ctx.now, step.due_in_seconds)
    row = await tasks.create(ctx, {"title": title, "notes": notes, "due_at": due, "assignee_id": assignee,
                                   "priority": "normal", who.column: who.id})  # fmt: skip
    return {"task_id": str(row["id"]), "assignee_id": str(assignee) if assignee else None}


async def _trigger_data(ctx: Context, enrolment: Mapping[str, Any]) -> dict[str, Any]:
    event_id = (enrolment.get("trigger") or {}).get("event_id")
    if not event_id:
        return {}
    try:
        found = await ctx.events.get(UUID(str(event_id)))
    except ValueError:
        return {}
    data = found.get("data") if found is not None else None
    return dict(data) if isinstance(data, Mapping) else {}


def _draw(enrolment_id: UUID, step: documents.SplitStep) -> documents.Variant:
    """A variant by weight, drawn once per enrolment and step (the same draw if the step ran again)."""
    chooser = random.Random(enrolment_id.int ^ zlib.crc32(step.id.encode()))
    return chooser.choices(step.variants, weights=[v.weight for v in step.variants])[0]


async def _update(
    ctx: Context,
    who: PersonRef,
    step: documents.UpdateStep,
    subject: Mapping[str, Any],
    row: Mapping[str, Any] | None,
    writes: _Writes | None = None,
) -> dict[str, Any]:
    """The step's changes, worked out from the person as read (`subject`, made from `row`) and
    written against that read: a concurrent change in between is a lost update (the pass runs again
    on a fresh read), never overwritten with what was worked out from the older one."""
    changes: dict[str, Any] = dict(step.fields)
    tags = [t for t in subject.get("tags") or [] if t not in step.tags_remove]
    tags += [t for t in step.tags_add if t not in tags]
    if tags != list(subject.get("tags") or []):
        changes["tags"] = tags
    if step.custom_fields:
        changes["custom_fields"] = {**(subject.get("custom_fields") or {}), **step.custom_fields}
    if step.stage is not documents.KEEP:
        changes["stage"] = step.stage
    if step.owner_id is not documents.KEEP:
        changes["owner_id"] = step.owner_id
    if not changes:
        return {"changed": []}
    model = LeadUpdate if who.kind == "lead" else ContactUpdate
    try:  # checked as the API checks the same change (a country's code, a field's length)
        changes = model.model_validate(changes).model_dump(exclude_unset=True)
    except ValidationError as exc:
        return {"error": "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())[:500]}
    if who.kind == "lead":
        if row is not None:
            later = writes.later if writes is not None else None
            if later is not None and "status" in changes:  # its follow-ups (a first response) write the lead now
                assert writes is not None
                await writes.settle(ctx, who)
                row, later = await ctx.leads.get(who.id), None
                if row is None:
                    return {"error": "the lead is gone"}
            await lead_service.update_as_read(ctx, cast(Any, dict(row)), changes, later=later)
        else:
            await lead_service.update(ctx, who.id, changes, if_match=None)
    else:
        from app.services.customers import records
        from app.services.customers.relationships import CONTACT

        version = int(row["version"]) if row is not None else None
        await records.update(ctx, CONTACT, who.id, changes, if_match=None, read_version=version)
    return {"changed": sorted(changes)}
