"""Reviews of a campaign: who may review it, which approvals count, and when it is approved."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import Conflict


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


class SelfReview(Conflict):
    """The author of a campaign or of a journey's draft (or a contributor to it) approving it:
    another member must."""

    slug = "self-review"
    title = "Self-review"


class MemberKeyRequired(Conflict):
    """A review is a member's decision: a key not bound to a member cannot make one. Not a 403:
    the key may hold the scope; what is missing is the person behind it."""

    slug = "member-key-required"
    title = "Member key required"


@dataclass(frozen=True)
class Approval:
    """An approval that counts: its member and the member's review group when they approved."""

    member_id: str
    review_group: str | None


@dataclass(frozen=True)
class Tally:
    approvals: int  # members whose approval counts
    review_groups: int  # distinct review groups among them, whatever their case (members without one add none)

    def clears(self, required: int, required_groups: int) -> bool:
        return self.approvals >= required and self.review_groups >= required_groups


def approvals_lacking(*, approvals: int, review_groups: int, required: int, required_groups: int) -> list[str]:
    """What approvals still lack, in words: `2 more approvals`, `approvals from 1 more review group`."""
    lacks: list[str] = []
    if required > approvals:
        more = required - approvals
        lacks.append(f"{more} more approval{'s' if more > 1 else ''}")
    if required_groups > review_groups:
        more = required_groups - review_groups
        lacks.append(f"approvals from {more} more review group{'s' if more > 1 else ''}")
    return lacks


def tally(approvals: Iterable[Approval]) -> Tally:
    """One member counts once, whatever they approved twice."""
    members: dict[str, str | None] = {}
    for approval in approvals:
        members.setdefault(approval.member_id, approval.review_group)
    groups = {group.casefold() for group in members.values() if group is not None}
    return Tally(len(members), len(groups))


def refuse_self_approval(
    decision: Decision, authors: Collection[str], member_id: str, *, reviewed: str = "campaign"
) -> None:
    """`authors`: the author of what is `reviewed` (a campaign, a journey's draft) and every member
    who changed what is reviewed or submitted it; none of them may approve it."""
    if decision is Decision.APPROVE and member_id in authors:
        raise SelfReview(
            f"a member who wrote, changed or submitted a {reviewed} cannot approve it: another member must"
        )
