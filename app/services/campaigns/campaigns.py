"""Campaigns: define one in draft, edit it (a change to what is sent or to whom withdraws its
approvals), submit it for review, cancel it. Reviews are in `reviews.py`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.db.wakeups import CAMPAIGNS
from app.domain.campaigns import campaigns as rules
from app.domain.campaigns.campaigns import Status
from app.domain.campaigns.reviews import Approval, Tally, tally
from app.domain.concurrency import check_if_match, lost_update
from app.domain.errors import Conflict, ErrorList, NotFound
from app.domain.events import events as types
from app.domain.money import from_minor
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.campaigns.campaigns import CampaignRead
from app.schemas.campaigns.settings import CampaignSettings
from app.services.context import Context
from app.services.events import events
from app.services.leads import sensitive
from app.services.workspace import settings as workspace_settings

SECTION = "campaigns"


async def requirements(ctx: Context) -> dict[str, Any]:
    """The workspace's `campaigns` settings (defaults until it changes them)."""
    return dict((await workspace_settings.get(ctx, SECTION, CampaignSettings))["values"])


async def get(ctx: Context, campaign_id: UUID) -> Row:
    row = await ctx.campaigns.get(campaign_id)
    if row is None:
        raise NotFound("no campaign with this id")
    return row


def shown(row: Mapping[str, Any], current: Mapping[str, Any]) -> Row:
    """The campaign as answered: its bar (as submitted, else the workspace's setting now) and what
    launch still lacks."""
    required = row["required_approvals"]
    if required is None:
        required = current["required_approvals"]
    required_groups = row["required_review_groups"]
    if required_groups is None:
        required_groups = current["require_distinct_review_groups"]
    hidden = ("workspace_id", "cost_minor", "cost_currency", "progress_live")
    out = {k: v for k, v in row.items() if k not in hidden}
    out["cost"] = cost_of(row)
    out["contributors"] = list(row.get("contributors") or [])
    out["required_approvals"] = required
    out["required_review_groups"] = required_groups
    out["missing"] = rules.missing(row, approvals=row["approvals"], review_groups=row["review_groups"],
                                   required=required, required_groups=required_groups)  # fmt: skip
    return out


async def get_shown(ctx: Context, campaign_id: UUID) -> Row:
    return await shown_now(ctx, await get(ctx, campaign_id))


async def shown_now(ctx: Context, row: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> Row:
    """`shown` (the progress as the worker last counted it, at most a couple of seconds old while
    it sends)."""
    return shown(row, current if current is not None else await requirements(ctx))


def _bucket(status: str) -> str:
    """Where a message of this status counts in a campaign's progress."""
    return {"queued": "queued", "sending": "queued", "blocked": "blocked", "failed": "failed"}.get(status, "sent")


async def message_moved(ctx: Context, campaign_id: UUID, before: str, after: str) -> None:
    """A message of the campaign changed status after its send (a delivery report): when that
    moves it in the progress (sent to failed), the worker counts the campaign again, also one
    that is `sent` already."""
    if _bucket(before) != _bucket(after) and await ctx.campaigns.keep_progress_live(campaign_id):
        ctx.uow.wake(CAMPAIGNS)


async def progress(ctx: Context, campaign_id: UUID, now: datetime) -> dict[str, Any]:
    """Recipients and where they are: held out, pending, messages queued, sent, blocked, failed;
    counted now."""
    recipients, sent = await ctx.campaign_recipients.by_status(campaign_id)
    figures = {"recipients": sum(recipients.values()), "holdout": recipients.get("holdout", 0),
               "pending": recipients.get("pending", 0), "queued": 0, "sent": 0, "blocked": 0,
               "failed": recipients.get("failed", 0)}  # fmt: skip  # failed: no message could be made
    for status, count in sent.items():
        figures[_bucket(status)] += count
    return {**figures, "counted_at": now.isoformat()}


def cost_of(row: Mapping[str, Any]) -> dict[str, str] | None:
    if row["cost_minor"] is None:
        return None
    return {"amount": from_minor(row["cost_minor"], row["cost_currency"]), "currency": row["cost_currency"]}


def _definition_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored campaign's definition as a client writes it."""
    return {**{k: row[k] for k in rules.DEFINITION_FIELDS if k != "cost"}, "cost": cost_of(row)}


def _compact(value: Any) -> Any:
    """An object's fields without the nulls a client left out (`pilot`, `send_at`, `goal`)."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    return value


async def _columns(ctx: Context, values: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a definition (JSON as the request models dump it), every rule checked: one
    422 naming every problem by its path."""
    errors = ErrorList()
    audience = None
    if values.get("audience") is not None:
        audience = rules.check_audience(values["audience"], errors)
        segment_ids = [values["audience"].get("segment_id"), *(values["audience"].get("exclude_segment_ids") or [])]
        paths = ["audience.segment_id", *(f"audience.exclude_segment_ids.{i}" for i in range(len(segment_ids) - 1))]
        if values["audience"]["type"] == "contacts":
            for path, segment_id in zip(paths, segment_ids, strict=True):
                if segment_id is None:
                    continue
                segment = await ctx.segments.get(UUID(str(segment_id)))
                if segment is None or segment["archived_at"] is not None:
                    errors.add(path, "no segment with this id")
    variants = [dict(v) | {"template_id": str(v["template_id"])} for v in values.get("variants") or []]
    rules.check_variants(variants, errors)
    for index, variant in enumerate(variants):
        template = await ctx.templates.get(UUID(variant["template_id"]))
        if template is None or template["archived_at"] is not None:
            errors.add(f"variants.{index}.template_id", "no live template with this id")
        elif template["channel"] != values["channel"]:
            errors.add(
                f"variants.{index}.template_id",
                f"this template is for {template['channel']}, the campaign for {values['channel']}",
            )
    goal = _compact(values.get("goal"))
    if goal is not None:
        from app.schemas.events.events import CATALOGUE

        kind = values["audience"]["type"] if values.get("audience") else None
        rules.check_goal(goal, CATALOGUE.keys(), errors, kind)
    cost = values.get("cost")
    minor = rules.cost_minor(cost, errors) if cost is not None else None
    errors.raise_if_any()
    return {
        "name": values["name"],
        "channel": values["channel"],
        "audience": audience,
        "variants": variants,
        "holdout_percent": values["holdout_percent"],
        "pilot": _compact(values.get("pilot")),
        "send_at": _compact(values.get("send_at")),
        "goal": goal,
        "attribution_days": values["attribution_days"],
        "cost_minor": minor,
        "cost_currency": cost["currency"] if cost is not None else None,
        "utm": values["utm"],
    }


def _author(ctx: Context) -> UUID | None:
    return UUID(ctx.actor.id) if ctx.actor.type == "member" and ctx.actor.id is not None else None


def _with_contributor(contributors: list[str] | None, ctx: Context) -> list[str]:
    """The campaign's contributors with the calling key's member (if any) among them."""
    found = list(contributors or [])
    member = _author(ctx)
    if member is not None and str(member) not in found:
        found.append(str(member))
    return found


def authors(row: Mapping[str, Any]) -> set[str]:
    """Who may not approve the campaign: its author and every member who changed what is reviewed
    or submitted it."""
    found = set(row.get("contributors") or [])
    if row.get("author_member_id") is not None:
        found.add(str(row["author_member_id"]))
    return found


async def launched_with_cost(ctx: Context) -> list[Row]:
    """Launched campaigns that carry a cost (what acquisition reports weigh CLV against)."""
    return await ctx.campaigns.launched_with_cost()


async def check_definition(ctx: Context, row: Mapping[str, Any]) -> None:
    """A stored campaign's definition checked again (its templates and segments still there)."""
    await _columns(ctx, _definition_of(row))


async def create(ctx: Context, values: dict[str, Any]) -> Row:
    """A new campaign in draft; its author is the member bound to the calling key (else none)."""
    columns = await _columns(ctx, values)
    await sensitive.check_conditions(ctx, {"audience": values.get("audience")})
    row = await ctx.campaigns.create(
        {
            "id": new_id(),
            **columns,
            "status": Status.DRAFT.value,
            "author_member_id": _author(ctx),
            "contributors": _with_contributor(None, ctx),
            "approvals": 0,
            "review_groups": 0,
            "required_approvals": None,
            "required_review_groups": None,
            "submitted_at": None,
            "approved_at": None,
            "cancelled_at": None,
            "version": 1,
            **ctx.audit_new(),
        }
    )
    return shown(row, await requirements(ctx))


def _back_to_draft() -> dict[str, Any]:
    """A campaign that leaves review: the bar is set again when it is next submitted."""
    return {"status": Status.DRAFT.value, "approved_at": None, "required_approvals": None,
            "required_review_groups": None}  # fmt: skip


async def update(ctx: Context, campaign_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> Row:
    """Each field sent replaces its value. A change to what is sent, to whom, when or how withdraws
    every approval (kept in the history, marked withdrawn) and returns the campaign to draft."""
    row = await get(ctx, campaign_id)
    check_if_match(if_match, row["version"])
    if row["status"] not in rules.EDITABLE:
        raise Conflict(f"a {row['status']} campaign cannot be edited")
    columns = await _columns(ctx, {**_definition_of(row), **changes})
    await sensitive.check_conditions(ctx, {"audience": changes.get("audience")})
    changed = {k: v for k, v in columns.items() if row[k] != v}
    if not changed:
        return shown(row, await requirements(ctx))
    withdraws = any(k in rules.REVIEWED_FIELDS for k in changed) and (
        row["status"] != Status.DRAFT or row["approvals"] > 0
    )
    values = dict(changed)
    if any(k in rules.REVIEWED_FIELDS for k in changed):
        values["contributors"] = _with_contributor(row.get("contributors"), ctx)
    if withdraws:
        values |= {**_back_to_draft(), "approvals": 0, "review_groups": 0}
    updated = await ctx.campaigns.update(campaign_id, row["version"], {**values, **ctx.audit_change()})
    if updated is None:
        raise lost_update(if_match)
    if withdraws:
        await ctx.campaign_reviews.withdraw(campaign_id, ctx.now)
    return shown(updated, await requirements(ctx))


async def current_tally(ctx: Context, campaign_id: UUID) -> Tally:
    counting = await ctx.campaign_reviews.counting(campaign_id)
    return tally(Approval(str(r["member_id"]), r["review_group"]) for r in counting)


async def submit(ctx: Context, campaign_id: UUID, *, if_match: str | None) -> Row:
    """A complete draft goes to review (`campaign.submitted`), under the workspace's approval
    settings as they are now. Approvals that still count (an unedited campaign sent back by a
    rejection) count again: when they already clear the bar it is approved at once."""
    row = await get(ctx, campaign_id)
    check_if_match(if_match, row["version"])
    if row["status"] != Status.DRAFT:
        raise Conflict(f"only a draft can be submitted (this campaign is {row['status']})")
    problems = rules.submission_problems(row, ctx.now)
    problems.raise_if_any()
    await check_definition(ctx, row)
    current = await requirements(ctx)
    required, required_groups = current["required_approvals"], current["require_distinct_review_groups"]
    counted = await current_tally(ctx, campaign_id)
    values: dict[str, Any] = {
        "status": Status.IN_REVIEW.value,
        "contributors": _with_contributor(row.get("contributors"), ctx),
        "submitted_at": ctx.now,
        "required_approvals": required,
        "required_review_groups": required_groups,
        "approvals": counted.approvals,
        "review_groups": counted.review_groups,
    }
    approved = counted.clears(required, required_groups)
    if approved:
        values |= {"status": Status.APPROVED.value, "approved_at": ctx.now}
    updated = await ctx.campaigns.update(campaign_id, row["version"], {**values, **ctx.audit_change()})
    if updated is None:
        raise lost_update(if_match)
    answer = shown(updated, current)
    await events.record(ctx, types.CAMPAIGN_SUBMITTED, CampaignRead.model_validate(answer))
    if approved:
        await events.record(ctx, types.CAMPAIGN_APPROVED, CampaignRead.model_validate(answer))
    return answer


async def cancel(ctx: Context, campaign_id: UUID, *, if_match: str | None) -> Row:
    """Cancelled is final: it will not be sent, and it can no longer be edited or reviewed."""
    row = await ctx.campaigns.lock(campaign_id)  # a sending pass in progress ends first
    if row is None:
        raise NotFound("no campaign with this id")
    check_if_match(if_match, row["version"])
    if row["status"] not in rules.CANCELLABLE:
        raise Conflict(f"a {row['status']} campaign cannot be cancelled")
    values: dict[str, Any] = {"status": Status.CANCELLED.value, "cancelled_at": ctx.now, **ctx.audit_change()}
    if row.get("launched_at") is not None:
        await ctx.campaign_recipients.skip_pending(campaign_id)
        values["progress"] = await progress(ctx, campaign_id, ctx.now)  # its queued messages still go
    updated = await ctx.campaigns.update(campaign_id, row["version"], values)
    if updated is None:
        raise lost_update(if_match)
    return await shown_now(ctx, updated)


async def list_campaigns(
    ctx: Context,
    *,
    sort: Sort,
    cursor: str | None,
    limit: int,
    status: str | None,
    channel: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
) -> Page[Row]:
    page = await ctx.campaigns.list(sort=sort, cursor=cursor, limit=limit, status=status, channel=channel,
                                    ranges=[("created_at", created_after, created_before)])  # fmt: skip
    current = await requirements(ctx)
    return Page([await shown_now(ctx, row, current) for row in page.rows], page.next_cursor)
