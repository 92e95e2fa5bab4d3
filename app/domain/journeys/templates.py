"""The built-in journeys, as journey documents (app/domain/journeys/document.py). Each function
returns a new JSON document with every `template_id` null: a journey made from one is a draft,
whose messages the workspace writes and chooses before publishing (`problems_for_publish` names
each send step still without its template). Names and task texts are plain English, to be edited."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

DAY = 86400
HOT = {"all": [{"field": "temperature", "op": "eq", "value": "hot"}]}
OPEN_LEAD = {"field": "status", "op": "in", "value": ["new", "contacted", "nurturing"]}


def _send(step_id: str, channel: str = "email", purpose: str = "marketing", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "send", "channel": channel, "template_id": None, "purpose": purpose, **extra}


def _wait(step_id: str, days: float, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "wait", "seconds": int(days * DAY), **extra}


def lead_nurture() -> dict[str, Any]:
    """Open cold leads and IAL leads (who only sought free information), found each morning:
    educational content by stage over three weeks; ends when the lead turns hot or is qualified."""
    return {
        "name": "Lead nurture",
        "description": "Educational content for cold and information-seeking leads, by stage, over three weeks.",
        "audience": "leads",
        "trigger": {
            "type": "schedule",
            "cron": "0 9 * * *",
            "conditions": {
                "all": [
                    OPEN_LEAD,
                    {
                        "any": [
                            {"field": "temperature", "op": "eq", "value": "cold"},
                            {"field": "stage", "op": "eq", "value": "ial"},
                        ]
                    },
                ]
            },
        },
        "steps": [
            {"id": "mark", "type": "update", "set": {"tags": {"add": ["nurture"]}, "fields": {"status": "nurturing"}}},
            {
                "id": "by_stage",
                "type": "branch",
                "conditions": {"all": [{"field": "stage", "op": "eq", "value": "ial"}]},
                "then": "guide",
                "else": "intro",
            },
            _send("intro", next="pause_1"),
            _send("guide"),
            _wait("pause_1", 7, business_hours=True),
            _send("case_study"),
            _wait("pause_2", 7, business_hours=True),
            _send("checklist"),
            _wait("pause_3", 7, business_hours=True),
            {
                "id": "ready",
                "type": "branch",
                "conditions": {
                    "any": [
                        {"field": "engagements.email_click", "op": "gte", "value": 2},
                        {"field": "engagements.content_download", "op": "gte", "value": 1},
                    ]
                },
                "then": "offer_call",
                "else": "done",
            },
            _send("offer_call", next="done"),
            {"id": "done", "type": "update", "set": {"tags": {"add": ["nurtured"], "remove": ["nurture"]}}},
        ],
        "exit_on": [
            {"event": "lead.qualified"},
            {"event": "lead.disqualified"},
            {"event": "lead.temperature_changed", "conditions": HOT},
            {"conditions": HOT},
        ],
        "reenrolment": {"type": "after_days", "days": 90},
    }


def speed_to_lead() -> dict[str, Any]:
    """A new web lead outside business hours: an immediate transactional acknowledgement (email, or
    SMS when there is no email) and a call task due at the first working minute."""
    return {
        "name": "Speed to lead (after hours)",
        "description": "Acknowledge a new web lead at once and have someone call at the first working minute.",
        "audience": "leads",
        "trigger": {
            "type": "event",
            "event": "lead.created",
            "conditions": {
                "all": [
                    {"field": "source", "op": "in", "value": ["web_form", "landing_page", "chat"]},
                    {"field": "in_business_hours", "op": "eq", "value": False},
                ]
            },
        },
        "steps": [
            {
                "id": "by_address",
                "type": "branch",
                "conditions": {"all": [{"field": "email", "op": "exists", "value": True}]},
                "then": "ack_email",
                "else": "ack_sms",
            },
            _send("ack_email", purpose="transactional", next="call"),
            _send("ack_sms", channel="sms", purpose="transactional"),
            {
                "id": "call",
                "type": "task",
                "title": "Call {{ person.full_name }}: new web lead after hours",
                "notes": "Acknowledged automatically; call at the start of the working day.",
                "due_in_seconds": 0,
                "business_hours": True,
            },
        ],
        "exit_on": [{"event": "lead.first_responded"}, {"event": "lead.qualified"}, {"event": "lead.disqualified"}],
        "reenrolment": {"type": "never"},
    }


def dormant_reengagement() -> dict[str, Any]:
    """Leads with no activity for 90 days (open ones, and those disqualified for no response): two
    messages, then reactivated with a task for the owner when they engaged, else disqualified for
    no response."""
    return {
        "name": "Dormant lead re-engagement",
        "description": "Leads with no activity for 90 days: a short sequence, then reactivate or disqualify.",
        "audience": "leads",
        "trigger": {
            "type": "schedule",
            "cron": "0 10 * * 1",
            "conditions": {
                "all": [
                    {"field": "last_activity_at", "op": "older_than_days", "value": 90},
                    {"field": "created_at", "op": "older_than_days", "value": 90},
                    {
                        "any": [
                            OPEN_LEAD,
                            {
                                "all": [
                                    {"field": "status", "op": "eq", "value": "disqualified"},
                                    {"field": "disqualification_reason", "op": "eq", "value": "no_response"},
                                ]
                            },
                        ]
                    },
                ]
            },
        },
        "steps": [
            _send("check_in"),
            _wait("pause_1", 4, business_hours=True),
            _send("still_interested"),
            _wait("pause_2", 5),
            {
                "id": "engaged",
                "type": "branch",
                "conditions": {
                    "any": [
                        {"field": "engagements.email_click", "op": "gte", "value": 1},
                        {"field": "engagements.email_reply", "op": "gte", "value": 1},
                        {"field": "engagements.form_submit", "op": "gte", "value": 1},
                    ]
                },
                "then": "reactivate",
                "else": "give_up",
            },
            {"id": "reactivate", "type": "reactivate"},
            {
                "id": "tell_owner",
                "type": "task",
                "title": "{{ person.full_name }} is back: follow up",
                "notes": "Engaged with the re-engagement sequence after 90 days without activity.",
                "due_in_seconds": 0,
                "business_hours": True,
            },
            {"id": "done", "type": "exit"},
            {
                "id": "give_up",
                "type": "disqualify",
                "reason": "no_response",
                "note": "No response to the re-engagement sequence after 90 days without activity.",
            },
        ],
        "exit_on": [{"event": "lead.qualified"}],
        "reenrolment": {"type": "after_days", "days": 180},
    }


def onboarding() -> dict[str, Any]:
    """A new customer: a welcome, then content for their group (VIP) or their interests."""
    return {
        "name": "Customer onboarding",
        "description": "Welcome new customers, then send content for their group or their interests.",
        "audience": "contacts",
        "trigger": {"type": "event", "event": "customer.converted"},
        "steps": [
            _send("welcome"),
            _wait("pause_1", 2),
            {
                "id": "by_group",
                "type": "branch",
                "conditions": {"all": [{"field": "tags", "op": "contains", "value": "vip"}]},
                "then": "vip_content",
                "else": "by_interest",
            },
            {
                "id": "by_interest",
                "type": "branch",
                "conditions": {"all": [{"field": "interests", "op": "exists", "value": True}]},
                "then": "interest_content",
                "else": "general_content",
            },
            _send("vip_content", next="pause_2"),
            _send("interest_content", next="pause_2"),
            _send("general_content"),
            _wait("pause_2", 5),
            _send("tips"),
        ],
        "exit_on": [{"event": "contact.archived"}],
        "reenrolment": {"type": "never"},
    }


def churn_rescue() -> dict[str, Any]:
    """A customer at churn risk: a task for the owner with the reasons and the CLV at risk, a
    personal offer (its template can list `person.recommendations`, the retention analytics'
    cross-sell), a reminder, then the outcome: the retention analytics judge the alert within
    their rescue window (`retention.rescue_window_days`, 60 by default) and announce
    `customer.rescued` (a purchase) or `customer.churned` (none); either ends the enrolment with
    that reason (`event:customer.rescued`, `event:customer.churned`), which the journey's
    statistics count. A workspace with a longer window lengthens the last wait."""
    return {
        "name": "Churn rescue",
        "description": (
            "A customer at churn risk: call, a personal offer (built from person.recommendations), a reminder, "
            "and the outcome recorded as rescued or churned."
        ),
        "audience": "contacts",
        "trigger": {"type": "event", "event": "customer.churn_risk_raised"},
        "steps": [
            {
                "id": "owner_call",
                "type": "task",
                "title": "Rescue {{ person.full_name }}: churn risk",
                "notes": (
                    "Churn risk ({{ event.reason }}, {{ event.churn_level }}): "
                    "{{ event.reasons | map(attribute='factor') | join(', ') }}. "
                    "CLV at risk: {{ event.clv_at_risk }} {{ event.currency }}."
                ),
                "due_in_seconds": DAY,
                "business_hours": True,
            },
            _send("offer"),
            _wait("pause_1", 3, business_hours=True),
            _send("reminder", channel="sms"),
            # the rescue window (60 days) and the nightly snapshot that judges it, with room to spare
            {"id": "outcome", "type": "wait", "seconds": 75 * DAY},
            {"id": "undecided", "type": "update", "set": {"tags": {"add": ["rescue_undecided"]}}},
        ],
        "exit_on": [{"event": "customer.rescued"}, {"event": "customer.churned"}],
        "reenrolment": {"type": "after_days", "days": 90},
    }


def inactive_reactivation() -> dict[str, Any]:
    """Customers the service marks inactive (no purchase within the active window,
    `customers.active_window_days`: `active` is false), looked for every Monday at 10:00: a
    win-back offer, a reminder by SMS to those who did not click, a task for the owner for those
    who did. A purchase ends it."""
    return {
        "name": "Inactive customer reactivation",
        "description": "Win back customers who stopped ordering: an offer, a reminder, a call for the interested.",
        "audience": "contacts",
        "trigger": {
            "type": "schedule",
            "cron": "0 10 * * 1",
            "conditions": {
                "all": [
                    {"field": "orders_count", "op": "gte", "value": 1},
                    {"field": "active", "op": "eq", "value": False},
                ]
            },
        },
        "steps": [
            _send("win_back"),
            _wait("pause_1", 7),
            {
                "id": "clicked",
                "type": "branch",
                "conditions": {"all": [{"field": "engagements.email_click", "op": "gte", "value": 1}]},
                "then": "owner_call",
                "else": "reminder",
            },
            {
                "id": "owner_call",
                "type": "task",
                "title": "{{ person.full_name }} looked at the win-back offer: call",
                "due_in_seconds": 0,
                "business_hours": True,
                "next": "done",
            },
            _send("reminder", channel="sms"),
            {"id": "done", "type": "exit"},
        ],
        "exit_on": [{"event": "order.created"}],
        "reenrolment": {"type": "after_days", "days": 180},
    }


BUILT_IN: Mapping[str, Callable[[], dict[str, Any]]] = {
    "lead_nurture": lead_nurture,
    "speed_to_lead": speed_to_lead,
    "dormant_reengagement": dormant_reengagement,
    "onboarding": onboarding,
    "churn_rescue": churn_rescue,
    "inactive_reactivation": inactive_reactivation,
}
