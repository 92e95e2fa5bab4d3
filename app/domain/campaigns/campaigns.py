"""A campaign's definition and its way to launch: what a draft may hold, what submitting it for
review needs, which edits withdraw the approvals it has, and what launch still lacks."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain import conditions, money
from app.domain.campaigns.reviews import approvals_lacking
from app.domain.errors import ErrorList
from app.domain.leads.scoring import EngagementType


class Status(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    # set by sending: launched, a pilot running, the rest sending, done, held
    SCHEDULED = "scheduled"
    PILOTING = "piloting"
    SENDING = "sending"
    SENT = "sent"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


# A campaign may be edited until it is launched; cancelling is final.
EDITABLE = frozenset({Status.DRAFT, Status.IN_REVIEW, Status.APPROVED})
# Cancelling a launched campaign stops it handing out messages (those queued already still go).
CANCELLABLE = frozenset(
    {Status.DRAFT, Status.IN_REVIEW, Status.APPROVED, Status.SCHEDULED, Status.PILOTING, Status.SENDING, Status.PAUSED}
)
# What is sent, to whom, when and how: a change to any of these withdraws every approval (the
# reviewers approved something else) and returns the campaign to draft. `name`, `goal`,
# `attribution_days` and `cost` only label and measure the campaign.
REVIEWED_FIELDS = ("channel", "audience", "variants", "holdout_percent", "pilot", "send_at", "utm")
DEFINITION_FIELDS = (
    "name", "channel", "audience", "variants", "holdout_percent", "pilot", "send_at", "goal",
    "attribution_days", "cost", "utm",
)  # fmt: skip

HOLDOUT = "holdout"  # the control group's arm: no variant may be called so
SEGMENTS_ARE_CONTACTS = "saved segments are contact segments: a lead audience may use only conditions"


def check_audience(audience: Mapping[str, Any], errors: ErrorList) -> dict[str, Any] | None:
    """The audience in canonical form (its conditions in the journeys' language), or None with its
    problems added to `errors`, each naming its path (`audience.conditions.all.0.field`)."""
    before = len(errors.errors)
    kind = audience["type"]
    if kind == "leads":
        if audience.get("segment_id") is not None:
            errors.add("audience.segment_id", SEGMENTS_ARE_CONTACTS)
        if audience.get("exclude_segment_ids"):
            errors.add("audience.exclude_segment_ids", SEGMENTS_ARE_CONTACTS)
    excluded = [str(s) for s in audience.get("exclude_segment_ids") or []]
    for index, segment_id in enumerate(excluded):
        if segment_id in excluded[:index]:
            errors.add(f"audience.exclude_segment_ids.{index}", "this segment is listed already")
        elif audience.get("segment_id") is not None and segment_id == str(audience["segment_id"]):
            errors.add(f"audience.exclude_segment_ids.{index}", "the audience's own segment cannot be excluded")
    out: dict[str, Any] = {"type": kind}
    if audience.get("segment_id") is not None:
        out["segment_id"] = str(audience["segment_id"])
    if excluded:
        out["exclude_segment_ids"] = excluded
    if audience.get("conditions") is not None:
        parsed = conditions.parse_into(audience["conditions"], audience=kind, path="audience.conditions", errors=errors)
        if parsed is not None:
            out["conditions"] = conditions.dump(parsed)
    return out if len(errors.errors) == before else None


def check_variants(variants: Sequence[Mapping[str, Any]], errors: ErrorList) -> None:
    names: list[str] = []
    for index, variant in enumerate(variants):
        if variant["name"].casefold() == HOLDOUT:
            errors.add(f"variants.{index}.name", "`holdout` names the control group: give the variant another name")
        elif variant["name"].casefold() in names:
            errors.add(f"variants.{index}.name", "each variant needs a name of its own")
        names.append(variant["name"].casefold())


def check_goal(
    goal: Mapping[str, Any], event_types: Collection[str], errors: ErrorList, audience: str | None = None
) -> None:
    """A goal the report can count for the audience: `order.created`, `lead.qualified` (leads), an
    event about the person (`lead.*` for leads, `contact.*` for contacts), or an engagement type."""
    event = goal.get("event")
    if event is not None and event not in event_types:
        errors.add("goal.event", "no such event type (see the webhooks section of the API description)")
    elif event is not None and event != "order.created":
        about = event.partition(".")[0]
        allowed = {"leads": "lead", "contacts": "contact"}.get(audience or "")
        if allowed is None and about not in ("lead", "contact"):
            errors.add("goal.event", "give order.created, an engagement, or an event about a lead or a contact")
        elif allowed is not None and about != allowed:
            errors.add("goal.event", f"a {audience} audience converts by order.created, an engagement or a "
                                     f"{allowed}.* event (this one is not about the people it reaches)")  # fmt: skip
    if goal.get("engagement") is not None and goal["engagement"] not in EngagementType.__members__.values():
        errors.add("goal.engagement", f"one of {', '.join(EngagementType)}")


def cost_minor(cost: Mapping[str, Any], errors: ErrorList) -> int | None:
    """The cost in minor units of its currency (exact: no rounding of money)."""
    try:
        return money.to_minor(cost["amount"], cost["currency"])
    except ValueError as exc:
        errors.add("cost.amount", str(exc))
        return None


def submission_problems(values: Mapping[str, Any], now: datetime) -> ErrorList:
    """What a draft may leave open and a campaign under review may not."""
    errors = ErrorList()
    if values.get("audience") is None:
        errors.add("audience", "choose an audience before submitting")
    if not values.get("variants"):
        errors.add("variants", "add at least one variant before submitting")
    send_at = values.get("send_at") or {}
    if send_at.get("at") is not None and datetime.fromisoformat(send_at["at"]) <= now:
        errors.add("send_at.at", "is in the past")
    return errors


def missing(
    values: Mapping[str, Any], *, approvals: int, review_groups: int, required: int, required_groups: int
) -> list[str]:
    """What launch still lacks, in words: an audience, a variant, a review, approvals."""
    status = values["status"]
    if status == Status.CANCELLED:
        return ["cancelled: it will not be sent"]
    if status not in EDITABLE:
        return []
    lacks: list[str] = []
    if values.get("audience") is None:
        lacks.append("an audience")
    if not values.get("variants"):
        lacks.append("at least one variant")
    if status == Status.DRAFT:
        lacks.append("submission for review")
    return lacks + approvals_lacking(
        approvals=approvals, review_groups=review_groups, required=required, required_groups=required_groups
    )
