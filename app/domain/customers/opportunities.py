"""Opportunity pipeline: stages with default win probabilities, types, and how a deal closes."""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import Conflict, ErrorList


class OpportunityStage(StrEnum):
    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


class OpportunityType(StrEnum):
    NEW_BUSINESS = "new_business"
    UPSELL = "upsell"
    CROSS_SELL = "cross_sell"
    RENEWAL = "renewal"


DEFAULT_PROBABILITY = {
    OpportunityStage.PROSPECTING: 10,
    OpportunityStage.QUALIFICATION: 20,
    OpportunityStage.PROPOSAL: 50,
    OpportunityStage.NEGOTIATION: 75,
    OpportunityStage.WON: 100,
    OpportunityStage.LOST: 0,
}
CLOSED = frozenset({OpportunityStage.WON, OpportunityStage.LOST})
DEFAULT_WON_REASONS = ("price", "product_fit", "relationship", "timing", "other")
DEFAULT_LOST_REASONS = ("price", "lost_to_competitor", "no_budget", "no_decision", "product_fit", "timing", "other")


def check_stage_change(
    current: OpportunityStage,
    requested: OpportunityStage,
    reason: str | None,
    won_reasons: tuple[str, ...] | list[str],
    lost_reasons: tuple[str, ...] | list[str],
    errors: ErrorList,
) -> None:
    """A closed deal stays closed (reopen is a new opportunity); closing needs a listed reason."""
    if current in CLOSED and requested != current:
        raise Conflict(f"the opportunity is {current.value}; it cannot move to {requested.value}")
    if requested == current:
        return
    if requested == OpportunityStage.WON and reason not in won_reasons:
        errors.add("close_reason", f"give one of the won reasons: {', '.join(won_reasons)}")
    if requested == OpportunityStage.LOST and reason not in lost_reasons:
        errors.add("close_reason", f"give one of the lost reasons: {', '.join(lost_reasons)}")
