"""Scheduled digests, the worker's side: the reports a schedule may send (`REPORTS`, a registry
each report joins by one line), and the pass that delivers the occurrences that have come.

A pass takes one due schedule at a time, in three steps:
1. a short write transaction takes it: `next_run_at` moves `LEASE` ahead (`FOR UPDATE SKIP LOCKED`
   on PostgreSQL: another worker takes the next one), so no other pass computes it meanwhile, and
   one that dies on the way leaves it to be taken again once the lease is over;
2. a read-only unit of work computes the report for the occurrence, renders its chart and writes
   the email: the slow part, holding no lock (SQLite's write lock is the whole database's);
3. a short write transaction delivers it: `next_run_at` moves to the first occurrence after now
   (compare-and-set on the schedule's `version`: a schedule changed since step 1 delivers nothing
   and is looked at again at once, with what it says now), the `report_deliveries` row of
   (schedule, occurrence) is inserted, the email queued to the members still active (transactional
   messages, sent by the `messages` loop like any other) and `report.delivered` recorded when
   asked: all of it commits, or none does.

The delivery row's primary key makes an occurrence go once, ever: a pass that finds it (a second
worker after the lease, a pass run again, `next_run_at` set back by hand) computes nothing and only
moves `next_run_at`, and its insert is `ON CONFLICT DO NOTHING`, so a racing one sends nothing
either. What goes out is exactly-once per occurrence up to the message queue; from there each email
has the messages' own guarantee (never sent twice: a lost answer ends `unknown`, not resent).

A digest that cannot be prepared or delivered is recorded on its schedule (`failed`: `failures`,
`last_error`, `last_failed_at`) and tried again later and later; a wrong input, or MAX_FAILURES
in a row, pauses the schedule (`report.failed`) until a change of it clears the error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from app.cpu import run_cpu
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.reports import periods as cal
from app.domain.reports import schedules as rules
from app.domain.reports import scope as scope_rules
from app.domain.reports.digests import compose
from app.domain.reports.scope import ReportScope
from app.ids import new_id
from app.schemas.common import invalid_input
from app.schemas.reports.common import ReportQuery
from app.schemas.reports.digests import ReportDelivered
from app.schemas.reports.funnel import FunnelParams
from app.schemas.reports.overview import OverviewParams
from app.schemas.reports.pipeline import PipelineParams
from app.schemas.reports.products import ProductsParams
from app.schemas.reports.sales_forecast import SalesForecastParams
from app.schemas.reports.team import TeamParams
from app.schemas.reports.win_loss import WinLossParams
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events
from app.services.outreach import messages
from app.services.reports import charts, funnel, overview, pipeline, products, sales_forecast, team, win_loss
from app.services.reports.scope import calendar_of
from app.services.workspace import members, workspaces

log = logging.getLogger("app.worker.digests")

BATCH = 20  # schedules per pass, each in a transaction of its own
RETRY_AFTER = rules.RETRY_AFTER  # a digest that could not be prepared is tried again then (and later)
MAX_ERROR = 1000  # characters of `last_error`
# Failures retrying cannot mend: the schedule's input is wrong (a team since deleted, a member
# unknown, parameters this version refuses). It pauses at once.
PERMANENT = (InvalidInput, NotFound, Forbidden, ValidationError)
LEASE = timedelta(minutes=10)  # how long a pass holds the schedule it took (a pass that died: then again)
DEFAULT_INTERVAL: cal.Interval = "day"  # a digest's periods when its params name none


@dataclass(frozen=True)
class Schedulable:
    """What a report gives to be scheduled: its parameter rules (the query string's, as a model:
    `params` is validated by it, a 422 naming `params.<name>`), its title, the figures for a
    range (JSON, as its route answers), the lines an email shows, and its chart (PNG, or None).
    `span`: the days its figures cover when they are not the digest's window, the days before the
    occurrence (a report of the periods ahead, or of now), from the figures and that window.
    `events`: whether `report.delivered` may carry its figures (read with `reports:read`); not a
    report whose parts need scopes of their own."""

    params: type[ReportQuery]
    title: Mapping[str, str]  # locale -> title
    figures: Callable[[Context, Any, ReportScope], Awaitable[dict[str, Any]]]
    lines: Callable[[Mapping[str, Any], str], list[tuple[str, str]]]
    chart: Callable[[Mapping[str, Any], str], bytes] | None = None
    span: Callable[[Mapping[str, Any], date, date], tuple[date, date]] | None = None
    events: bool = True


# The reports a schedule may name, by the name of their route under /v1/reports. A report joins
# with one line once its service exists: its params model, title, figures, lines and chart.
REPORTS: dict[str, Schedulable] = {
    "funnel": Schedulable(FunnelParams, funnel.TITLE, funnel.digest, funnel.digest_lines, charts.funnel),
    "team": Schedulable(TeamParams, team.TITLE, team.digest, team.digest_lines, charts.team),
    "win-loss": Schedulable(WinLossParams, win_loss.TITLE, win_loss.digest, win_loss.digest_lines, charts.win_loss),
    "pipeline": Schedulable(
        PipelineParams,
        pipeline.TITLE,
        pipeline.digest,
        pipeline.digest_lines,
        charts.pipeline,
        span=pipeline.digest_span,
    ),
    "products": Schedulable(ProductsParams, products.TITLE, products.digest, products.digest_lines),
    "overview": Schedulable(
        OverviewParams, overview.TITLE, overview.digest, overview.digest_lines, span=overview.digest_span, events=False
    ),
    "sales-forecast": Schedulable(
        SalesForecastParams,
        sales_forecast.TITLE,
        sales_forecast.digest,
        sales_forecast.digest_lines,
        charts.sales_forecast,
        span=sales_forecast.digest_span,
    ),
}


def cadence_of(row: Mapping[str, Any]) -> rules.Cadence:
    hours, minutes = (int(part) for part in str(row["local_time"]).split(":"))
    weekday = row["weekday"] if row["cadence"] == "weekly" else None
    return rules.Cadence(type=row["cadence"], at=time(hours, minutes), weekday=weekday)


async def run_due(database: Database, now: datetime) -> int:
    """Deliver the schedules whose occurrence has come; how many schedules were looked at."""
    done = 0
    for _ in range(BATCH):
        # Looked up read-only first: an idle worker takes no write lock (SQLite's is the whole database).
        next_at = await next_due(database)
        if next_at is None or next_at > now:
            return done
        schedule = await _take(database, now)
        if schedule is None:
            return done
        try:
            prepared = await _prepare(database, schedule, now)
            await _commit(database, schedule, prepared, now)
        except Exception as exc:
            if isinstance(exc, PERMANENT):
                log.warning("the digest of schedule %s cannot be prepared: %s", schedule["id"], describe(exc))
            else:
                log.exception("preparing the digest of schedule %s failed", schedule["id"])
            await _failed(database, schedule, exc, now)
        done += 1
    return done


async def next_due(database: Database) -> datetime | None:
    async with UnitOfWork(database, write=False) as uow:
        return await uow.schedule_queue().next_due()


async def _take(database: Database, now: datetime) -> dict[str, Any] | None:
    """The earliest due schedule, leased to this pass (its `next_run_at` LEASE ahead); None when
    none is due (or another worker holds them)."""
    async with UnitOfWork(database) as uow:
        due = await uow.schedule_queue().due(now, 1)
        if not due:
            return None
        schedule = due[0]
        await uow.schedule_queue().postpone(schedule["workspace_id"], schedule["id"], now + LEASE)
        await uow.commit()
    return schedule


async def _failed(database: Database, schedule: Mapping[str, Any], exc: BaseException, now: datetime) -> None:
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, schedule["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
        await failed(ctx, schedule, exc)
        await uow.commit()


async def failed(ctx: Context, schedule: Mapping[str, Any], exc: BaseException) -> dict[str, Any] | None:
    """Record that the schedule's digest could not be prepared (a new version: `failures`,
    `last_error`, `last_failed_at`) and when it is tried again; paused, with `report.failed`, after
    a wrong input or MAX_FAILURES in a row. A schedule changed since it was taken counts nothing
    (the change cleared its errors): its lease is lifted. The schedule as updated, or None."""
    failures = int(schedule["failures"]) + 1
    wait = rules.retry_after(failures, permanent=isinstance(exc, PERMANENT))
    values: dict[str, Any] = {"failures": failures, "last_error": describe(exc), "last_failed_at": ctx.now,
                              **ctx.audit_change()}  # fmt: skip
    values.update({"paused": True, "next_run_at": None} if wait is None else {"next_run_at": ctx.now + wait})
    updated = await ctx.report_schedules.update(schedule["id"], schedule["version"], values)
    if updated is None:
        await ctx.report_schedules.release(schedule["id"], ctx.now + LEASE, ctx.now)
        return None
    if wait is None:
        from app.schemas.reports.schedules import ReportScheduleRead
        from app.services.reports.schedules import shown

        read = ReportScheduleRead.model_validate(shown(updated))
        await events.record(ctx, types.REPORT_FAILED, read, resource_id=schedule["id"])
    return updated


def describe(exc: BaseException) -> str:
    """What went wrong, for the schedule's `last_error`: a problem's title and detail (the report's
    query parameters named as the schedule holds them, `params.<name>`); nothing of an unexpected
    error's insides (it is logged)."""
    if isinstance(exc, ValidationError):
        exc = invalid_input(exc, location="query")
    if not isinstance(exc, DomainError):
        return "Internal error: the digest could not be prepared; it is tried again later"
    detail = exc.detail
    for error in exc.errors:
        if error.location == "query" and not error.field.startswith("params."):
            detail = detail.replace(f"{error.field}:", f"params.{error.field}:", 1)
    return f"{exc.title}: {detail}"[:MAX_ERROR]


@dataclass(frozen=True)
class Prepared:
    """One occurrence of a schedule, ready to go: computed read-only, delivered in a short write.
    `figures` is None when the occurrence had gone already (nothing to send)."""

    occurrence: datetime
    name: str  # the occurrence's name: its local date and time
    following: datetime  # the first occurrence after now: the schedule's next_run_at
    first: date | None = None  # the local days the figures cover
    last: date | None = None
    figures: dict[str, Any] | None = None
    email: messages.MemberEmail | None = None


async def _prepare(database: Database, schedule: Mapping[str, Any], now: datetime) -> Prepared:
    """The occurrence's figures, chart and email, in a read-only unit of work (no lock held)."""
    async with UnitOfWork(database, write=False) as uow:
        ctx = Context(uow, schedule["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
        return await prepare(ctx, schedule)


async def prepare(ctx: Context, schedule: Mapping[str, Any]) -> Prepared:
    calendar = await calendar_of(ctx)
    cadence = cadence_of(schedule)
    occurrence = rules.latest_at_or_before(cadence, calendar.timezone, ctx.now)
    name = rules.name(occurrence, cadence, calendar.timezone)
    following = rules.next_after(cadence, calendar.timezone, ctx.now)
    # One digest a local day: an occurrence went already when one of that day did (a time of day
    # changed after the day's digest went does not send its window again).
    if await ctx.report_digests.exists_on(schedule["id"], rules.local_day(occurrence, calendar.timezone)):
        return Prepared(occurrence, name, following)  # it went already: nothing to compute
    entry = REPORTS[schedule["report"]]
    params = entry.params.model_validate(schedule["params"])
    first, last = rules.window(cadence, rules.local_day(occurrence, calendar.timezone))
    covered = scope_rules.resolve(
        first, last, params.interval or DEFAULT_INTERVAL, calendar, params.filters(), today=last
    )
    figures = await entry.figures(ctx, params, covered)
    if entry.span is not None:
        first, last = entry.span(figures, first, last)
    email = await _email(ctx, schedule, entry, figures, calendar, first, last) if schedule["member_ids"] else None
    return Prepared(occurrence, name, following, first, last, figures, email)


async def _commit(database: Database, schedule: Mapping[str, Any], prepared: Prepared, now: datetime) -> None:
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, schedule["workspace_id"], SYSTEM, now, scopes=SERVICE_SCOPES)
        await deliver(ctx, schedule, prepared)
        await uow.commit()


async def deliver(ctx: Context, schedule: Mapping[str, Any], prepared: Prepared) -> dict[str, Any] | None:
    """Move the schedule to its next occurrence and deliver the prepared one unless it went
    already; the delivery row, or None when nothing was sent. A schedule changed since it was
    taken (a new version: other parameters, members or cadence; paused or archived) sends nothing:
    its lease is lifted, so the next pass looks at it again as it is now."""
    if schedule["failures"] or schedule["last_error"] is not None:  # delivered at last: the errors are over
        cleared = {"failures": 0, "last_error": None, "next_run_at": prepared.following, **ctx.audit_change()}
        moved = await ctx.report_schedules.update(schedule["id"], schedule["version"], cleared) is not None
    else:
        moved = await ctx.report_schedules.set_next_run(schedule["id"], prepared.following, version=schedule["version"])
    if not moved:
        await ctx.report_schedules.release(schedule["id"], ctx.now + LEASE, ctx.now)
        return None
    if prepared.figures is None:
        return None
    delivery_id = new_id()
    row = await ctx.report_digests.claim(
        {"schedule_id": schedule["id"], "occurrence": prepared.name, "id": delivery_id, "message_ids": [],
         "figures": prepared.figures, "created_at": ctx.now}
    )  # fmt: skip
    if row is None:
        return None  # another pass recorded this occurrence first: it sent it
    message_ids: list[UUID] = []
    if prepared.email is not None:
        message_ids = await _send(ctx, schedule, prepared.email)
        if message_ids:
            await ctx.report_digests.set_messages(schedule["id"], prepared.name, message_ids)
    if schedule["emit_event"]:
        delivered = ReportDelivered.model_validate(
            {"id": delivery_id, "schedule_id": schedule["id"], "name": schedule["name"], "report": schedule["report"],
             "occurrence": prepared.name, "occurred_at": prepared.occurrence, "from": prepared.first,
             "to": prepared.last, "params": schedule["params"], "figures": prepared.figures,
             "message_ids": message_ids, "created_at": ctx.now}
        )  # fmt: skip
        await events.record(ctx, types.REPORT_DELIVERED, delivered, resource_id=schedule["id"])
    return {**row, "message_ids": message_ids}


async def _email(
    ctx: Context,
    schedule: Mapping[str, Any],
    entry: Schedulable,
    figures: Mapping[str, Any],
    calendar: cal.ReportCalendar,
    first: date,
    last: date,
) -> messages.MemberEmail:
    """The digest's email in the workspace's language, its chart drawn (off the event loop)."""
    locale = calendar.locale
    chart = await run_cpu(entry.chart, figures, locale) if entry.chart is not None else None
    workspace = await workspaces.get(ctx)
    content = compose(
        name=schedule["name"],
        title=entry.title.get(locale, entry.title["en"]),
        workspace=str(workspace["name"]),
        first=cal.display_label(first, "day", calendar),
        last=cal.display_label(last, "day", calendar),
        lines=entry.lines(figures, locale),
        chart=chart,
        locale=locale,
    )
    return messages.MemberEmail(subject=content.subject, body_text=content.body_text, body_html=content.body_html)


async def _send(ctx: Context, schedule: Mapping[str, Any], email: messages.MemberEmail) -> list[UUID]:
    """Queue the digest to the schedule's members who are still active; the messages' ids."""
    wanted = [UUID(str(m)) for m in schedule["member_ids"]]
    found = await members.by_ids(ctx, wanted)
    recipients = [found[m] for m in wanted if m in found and found[m]["active"]]
    if not recipients:
        return []
    rows = await messages.send_to_members(ctx, recipients, email, channel_id=schedule["channel_id"])
    return [row["id"] for row in rows]
