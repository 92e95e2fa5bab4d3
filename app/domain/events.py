"""Event types: `<resource>.<past_tense_verb>`; a few notifications name what they announce."""

from __future__ import annotations

API_VERSION = "2026-11-27"

WORKSPACE_UPDATED = "workspace.updated"
MEMBER_CREATED = "member.created"
MEMBER_UPDATED = "member.updated"
API_KEY_CREATED = "api_key.created"
API_KEY_REVOKED = "api_key.revoked"
SETTINGS_UPDATED = "settings.updated"
WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
WEBHOOK_TEST = "webhook.test"
LEAD_CREATED = "lead.created"
LEAD_UPDATED = "lead.updated"
LEAD_ARCHIVED = "lead.archived"
LEAD_SCORE_CHANGED = "lead.score_changed"  # only when the score crosses a threshold
LEAD_TEMPERATURE_CHANGED = "lead.temperature_changed"
LEAD_STAGE_CHANGED = "lead.stage_changed"
LEAD_ASSIGNED = "lead.assigned"
LEAD_FIRST_RESPONDED = "lead.first_responded"
LEAD_SLA_BREACHED = "lead.sla_breached"
LEAD_SLA_ESCALATED = "lead.sla_escalated"
TEAM_CREATED = "team.created"
TEAM_UPDATED = "team.updated"
TEAM_DELETED = "team.deleted"
ACTIVITY_CREATED = "activity.created"
LEAD_MERGED = "lead.merged"
LEAD_DUPLICATES_FOUND = "lead.duplicates_found"
LEAD_QUALIFIED = "lead.qualified"
LEAD_DISQUALIFIED = "lead.disqualified"
LEAD_REACTIVATED = "lead.reactivated"
ACCOUNT_CREATED = "account.created"
ACCOUNT_UPDATED = "account.updated"
ACCOUNT_ARCHIVED = "account.archived"
CONTACT_CREATED = "contact.created"
CONTACT_UPDATED = "contact.updated"
CONTACT_ARCHIVED = "contact.archived"
OPPORTUNITY_CREATED = "opportunity.created"
OPPORTUNITY_UPDATED = "opportunity.updated"
OPPORTUNITY_ARCHIVED = "opportunity.archived"
OPPORTUNITY_WON = "opportunity.won"
OPPORTUNITY_LOST = "opportunity.lost"
TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_COMPLETED = "task.completed"
TASK_DUE = "task.due"
FORM_SUBMISSION_RECEIVED = "form.submission_received"
FORM_SUBMISSION_SPAM = "form.submission_spam"
JOB_SUCCEEDED = "job.succeeded"
JOB_FAILED = "job.failed"

# Fields that change on every update and say nothing about what changed.
_BOOKKEEPING = frozenset({"version", "updated_at", "updated_by"})


def previous_attributes(before: dict[str, object], after: dict[str, object]) -> dict[str, object]:
    """What an update changed, with the values it had before (bookkeeping fields left out)."""
    return {k: before.get(k) for k, v in after.items() if k not in _BOOKKEEPING and before.get(k) != v}
