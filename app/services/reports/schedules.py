"""Report schedules (`/v1/report-schedules`): a report sent as a digest daily or weekly at a local
time of the workspace, to members by email and/or as a `report.delivered` event. Creating,
changing, pausing and archiving them; the worker delivers them (app/services/reports/digests.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, time
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from app.db.repositories.base import Page, Row
from app.db.wakeups import REPORTS as WAKE_REPORTS
from app.domain.concurrency import check_if_match
from app.domain.errors import Conflict, ErrorList, InvalidInput, NotFound
from app.domain.outreach.vocabulary import ChannelType
from app.domain.pagination import Sort
from app.domain.reports import schedules as rules
from app.ids import new_id
from app.schemas.common import invalid_input
from app.schemas.weekdays import WEEKDAYS
from app.services.context import Context, changed_fields, write_changes
from app.services.outreach import messages
from app.services.reports.digests import REPORTS
from app.services.reports.scope import calendar_of
from app.services.workspace import members

# Keys of `params` a schedule may not hold: a digest's range is the days before each occurrence.
RANGE_PARAMS = ("from", "to")


def shown(row: Mapping[str, Any]) -> Row:
    """A schedule as the API shows it: its cadence as one object."""
    cadence = {
        "type": row["cadence"],
        "weekday": WEEKDAYS[row["weekday"]] if row["weekday"] is not None else None,
        "at": row["local_time"],
    }
    shaped = {k: v for k, v in row.items() if k not in ("weekday", "local_time", "workspace_id")}
    return {**shaped, "cadence": cadence}


def _columns(cadence: Mapping[str, Any]) -> dict[str, Any]:
    weekday = cadence.get("weekday")
    return {
        "cadence": cadence["type"],
        "weekday": WEEKDAYS.index(weekday) if weekday is not None else None,
        "local_time": cadence["at"],
    }


def _params(report: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` checked by the report's own rules (a 422 naming `params.<name>`), as stored."""
    errors = ErrorList()
    for key in RANGE_PARAMS:
        if key in params:
            errors.add(f"params.{key}", "a digest covers the days before each occurrence: the day before a daily "
                       "one, the seven days before a weekly one; leave `from` and `to` out")  # fmt: skip
    errors.raise_if_any()
    try:
        model = REPORTS[report].params.model_validate(dict(params))
    except ValidationError as exc:
        named = [replace(e, field=f"params.{e.field}") for e in invalid_input(exc).errors]
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in named), errors=named) from exc
    return model.model_dump(mode="json", exclude_unset=True)


def _check_event(report: str, emit_event: bool) -> None:
    if emit_event and not REPORTS[report].events:
        raise InvalidInput.field("emit_event", f"the {report} report goes to members by email only: its sections need "
                                 "read scopes of their own, which `report.delivered` (read with reports:read) would "
                                 "bypass")  # fmt: skip


async def _check_recipients(ctx: Context, member_ids: list[UUID], channel_id: UUID | None, emit_event: bool) -> None:
    errors = ErrorList()
    if not member_ids and not emit_event:
        errors.add("member_ids", "name at least one member, or set emit_event: a digest must go somewhere")
    found = await members.by_ids(ctx, member_ids)
    for index, member_id in enumerate(member_ids):
        member = found.get(member_id)
        if member is None:
            errors.add(f"member_ids.{index}", "no member with this id")
        elif not member["active"]:
            errors.add(f"member_ids.{index}", "this member is deactivated")
    if len(set(member_ids)) != len(member_ids):
        errors.add("member_ids", "names a member twice")
    errors.raise_if_any()
    if member_ids or channel_id is not None:
        channel = await messages.live_channel(ctx, ChannelType.EMAIL, channel_id)  # 422 naming channel_id
        if channel is None and member_ids:
            raise InvalidInput.field("channel_id", "the workspace has no email channel to send the digest through")


async def _next_run(ctx: Context, columns: Mapping[str, Any]) -> datetime | None:
    if columns["paused"] or columns.get("archived_at") is not None:
        return None
    hours, minutes = (int(part) for part in str(columns["local_time"]).split(":"))
    cadence = rules.Cadence(columns["cadence"], time(hours, minutes), columns["weekday"])
    return rules.next_after(cadence, (await calendar_of(ctx)).timezone, ctx.now)


async def get(ctx: Context, schedule_id: UUID) -> Row:
    row = await ctx.report_schedules.get(schedule_id)
    if row is None:
        raise NotFound("no report schedule with this id")
    return row


async def get_shown(ctx: Context, schedule_id: UUID) -> Row:
    return shown(await get(ctx, schedule_id))


async def create(ctx: Context, values: Mapping[str, Any]) -> Row:
    report = values["report"]
    if report not in REPORTS:
        raise InvalidInput.field("report", f"not a report that can be scheduled; one of: {', '.join(sorted(REPORTS))}")
    params = _params(report, values.get("params") or {})
    _check_event(report, bool(values.get("emit_event")))
    member_ids = list(values.get("member_ids") or [])
    await _check_recipients(ctx, member_ids, values.get("channel_id"), bool(values.get("emit_event")))
    columns = {
        "name": values["name"],
        "report": report,
        "params": params,
        **_columns(values["cadence"]),
        "member_ids": [str(m) for m in member_ids],
        "emit_event": bool(values.get("emit_event")),
        "channel_id": values.get("channel_id"),
        "paused": bool(values.get("paused")),
    }
    columns["next_run_at"] = await _next_run(ctx, columns)
    row = await ctx.report_schedules.create({"id": new_id(), **columns, **ctx.audit_new()})
    ctx.uow.wake(WAKE_REPORTS)
    return shown(row)


async def update(ctx: Context, schedule_id: UUID, changes: Mapping[str, Any], *, if_match: str | None) -> Row:
    """A change of cadence, or a resume, sets the next occurrence from now; pausing clears it. Any
    change clears the errors of digests that could not be prepared (`failures`, `last_error`), and
    one waiting to be tried again is tried at once."""
    row = await get(ctx, schedule_id)
    check_if_match(if_match, row["version"])
    if row["archived_at"] is not None:
        raise Conflict("the report schedule is archived")
    values: dict[str, Any] = {k: v for k, v in changes.items() if k not in ("cadence", "member_ids", "params")}
    if "params" in changes:
        values["params"] = _params(row["report"], changes["params"] or {})
    if "cadence" in changes:
        values.update(_columns(changes["cadence"]))
    if "member_ids" in changes:
        values["member_ids"] = [str(m) for m in changes["member_ids"]]
    merged = {**row, **values}
    if "emit_event" in changes:
        _check_event(row["report"], bool(merged["emit_event"]))
    if {"member_ids", "channel_id", "emit_event"} & changes.keys():
        wanted = [UUID(str(m)) for m in merged["member_ids"]]
        await _check_recipients(ctx, wanted, merged["channel_id"], bool(merged["emit_event"]))
    values = changed_fields(row, values)
    if not values:
        return shown(row)
    if {"cadence", "weekday", "local_time", "paused"} & values.keys():
        values["next_run_at"] = await _next_run(ctx, {**row, **values})
    elif row["last_error"] is not None and row["next_run_at"] is not None:
        values["next_run_at"] = ctx.now  # waiting to be tried again: try the changed schedule now
    # A change is the answer to an error: the count starts again.
    values.update(changed_fields(row, {"failures": 0, "last_error": None}))
    updated: Row = await write_changes(ctx, row, values, _updater(ctx, schedule_id), if_match=if_match)
    if values.get("next_run_at") is not None:
        ctx.uow.wake(WAKE_REPORTS)
    return shown(updated)


def _updater(ctx: Context, schedule_id: UUID) -> Any:
    async def update(version: int, values: dict[str, Any]) -> Row | None:
        return await ctx.report_schedules.update(schedule_id, version, values)

    return update


async def archive(ctx: Context, schedule_id: UUID, *, if_match: str | None) -> Row:
    """Archived: sends nothing more, hidden from lists unless asked for; its deliveries stay."""
    row = await get(ctx, schedule_id)
    check_if_match(if_match, row["version"])
    if row["archived_at"] is not None:
        return shown(row)
    values = {"archived_at": ctx.now, "next_run_at": None}
    updated: Row = await write_changes(ctx, row, values, _updater(ctx, schedule_id), if_match=if_match)
    return shown(updated)


async def list_schedules(
    ctx: Context, *, sort: Sort, cursor: str | None, limit: int, archived: bool = False, report: str | None = None
) -> Page[Row]:
    page = await ctx.report_schedules.list(sort=sort, cursor=cursor, limit=limit, archived=archived, report=report)
    return Page([shown(row) for row in page.rows], page.next_cursor)
