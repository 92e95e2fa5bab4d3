"""The review of a journey's draft: submitting it, and members approving it, rejecting it or
asking for changes, under the campaigns' rules (the workspace's `campaigns` settings set the bar;
no contributor approves; one member counts once, while active). Publishing waits for the approval
of a draft that sends marketing when the workspace's approvals apply to journeys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.campaigns.reviews import Approval, Decision, MemberKeyRequired, Tally, refuse_self_approval, tally
from app.domain.concurrency import check_if_match, lost_update
from app.domain.errors import Conflict
from app.domain.events import events as types
from app.domain.journeys.reviews import ReviewStatus
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.journeys.journeys import JourneyRead, JourneyReviewRead
from app.services.context import Context
from app.services.events import events
from app.services.journeys import journeys
from app.services.workspace import members


async def _counting(ctx: Context, journey_id: UUID, number: int) -> list[Approval]:
    rows = await ctx.journey_reviews.counting(journey_id, number)
    return [Approval(str(r["member_id"]), r["review_group"]) for r in rows]


async def submit(ctx: Context, journey_id: UUID, *, if_match: str | None) -> Row:
    """The draft goes to review (`journey.submitted`), under the workspace's approval settings as
    they are now. It must be publishable as it is (422 naming each path). Approvals that still count
    (an unedited draft sent back by a rejection) count again: when they already clear the bar it is
    approved at once (`journey.approved`)."""
    row = await journeys.get(ctx, journey_id)
    check_if_match(if_match, row["version"])
    draft = await journeys.draft_of(ctx, row, "submit")
    if draft["review_status"] is not None:
        raise Conflict(f"the draft is {draft['review_status']} already")
    await journeys.check_publishable(ctx, draft)
    current = await journeys.requirements(ctx)
    required, required_groups = current["required_approvals"], current["require_distinct_review_groups"]
    counted: Tally = tally(await _counting(ctx, journey_id, row["draft_version"]))
    values: dict[str, Any] = {
        "review_status": ReviewStatus.IN_REVIEW.value,
        "contributors": journeys.with_contributor(draft["contributors"], ctx),
        "submitted_at": ctx.now,
        "required_approvals": required,
        "required_review_groups": required_groups,
        "approvals": counted.approvals,
        "review_groups": counted.review_groups,
        "approved_at": None,
    }
    approved = counted.clears(required, required_groups)
    if approved:
        values |= {"review_status": ReviewStatus.APPROVED.value, "approved_at": ctx.now}
    # the journey's compare-and-set first: an edit, a review or a publish meanwhile runs this again
    updated = await ctx.journeys.update(journey_id, row["version"], ctx.audit_change())
    if updated is None:
        raise lost_update(if_match)
    await ctx.journeys.set_version(journey_id, row["draft_version"], values)
    answer = await journeys.shown(ctx, updated, current)
    await events.record(ctx, types.JOURNEY_SUBMITTED, JourneyRead.model_validate(answer))
    if approved:
        await events.record(ctx, types.JOURNEY_APPROVED, JourneyRead.model_validate(answer))
    return answer


async def review(
    ctx: Context, journey_id: UUID, decision: Decision, comment: str | None, *, if_match: str | None
) -> Row:
    """Record a member's review of the draft in review (`journey.reviewed`). An approval counts
    once per member; a rejection or a request for changes takes the draft out of review with its
    comment, and takes back that member's own approval. Reaching the bar approves it
    (`journey.approved`)."""
    row = await journeys.get(ctx, journey_id)
    check_if_match(if_match, row["version"])
    if ctx.actor.type != "member" or ctx.actor.id is None:
        raise MemberKeyRequired("a review is a member's: use a key bound to a member (`member_id`)")
    if row["status"] == "archived":
        raise Conflict("the journey is archived")
    if row["draft_version"] is None:
        raise Conflict("only a draft in review can be reviewed (this journey has no draft)")
    number = int(row["draft_version"])
    draft = await journeys.version_of(ctx, row, number)
    if draft["review_status"] != ReviewStatus.IN_REVIEW:
        state = draft["review_status"] or "not submitted"
        raise Conflict(f"only a draft in review can be reviewed (this one is {state})")
    member_id = UUID(ctx.actor.id)
    refuse_self_approval(decision, set(draft["contributors"] or []), str(member_id), reviewed="journey")
    reviewer = await members.get(ctx, member_id)
    if not reviewer["active"]:  # its keys stop working; one cached by another process may not yet
        raise Conflict("a deactivated member cannot review")
    counting = await _counting(ctx, journey_id, number)
    counts = decision is Decision.APPROVE and all(a.member_id != str(member_id) for a in counting)
    if decision is Decision.APPROVE:
        after = tally([*counting, Approval(str(member_id), reviewer["review_group"])])
    else:
        after = tally(a for a in counting if a.member_id != str(member_id))
    values: dict[str, Any] = {"approvals": after.approvals, "review_groups": after.review_groups}
    approved = decision is Decision.APPROVE and after.clears(
        draft["required_approvals"], draft["required_review_groups"]
    )
    if approved:
        values |= {"review_status": ReviewStatus.APPROVED.value, "approved_at": ctx.now}
    elif decision is not Decision.APPROVE:
        values |= {"review_status": None, "required_approvals": None, "required_review_groups": None}
    # the journey's compare-and-set first: of two concurrent reviews, the second runs again on a fresh read
    updated = await ctx.journeys.update(journey_id, row["version"], ctx.audit_change())
    if updated is None:
        raise lost_update(if_match)
    await ctx.journeys.set_version(journey_id, number, values)
    if decision is not Decision.APPROVE:
        await ctx.journey_reviews.withdraw(journey_id, number, ctx.now, member_id=member_id)
    recorded = await ctx.journey_reviews.add(
        {
            "id": new_id(),
            "journey_id": journey_id,
            "version": number,
            "member_id": member_id,
            "decision": decision.value,
            "comment": comment,
            "review_group": reviewer["review_group"],
            "counts": counts,
            "withdrawn_at": None,
            "created_at": ctx.now,
        }
    )
    await events.record(ctx, types.JOURNEY_REVIEWED, JourneyReviewRead.model_validate(recorded),
                        resource_id=journey_id)  # fmt: skip
    answer = await journeys.shown(ctx, updated)
    if approved:
        await events.record(ctx, types.JOURNEY_APPROVED, JourneyRead.model_validate(answer))
    return answer


async def history(
    ctx: Context, journey_id: UUID, *, version: int | None, sort: Sort, cursor: str | None, limit: int
) -> Page[Row]:
    """Every review of the journey's drafts (of one version, when named), withdrawn ones and
    repeated approvals included."""
    await journeys.get(ctx, journey_id)
    return await ctx.journey_reviews.history(journey_id, version=version, sort=sort, cursor=cursor, limit=limit)
