"""Sending a campaign: launch (the audience frozen, each recipient's arm and pilot drawn from a
recorded seed), the worker's passes (the pilot first, paused when its unsubscribe or complaint
rate crosses the limit; the rest after the pilot's wait; throttled; done when every message is
final), pausing and resuming by hand, and the progress shown on a campaign.

Durable: a pass hands out a batch of recipients in one transaction with the messages it stores
for them (each recipient row is marked with its message there), so a worker killed mid-pass
leaves the batch pending and the next pass takes it again: no recipient is messaged twice. The
messages themselves go through the messaging worker (consent, suppression, quiet hours and the
frequency cap checked again at send time; the channel's `max_per_second`)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.db.wakeups import CAMPAIGNS
from app.domain import conditions
from app.domain.campaigns import sending as plan
from app.domain.campaigns.campaigns import Status
from app.domain.campaigns.reviews import approvals_lacking
from app.domain.concurrency import check_if_match, lost_update
from app.domain.errors import Conflict, DomainError, NotFound
from app.domain.events import events as types
from app.domain.outreach.templates import Rendered
from app.domain.outreach.vocabulary import ChannelType, PersonRef
from app.schemas.campaigns.campaigns import CampaignRead
from app.schemas.outreach.messages import MessageCreate
from app.services.campaigns import campaigns
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.events import events
from app.services.journeys import enrolments
from app.services.outreach import links, messages
from app.services.outreach import policy as messaging
from app.services.outreach.reads import Reads

log = logging.getLogger(__name__)

BATCH = 500  # recipients handed out per campaign per pass
WINDOW_SECONDS = 30  # messages due and not yet final, at most: this many seconds at the channel's rate
MIN_WINDOW = 200
ACTIVE = (Status.SCHEDULED, Status.PILOTING, Status.SENDING)
PAUSABLE = ACTIVE
POLL = timedelta(seconds=2)  # while a campaign sends: how often its progress is looked at
QUEUE_PAGE = 50
_COUNTED: dict[UUID, datetime] = {}  # when this process last counted a campaign's progress
PILOT_MIN_SENT = 20  # the pilot's rates are judged once this many of its messages went (or all of them)


# -- launch ---------------------------------------------------------------------------------------


async def launch(ctx: Context, campaign_id: UUID, *, if_match: str | None) -> dict[str, Any]:
    """An approved campaign goes: its audience is read and frozen, each recipient drawn to the
    holdout, the pilot and a variant by a new seed (kept on the campaign), and sending begins at its
    time (`campaign.launched`). 409 naming what is missing while it is not approved."""
    row = await ctx.campaigns.lock(campaign_id)  # two launches at once: the second sees the first's
    if row is None:
        raise NotFound("no campaign with this id")
    check_if_match(if_match, row["version"])
    if row["status"] == Status.CANCELLED:
        raise Conflict("a cancelled campaign cannot be launched")
    if row["status"] != Status.APPROVED:
        if row["status"] in (Status.DRAFT, Status.IN_REVIEW):
            now = await campaigns.get_shown(ctx, campaign_id)
            raise Conflict(f"the campaign cannot be launched yet: it lacks {', '.join(now['missing'])}")
        raise Conflict(f"the campaign was launched already (it is {row['status']})")
    counted = await campaigns.current_tally(ctx, campaign_id)  # a member deactivated since no longer counts
    if not counted.clears(row["required_approvals"], row["required_review_groups"]):
        lacks = approvals_lacking(
            approvals=counted.approvals,
            review_groups=counted.review_groups,
            required=row["required_approvals"],
            required_groups=row["required_review_groups"],
        )
        raise Conflict(f"the campaign cannot be launched yet: it lacks {', '.join(lacks)} "
                       "(an approving member was deactivated)")  # fmt: skip
    await campaigns.check_definition(ctx, row)  # its templates and segments still there
    people = await audience(ctx, row["audience"])
    seed = secrets.randbelow(plan.MAX_SEED)
    variants = [(v["name"], float(v.get("weight") or 1)) for v in row["variants"]]
    drawn = plan.assign(seed, list(people), holdout_percent=row["holdout_percent"], variants=variants,
                        pilot=row["pilot"])  # fmt: skip
    start = plan.starts_at(row["send_at"], ctx.now)
    workspace = await ctx.workspaces.get() or {}
    local = bool(row["send_at"] and row["send_at"].get("date"))
    await ctx.campaign_recipients.add_many(
        [
            {
                "campaign_id": campaign_id,
                "person_id": a.person_id,
                "arm": a.arm,
                "pilot": a.pilot,
                "status": "holdout" if a.arm == plan.HOLDOUT else "pending",
                "message_id": None,
                "block_reason": None,
                "send_at": plan.recipient_send_at(
                    row["send_at"], messaging.zone_of(people[a.person_id], workspace).key if local else None,
                    start, ctx.now,
                ),
                "created_at": ctx.now,
            }
            for a in drawn
        ]
    )  # fmt: skip
    values: dict[str, Any] = {"seed": seed, "launched_at": ctx.now, "starts_at": start,
                              "status": Status.SCHEDULED.value, "progress_live": True,
                              "progress": await campaigns.progress(ctx, campaign_id, ctx.now)}  # fmt: skip
    if start <= ctx.now:
        values |= _begin(row, await ctx.campaign_recipients.pilot_last_due(campaign_id), ctx.now)
    updated = await ctx.campaigns.update(campaign_id, row["version"], {**values, **ctx.audit_change()})
    if updated is None:
        raise lost_update(if_match)
    ctx.uow.wake(CAMPAIGNS)
    answer = await shown(ctx, updated)
    await events.record(ctx, types.CAMPAIGN_LAUNCHED, CampaignRead.model_validate(answer))
    return answer


def _begin(row: Mapping[str, Any], pilot_due: datetime | None, now: datetime) -> dict[str, Any]:
    """Sending begins: with the pilot when there is one (`pilot_due`: its last recipient's due
    time, which the wait counts from: with local send times the pilot goes out over a day)."""
    if pilot_due is not None:
        wait = float((row["pilot"] or {}).get("wait_hours") or 0)
        rest = plan.rest_due(max(pilot_due, now), wait)
        return {"status": Status.PILOTING.value, "pilot_started_at": now, "rest_due_at": rest}
    return {"status": Status.SENDING.value}


async def audience(ctx: Context, definition: Mapping[str, Any]) -> dict[UUID, dict[str, Any]]:
    """The people the audience names now, by id, with their rows: a segment's members (contacts),
    else every contact (or every lead not merged or archived), less the excluded segments'
    members, that meet the conditions."""
    kind = definition["type"]
    repo = ctx.campaign_recipients
    ids: set[UUID] | None = None
    if definition.get("segment_id"):
        ids = await repo.segment_members(UUID(definition["segment_id"]))
    rows = await repo.people(kind, ids)
    excluded: set[UUID] = set()
    for segment_id in definition.get("exclude_segment_ids") or []:
        excluded |= await repo.segment_members(UUID(segment_id))
    people = {row["id"]: row for row in rows if row["id"] not in excluded}
    if definition.get("conditions") is None:
        return people
    condition = conditions.parse(definition["conditions"], audience=kind, path="audience.conditions")
    fields = conditions.fields_of(condition)
    # Fields beyond a person's own row (engagement counts, analytics, business hours) are read per
    # person; the rest are decided from the rows read already.
    deep = any(f.partition(".")[0] in ("engagements", "consent") for f in fields) or bool(
        {"rfm_segment", "churn_level", "in_business_hours"} & fields
    )
    person_kind: Literal["lead", "contact"] = "lead" if kind == "leads" else "contact"
    kept: dict[UUID, dict[str, Any]] = {}
    for person_id, row in people.items():
        if deep:
            since = datetime(1970, 1, 1, tzinfo=ctx.now.tzinfo)  # engagement counts: all of them
            _, subject = await enrolments.read_person(ctx, PersonRef(person_kind, person_id), since, fields, known=row)
        else:
            subject = enrolments.subject_from(row, person_kind, ctx.now)
        if subject is not None and conditions.evaluate(condition, subject, ctx.now):
            kept[person_id] = row
    return kept


# -- pause, resume, cancel -------------------------------------------------------------------------


async def pause(ctx: Context, campaign_id: UUID, *, if_match: str | None) -> dict[str, Any]:
    """Stop handing out messages (`campaign.paused`); messages already queued still go."""
    row = await ctx.campaigns.lock(campaign_id)  # a pass in progress ends first
    if row is None:
        raise NotFound("no campaign with this id")
    check_if_match(if_match, row["version"])
    if row["status"] not in PAUSABLE:
        raise Conflict(f"only a launched campaign that is sending can be paused (this one is {row['status']})")
    reason = {"reason": "manual", "from": row["status"]}
    updated = await _pause(ctx, row, reason)
    if updated is None:
        raise lost_update(if_match)
    return await shown(ctx, updated)


async def _pause(ctx: Context, row: Mapping[str, Any], reason: dict[str, Any]) -> dict[str, Any] | None:
    values = {"status": Status.PAUSED.value, "paused_at": ctx.now, "pause_reason": reason, "progress_live": True,
              "progress": await campaigns.progress(ctx, row["id"], ctx.now), **ctx.audit_change()}  # fmt: skip
    updated = await ctx.campaigns.update(row["id"], row["version"], values)
    if updated is not None:
        await events.record(ctx, types.CAMPAIGN_PAUSED, CampaignRead.model_validate(await shown(ctx, updated)))
    return updated


async def resume(ctx: Context, campaign_id: UUID, *, if_match: str | None) -> dict[str, Any]:
    """A paused campaign goes on where it stopped. One the pilot paused goes on to the rest at
    once (with the pilot's winner, under `winner_only`): resuming is the decision the pilot
    waited for."""
    row = await ctx.campaigns.lock(campaign_id)
    if row is None:
        raise NotFound("no campaign with this id")
    check_if_match(if_match, row["version"])
    if row["status"] != Status.PAUSED:
        raise Conflict(f"only a paused campaign can be resumed (this one is {row['status']})")
    reason = row["pause_reason"] or {}
    before = reason.get("from") or Status.SENDING.value
    values: dict[str, Any] = {"status": before, "paused_at": None, "pause_reason": None, "progress_live": True,
                              "progress": await campaigns.progress(ctx, campaign_id, ctx.now)}  # fmt: skip
    if before == Status.PILOTING and reason.get("reason") != "manual":
        values |= {"status": Status.SENDING.value, "rest_due_at": ctx.now}
        if (row["pilot"] or {}).get("winner_only"):
            from app.services.campaigns import report

            values["winner"] = await report.pilot_winner(ctx, row)
    updated = await ctx.campaigns.update(campaign_id, row["version"], {**values, **ctx.audit_change()})
    if updated is None:
        raise lost_update(if_match)
    ctx.uow.wake(CAMPAIGNS)
    return await shown(ctx, updated)


# -- the worker -----------------------------------------------------------------------------------


async def advance_due(database: Database, now: datetime) -> int:
    """One pass over launched campaigns: each moves one step (a batch handed out, its pilot looked
    at, begun, finished), in its own transaction. How many batches were handed out (a full pass:
    run again at once)."""
    handed = 0
    after: tuple[datetime, UUID] | None = None
    while True:  # every launched campaign, page by page: none waits behind others that only wait
        async with UnitOfWork(database, write=False) as reader:
            due = await reader.campaign_queue().due(now, QUEUE_PAGE, after)
        for workspace_id, campaign_id, _ in due:
            try:
                async with UnitOfWork(database, write=True) as uow:
                    ctx = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
                    handed += await step(ctx, campaign_id)
                    await uow.commit()
            except Exception:
                log.exception("campaign %s: the pass failed; the next one tries again", campaign_id)
        if len(due) < QUEUE_PAGE:
            return handed
        after = (due[-1][2], due[-1][1])


async def next_due(database: Database, now: datetime) -> datetime | None:
    """When the campaigns loop should look again: soon while any campaign sends."""
    async with UnitOfWork(database, write=False) as reader:
        start = await reader.campaign_queue().next_start()
    return None if start is None else max(start, now + POLL)


async def step(ctx: Context, campaign_id: UUID) -> int:
    """One step of one campaign, its row locked for the pass (another worker's pass skips it; a
    pause or a cancel waits for it, and a pass after them sees them); then its progress kept up
    to date (counted at most every POLL)."""
    row = await ctx.campaigns.lock(campaign_id, skip_locked=True)
    if row is None or not row["progress_live"]:
        return 0
    handed = await _advance(ctx, row) if row["status"] in ACTIVE else 0
    after = await ctx.campaigns.get(campaign_id)
    if after is not None and after["progress_live"]:
        await _refresh(ctx, after, force=after["version"] != row["version"])
    return handed


async def _refresh(ctx: Context, row: Mapping[str, Any], *, force: bool = False) -> None:
    """Count the campaign's progress again (when POLL has passed since, or `force`) and keep it
    when it changed; it stops being kept once it can no longer change (not sending, and no
    message of it still queued)."""
    stored = (row["progress"] or {}).get("counted_at")
    last = max(filter(None, (datetime.fromisoformat(stored) if stored else None, _COUNTED.get(row["id"]))),
               default=None)  # fmt: skip
    if not force and last is not None and last > ctx.now - POLL:
        return
    figures = await campaigns.progress(ctx, row["id"], ctx.now)
    _COUNTED[row["id"]] = ctx.now  # unchanged figures are not written (no new version): remembered here
    live = row["status"] in ACTIVE or figures["queued"] > 0
    same = {k: v for k, v in (row["progress"] or {}).items() if k != "counted_at"} == {
        k: v for k, v in figures.items() if k != "counted_at"
    }
    if same and live == row["progress_live"]:
        return
    await _set(ctx, row, {"progress": figures, "progress_live": live})


async def _advance(ctx: Context, row: Mapping[str, Any]) -> int:
    campaign_id = row["id"]
    repo = ctx.campaign_recipients
    if row["status"] == Status.SCHEDULED:
        if row["starts_at"] > ctx.now:
            return 0
        await _set(ctx, row, _begin(row, await repo.pilot_last_due(campaign_id), ctx.now))
        return 1
    if row["status"] == Status.PILOTING:
        figures, unsendable = await pilot_figures(ctx, campaign_id)
        pilot_size = sum(a["pilot"] for a in (await repo.arms(campaign_id)).values())
        judged = figures.sent >= min(PILOT_MIN_SENT, pilot_size - unsendable)  # not on the first few
        reason = plan.pause_reason(figures, (row["pilot"] or {}).get("auto_pause")) if judged else None
        if reason is not None:
            await _pause(ctx, row, {**reason, "from": Status.PILOTING.value})
            return 0
        if await repo.any_pending(campaign_id, pilot=True):
            return await _hand_out(ctx, row, pilot=True)
        if row["rest_due_at"] is None or row["rest_due_at"] <= ctx.now:
            values: dict[str, Any] = {"status": Status.SENDING.value}
            if (row["pilot"] or {}).get("winner_only"):
                from app.services.campaigns import report

                values["winner"] = await report.pilot_winner(ctx, row)
            await _set(ctx, row, values)
            return 1
        return 0
    if await repo.any_pending(campaign_id, pilot=None):
        return await _hand_out(ctx, row, pilot=None)
    if await repo.in_flight(campaign_id, None) == 0:
        final = await campaigns.progress(ctx, campaign_id, ctx.now)
        updated = await _set(ctx, row, {"status": Status.SENT.value, "finished_at": ctx.now, "progress": final,
                                        "progress_live": False})  # fmt: skip
        if updated is not None:
            await events.record(ctx, types.CAMPAIGN_SENT, CampaignRead.model_validate(await shown(ctx, updated)))
    return 0


async def _set(ctx: Context, row: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any] | None:
    return await ctx.campaigns.update(row["id"], row["version"], {**values, **ctx.audit_change()})


async def pilot_figures(ctx: Context, campaign_id: UUID) -> tuple[plan.PilotFigures, int]:
    """The pilot's messages that went, with their unsubscribes and complaints; and how many of its
    recipients will get none (blocked, failed)."""
    sent = unsubscribed = complained = unsendable = 0
    for outcome in await ctx.campaign_recipients.outcomes(campaign_id, pilot=True):
        if outcome["status"] in ("sent", "delivered", "bounced", "unknown"):
            sent += outcome["messages"]
        elif outcome["status"] in ("blocked", "failed"):
            unsendable += outcome["messages"]
        unsubscribed += outcome["unsubscribed"]
        complained += outcome["complained"]
    arms = await ctx.campaign_recipients.arms(campaign_id)
    unsendable += sum(a["failed"] for a in arms.values())  # no message could be made
    return plan.PilotFigures(sent, unsubscribed, complained), unsendable


async def _hand_out(ctx: Context, row: Mapping[str, Any], *, pilot: bool | None) -> int:
    """The next batch of pending recipients messaged, as much as the channel's rate leaves room
    for (at most WINDOW_SECONDS of its `max_per_second` due and not yet sent)."""
    channel_type = ChannelType(row["channel"])
    channel = await Reads(ctx).default_channel(channel_type)
    rate = float(((channel or {}).get("settings") or {}).get("max_per_second") or 10)
    room = max(MIN_WINDOW, int(rate * WINDOW_SECONDS)) - await ctx.campaign_recipients.in_flight(row["id"], ctx.now)
    if room <= 0:
        return 0
    pending = await ctx.campaign_recipients.pending(row["id"], pilot=pilot, limit=min(room, BATCH))
    if not pending:
        return 0
    variants = {v["name"]: v for v in row["variants"]}
    winner = row.get("winner")
    done: list[tuple[UUID, str, UUID | None, str | None, str]] = []
    column = "lead_id" if row["audience"]["type"] == "leads" else "contact_id"
    by_arm: dict[str, list[Mapping[str, Any]]] = {}
    for recipient in pending:
        by_arm.setdefault(winner or recipient["arm"], []).append(recipient)
    for arm, recipients in by_arm.items():
        variant = variants[arm]
        bodies = [
            MessageCreate.model_validate({
                column: r["person_id"], "channel": channel_type, "template_id": variant["template_id"],
                "purpose": "marketing", "send_at": r["send_at"],
            })
            for r in recipients
        ]  # fmt: skip
        results = await messages.send_many(ctx, bodies, campaign_id=row["id"], tag=_tagger(row, arm))
        for target, result in zip(recipients, results, strict=True):
            if isinstance(result, DomainError):
                done.append((target["person_id"], "failed", None, None, arm))
            else:
                done.append((target["person_id"], "messaged", result["id"], result["block_reason"], arm))
    await ctx.campaign_recipients.messaged(row["id"], done)
    return 1


def _tagger(row: Mapping[str, Any], arm: str) -> Any:
    """The campaign's links tagged with `utm_campaign` (its name, hyphenated) and `utm_content`
    (the variant), unless it turned tagging off; the service's own links (unsubscribe, tracking)
    are left as they are."""
    if not row["utm"]:
        return None
    own = links.base_url()
    name = plan.utm_campaign(row["name"])

    def tag_one(url: str) -> str:
        if url.startswith(own):
            return url
        return plan.tag_url(url, campaign=name, content=arm, medium=row["channel"])

    def tag(rendered: Rendered, _: MessageCreate) -> Rendered:
        html = plan.tag_html(rendered.body_html, tag_one) if rendered.body_html is not None else None
        return replace(rendered, body_text=plan.tag_text(rendered.body_text, tag_one), body_html=html)

    return tag


# -- shown -----------------------------------------------------------------------------------------


async def shown(ctx: Context, row: Mapping[str, Any]) -> dict[str, Any]:
    return await campaigns.shown_now(ctx, row)


async def cancel_pending(ctx: Context, campaign_id: UUID) -> None:
    await ctx.campaign_recipients.skip_pending(campaign_id)


def assignment_of(seed: int, people: Sequence[UUID], row: Mapping[str, Any]) -> list[plan.Assignment]:
    """The assignment a campaign's seed gives these people (the recorded one, reproduced)."""
    variants = [(v["name"], float(v.get("weight") or 1)) for v in row["variants"]]
    return plan.assign(seed, people, holdout_percent=row["holdout_percent"], variants=variants, pilot=row["pilot"])
