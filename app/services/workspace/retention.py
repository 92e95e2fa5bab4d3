"""Retention that enforces itself: every night (recurring task `enforce-retention`, 03:40 in the
workspace's time zone) a `retention.enforce` job removes, class by class, what the workspace's
`retention` settings no longer keep, and its result reports what it removed:

- `form_submissions` (`form_submission_days`): raw fields, IP and user agent of old submissions;
- `message_bodies` (`message_body_days`): rendered subject and bodies of messages sent long ago;
- `archived_leads` (`archived_lead_days`): archived leads that never converted, anonymised;
- `webhook_response_excerpts` (`webhook_response_excerpt_days`): receivers' replies to deliveries;
- `privacy_exports` (`privacy_export_days`): exported files of privacy requests.

Each class is handled by its own context's service, a page (`PAGE` rows) per transaction read
along an index by time, never a table in one statement. A class's pass starts where the last
succeeded pass left it (`done_before` in that job's result, app/domain/workspace/retention.py), so a
night reads the rows that aged since, not the whole history. The job's progress keeps each class's
count and position: a pass resumed after a restart goes on from its last page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.workspace.retention import (
    CLASSES,
    SETTINGS,
    Swept,
    Tally,
    Window,
    done_before,
    parse_time,
    position,
    previous_marks,
    report,
    timestamp,
    window,
)
from app.ids import utcnow
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import jobs, webhooks
from app.services.leads import retention as leads_retention
from app.services.outreach import messages
from app.services.workspace import settings

KIND = "retention.enforce"
DEFAULT_EXPORT_DAYS = 7  # app/services/privacy/requests.py: DEFAULT_EXPORT_DAYS
PAGE = 500  # rows a transaction of a pass handles
# How far back among the workspace's jobs the last succeeded pass is looked for (a few jobs a night);
# past that a pass starts from each class's first row again, which is slower but never wrong.
LOOK_BACK_JOBS = 200

Sweep = Callable[[Context, Window, list[Any] | None, int], Awaitable[Swept]]
Progress = Callable[..., Awaitable[None]]


async def purge_privacy_exports(ctx: Context, window: Window, after: list[Any] | None, limit: int) -> Swept:
    """The privacy exports whose documents expired by the pass's moment (each export's own
    `expires_at`, set from `privacy_export_days` when it was made): documents deleted, the requests
    left `expired` (app/services/privacy/requests.py)."""
    from app.services.privacy import requests as privacy_requests

    return await privacy_requests.purge_expired(ctx, window.as_of, position(after), limit)


SWEEPS: dict[str, Sweep] = {
    "form_submissions": leads_retention.clear_submissions,
    "message_bodies": messages.forget_bodies,
    "archived_leads": leads_retention.anonymise_leads,
    "webhook_response_excerpts": webhooks.forget_response_excerpts,
    "privacy_exports": purge_privacy_exports,
}
assert tuple(SWEEPS) == CLASSES


async def enqueue(ctx: Context) -> dict[str, Any]:
    """Queue tonight's pass (the recurring task): the classes' cutoffs count back from `ctx.now`."""
    return await jobs.enqueue(ctx, KIND, {"as_of": timestamp(ctx.now)})


async def run(
    database: Database,
    workspace_id: UUID,
    params: Mapping[str, Any],
    saved: Mapping[str, Any] | None,
    progress: Progress,
) -> dict[str, Any]:
    """`retention.enforce`: every class of the workspace, one after the other; the result has, per
    class, its `days` (null: kept), how many rows it `removed` and `done_before` (every row of the
    class older than that is handled). `saved`: the progress of an earlier attempt of this job."""
    from app.schemas.workspace.settings import RetentionSettings

    as_of = parse_time(params.get("as_of")) or utcnow()
    async with UnitOfWork(database, write=False) as uow:
        ctx = Context(uow, workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        if await ctx.workspaces.get() is None:
            raise LookupError("the workspace is gone")
        values = (await settings.get(ctx, "retention", RetentionSettings))["values"]
        previous = previous_marks(await ctx.jobs.last_result(KIND, among=LOOK_BACK_JOBS))
    tallies = {name: Tally.from_json((saved or {}).get(name)) for name in CLASSES}
    result: dict[str, Any] = {"as_of": timestamp(as_of)}
    for name in CLASSES:
        days = values[SETTINGS[name]]
        if name == "privacy_exports" and days is None:
            # an export is a copy made for one person to take away: it expires even when the
            # workspace keeps everything else (no export existed before this class, so none is lost)
            days = DEFAULT_EXPORT_DAYS
        span, tally = window(as_of, days, previous[name]), tallies[name]
        while span is not None and not tally.finished:
            async with UnitOfWork(database, write=True) as uow:
                ctx = Context(uow, workspace_id, SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
                page = await SWEEPS[name](ctx, span, tally.after, PAGE)
                await uow.commit()
            tally.add(page)
            await progress(**{key: value.to_json() for key, value in tallies.items()})
        result[name] = report(days, tally.removed, done_before(as_of, days, previous[name], tally.held))
    return result
