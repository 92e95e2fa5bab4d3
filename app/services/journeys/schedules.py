"""Schedule triggers (run by the worker): at each occurrence of a journey's cron (in the workspace's
time zone), every person of its audience for whom its conditions hold then is enrolled (its
re-enrolment rule decides who may enter again). "Every day at 10:00, leads with no activity for 90
days" is `{"type": "schedule", "cron": "0 10 * * *", "conditions": {"all": [{"field":
"last_activity_at", "op": "older_than_days", "value": 90}]}}`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain import conditions as rules
from app.domain.journeys import document as documents
from app.domain.outreach.vocabulary import PersonRef
from app.domain.schedules import next_occurrence
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.journeys import enrolments

PAGE = 500
BATCH = 10


async def next_run(ctx: Context, trigger: documents.ScheduleTrigger, after: datetime) -> datetime:
    workspace = await ctx.workspaces.get() or {}
    return next_occurrence(trigger.cron, workspace.get("timezone") or "UTC", after)


async def run_due(database: Database, now: datetime) -> int:
    """Run the schedule triggers whose occurrence has come; how many journeys ran."""
    ran = 0
    for _ in range(BATCH):  # a journey per transaction: one large audience never holds up the others
        async with UnitOfWork(database) as uow:
            due = await uow.enrolment_queue().due_schedules(now, 1)
            if not due:
                return ran
            journey = due[0]
            ctx = Context(uow, journey["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
            document = await enrolments.document_for(ctx, journey["id"], journey["active_version"])
            trigger = document.trigger
            assert isinstance(trigger, documents.ScheduleTrigger)
            await _enrol_matching(ctx, journey, document, trigger)
            await ctx.journeys.set_fields(journey["id"], {"next_run_at": await next_run(ctx, trigger, now)})
            await uow.commit()
            ran += 1
    return ran


async def _enrol_matching(
    ctx: Context, journey: Mapping[str, Any], document: documents.JourneyDocument, trigger: documents.ScheduleTrigger
) -> int:
    audience = str(journey["audience"])
    kind = "lead" if audience == "leads" else "contact"
    wanted = rules.fields_of(trigger.conditions)
    enrolled = 0
    after = None
    while True:
        page = await ctx.journeys.audience_page(audience, after, PAGE)
        if not page:
            return enrolled
        for row in page:
            person = PersonRef(kind, row["id"])  # type: ignore[arg-type]
            read_more = any(f.startswith(("engagements.", "consent.")) for f in wanted)
            if read_more or wanted & {"rfm_segment", "churn_level"}:
                subject = await enrolments.subject_of(ctx, person, ctx.now)
            else:
                subject = enrolments.subject_from(row, kind, ctx.now)
            if subject is not None and rules.evaluate(trigger.conditions, subject, ctx.now):
                trigger_info = {"type": "schedule", "at": ctx.now.isoformat()}
                if await enrolments.enrol(ctx, journey, document, person, trigger_info) is not None:
                    enrolled += 1
        after = page[-1]["id"]
