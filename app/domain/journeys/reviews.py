"""The review of a journey's draft: when publishing needs one, and what publishing still lacks.

A draft that sends marketing (a `send` step with purpose `marketing`) is published only once
approved, when the workspace's `campaigns` settings say approvals apply to journeys. Who may
approve and how approvals count are the campaigns' rules (`app/domain/campaigns/reviews.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from app.domain.campaigns.reviews import approvals_lacking
from app.domain.errors import Conflict
from app.domain.journeys.document import StepType
from app.domain.outreach.vocabulary import Purpose


class ReviewStatus(StrEnum):
    IN_REVIEW = "in_review"
    APPROVED = "approved"


class ApprovalRequired(Conflict):
    """Publishing a draft that needs approval before it is approved; `missing` names what it lacks."""

    slug = "approval-required"
    title = "Approval required"

    def __init__(self, detail: str, *, missing: list[str]) -> None:
        super().__init__(detail, extensions={"missing": missing})


def sends_marketing(steps: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a document's steps (as stored: canonical) send a marketing message anywhere."""
    return any(step.get("type") == StepType.SEND and step.get("purpose") == Purpose.MARKETING for step in steps)


def needs_approval(steps: Iterable[Mapping[str, Any]], *, apply_to_journeys: bool) -> bool:
    """Whether publishing a draft with these steps waits for its approval."""
    return apply_to_journeys and sends_marketing(steps)


def missing(
    status: str | None, *, approvals: int, review_groups: int, required: int, required_groups: int
) -> list[str]:
    """What an approval still lacks, in words: a submission, approvals, review groups ([] once approved)."""
    if status == ReviewStatus.APPROVED:
        return []
    lacks = ["submission for review"] if status is None else []
    return lacks + approvals_lacking(
        approvals=approvals, review_groups=review_groups, required=required, required_groups=required_groups
    )


def refuse_unapproved(status: str | None, lacks: list[str]) -> None:
    """Publishing a draft that needs approval and is not approved: 409 naming what it lacks."""
    if status != ReviewStatus.APPROVED:
        lacks = lacks or ["approval"]
        raise ApprovalRequired(
            f"this journey sends marketing: publishing it needs its approval ({', '.join(lacks)})", missing=lacks
        )
