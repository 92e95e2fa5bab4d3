"""The first-response SLA (the 5-minute rule): which leads it applies to, when their first response
is due, what counts as a response, and how a response is judged. Time is passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.workspace.calendar import BusinessHours, add_working_time, working_seconds


class SlaStatus(StrEnum):
    PENDING = "pending"
    MET = "met"
    BREACHED = "breached"
    NOT_APPLICABLE = "not_applicable"


def closed(sla_status: str) -> dict[str, str]:
    """A lead leaving the open states (qualified, disqualified, bought) before a logged response:
    its pending first-response clock has nothing left to breach."""
    return {"sla_status": SlaStatus.NOT_APPLICABLE.value} if sla_status == SlaStatus.PENDING else {}


class Escalation(StrEnum):
    NONE = "none"
    REASSIGN = "reassign"  # to the next member of the lead's team
    NOTIFY_MANAGER = "notify_manager"  # event lead.sla_escalated naming the owner's manager


class ActivityType(StrEnum):
    CALL = "call"
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    SOCIAL = "social"
    MEETING = "meeting"
    NOTE = "note"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


# A first response reaches the lead: a note does not, nor anything the lead sent us.
RESPONSE_TYPES = frozenset(ActivityType) - {ActivityType.NOTE}
# Leads loaded from elsewhere carry history, not a request waiting for an answer.
EXEMPT_SOURCES = frozenset({"import"})


@dataclass(frozen=True)
class SlaPolicy:
    target_seconds: int
    sources: frozenset[str] | None  # None: every source but import
    stages: frozenset[str] | None  # None: every stage; `none` names leads with no stage yet
    hours: BusinessHours | None
    escalation: Escalation = Escalation.NONE


def applies(policy: SlaPolicy, source: str, stage: str | None) -> bool:
    """Whether the SLA applies to a lead captured now (`stage` None: no stage yet, listed as `none`)."""
    if policy.sources is None:
        if source in EXEMPT_SOURCES:
            return False
    elif source not in policy.sources:
        return False
    return policy.stages is None or ("none" if stage is None else stage) in policy.stages


def due_at(policy: SlaPolicy, created_at: datetime) -> datetime:
    """When the first response is due: the target in working time after capture (never before it)."""
    return add_working_time(policy.hours, created_at, policy.target_seconds)


def is_response(activity_type: str, direction: str, automated: bool, member_id: object | None) -> bool:
    """An outbound call, email, SMS, WhatsApp, social message or meeting logged by a member;
    automated messages (auto-replies, sequence emails) never count."""
    return (
        not automated and member_id is not None and direction == Direction.OUTBOUND and activity_type in RESPONSE_TYPES
    )


@dataclass(frozen=True)
class Response:
    responded_at: datetime
    seconds: float  # working time from capture to the response
    status: SlaStatus


def judge(
    policy: SlaPolicy, status: SlaStatus, created_at: datetime, due: datetime | None, responded_at: datetime
) -> Response:
    """The first response's measure. A response logged as earlier than the capture counts at the
    capture. A breach already recorded stays a breach; a pending SLA is met when the response came
    by the deadline. Leads the SLA does not apply to are measured all the same (reports)."""
    responded_at = max(responded_at, created_at)
    seconds = working_seconds(policy.hours, created_at, responded_at)
    if status == SlaStatus.PENDING and due is not None:
        status = SlaStatus.MET if responded_at <= due else SlaStatus.BREACHED
    return Response(responded_at, seconds, status)


# Response-time buckets of the speed-to-lead report: (name, upper bound in seconds).
BUCKETS: tuple[tuple[str, float], ...] = (
    ("under_5m", 5 * 60),
    ("5m_30m", 30 * 60),
    ("30m_60m", 60 * 60),
    ("1h_24h", 24 * 3600),
    ("over_24h", float("inf")),
)


def bucket(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for name, upper in BUCKETS:
        if seconds < upper:
            return name
    return BUCKETS[-1][0]
