"""Reviews of a campaign under review: members approve it, reject it or ask for changes. It is
approved when enough members (never its author), from enough review groups, approve it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.campaigns.campaigns import Status
from app.domain.campaigns.reviews import Approval, Decision, MemberKeyRequired, refuse_self_approval, tally
from app.domain.concurrency import check_if_match, lost_update
from app.domain.errors import Conflict
from app.domain.events import events as types
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.campaigns.campaigns import CampaignRead, ReviewRead
from app.services.campaigns import campaigns
from app.services.context import Context
from app.services.events import events
from app.services.workspace import members


async def review(
    ctx: Context, campaign_id: UUID, decision: Decision, comment: str | None, *, if_match: str | None
) -> Row:
    """Record a member's review (`campaign.reviewed`). An approval counts once per member; a
    rejection or a request for changes sends the campaign back to draft with its comment, and takes
    back that member's own approval. Reaching the bar approves it (`campaign.approved`)."""
    row = await campaigns.get(ctx, campaign_id)
    check_if_match(if_match, row["version"])
    if ctx.actor.type != "member" or ctx.actor.id is None:
        raise MemberKeyRequired("a review is a member's: use a key bound to a member (`member_id`)")
    if row["status"] != Status.IN_REVIEW:
        raise Conflict(f"only a campaign in review can be reviewed (this one is {row['status']})")
    member_id = UUID(ctx.actor.id)
    refuse_self_approval(decision, campaigns.authors(row), str(member_id))
    reviewer = await members.get(ctx, member_id)
    if not reviewer["active"]:  # its keys stop working; one cached by another process may not yet
        raise Conflict("a deactivated member cannot review")
    counting = [
        Approval(str(r["member_id"]), r["review_group"]) for r in await ctx.campaign_reviews.counting(campaign_id)
    ]
    counts = decision is Decision.APPROVE and all(a.member_id != str(member_id) for a in counting)
    if decision is Decision.APPROVE:
        after = tally([*counting, Approval(str(member_id), reviewer["review_group"])])
    else:
        after = tally(a for a in counting if a.member_id != str(member_id))
    values: dict[str, Any] = {"approvals": after.approvals, "review_groups": after.review_groups}
    approved = decision is Decision.APPROVE and after.clears(row["required_approvals"], row["required_review_groups"])
    if approved:
        values |= {"status": Status.APPROVED.value, "approved_at": ctx.now}
    elif decision is not Decision.APPROVE:
        values |= {"status": Status.DRAFT.value, "required_approvals": None, "required_review_groups": None}
    # the campaign's compare-and-set first: of two concurrent reviews, the second runs again on a fresh read
    updated = await ctx.campaigns.update(campaign_id, row["version"], {**values, **ctx.audit_change()})
    if updated is None:
        raise lost_update(if_match)
    if decision is not Decision.APPROVE:
        await ctx.campaign_reviews.withdraw(campaign_id, ctx.now, member_id=member_id)
    recorded = await ctx.campaign_reviews.add(
        {
            "id": new_id(),
            "campaign_id": campaign_id,
            "member_id": member_id,
            "decision": decision.value,
            "comment": comment,
            "review_group": reviewer["review_group"],
            "counts": counts,
            "withdrawn_at": None,
            "created_at": ctx.now,
        }
    )
    await events.record(ctx, types.CAMPAIGN_REVIEWED, ReviewRead.model_validate(recorded), resource_id=campaign_id)
    answer = campaigns.shown(updated, await campaigns.requirements(ctx))
    if approved:
        await events.record(ctx, types.CAMPAIGN_APPROVED, CampaignRead.model_validate(answer))
    return answer


async def history(ctx: Context, campaign_id: UUID, *, sort: Sort, cursor: str | None, limit: int) -> Page[Row]:
    """Every review of the campaign, withdrawn ones and repeated approvals included."""
    await campaigns.get(ctx, campaign_id)
    return await ctx.campaign_reviews.history(campaign_id, sort=sort, cursor=cursor, limit=limit)
