"""Event types: `<resource>.<past_tense_verb>`; a few notifications name what they announce."""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.workspace.api_keys import ADMIN, RESOURCES, allows

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
# the score reached the MQL threshold where marketing accepts MQLs: the lead waits for `stage: mql`
LEAD_MQL_CANDIDATE_FLAGGED = "lead.mql_candidate_flagged"
LEAD_ASSIGNED = "lead.assigned"
LEAD_FIRST_RESPONDED = "lead.first_responded"
LEAD_SLA_BREACHED = "lead.sla_breached"
LEAD_SLA_ESCALATED = "lead.sla_escalated"
TEAM_CREATED = "team.created"
TEAM_UPDATED = "team.updated"
TEAM_DELETED = "team.deleted"
ACTIVITY_CREATED = "activity.created"
LEAD_MERGED = "lead.merged"
LEAD_UNMERGED = "lead.unmerged"  # an automatic merge undone
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
CONTACT_LOYALTY_CHANGED = "contact.loyalty_changed"
CONTACT_REFERRAL_CONVERTED = "contact.referral_converted"  # a person the contact referred converted
ACQUISITION_COST_CREATED = "acquisition_cost.created"
ACQUISITION_COST_UPDATED = "acquisition_cost.updated"
ACQUISITION_COST_ARCHIVED = "acquisition_cost.archived"
TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
TICKET_ARCHIVED = "ticket.archived"
CONTRACT_CREATED = "contract.created"
CONTRACT_UPDATED = "contract.updated"
CONTRACT_ARCHIVED = "contract.archived"
QUOTE_CREATED = "quote.created"
QUOTE_UPDATED = "quote.updated"
QUOTE_ARCHIVED = "quote.archived"
INVOICE_CREATED = "invoice.created"
INVOICE_UPDATED = "invoice.updated"
INVOICE_ARCHIVED = "invoice.archived"
PAYMENT_CREATED = "payment.created"
PAYMENT_UPDATED = "payment.updated"
PAYMENT_VOIDED = "payment.voided"
SEGMENT_CREATED = "segment.created"
SEGMENT_UPDATED = "segment.updated"
SEGMENT_ARCHIVED = "segment.archived"
CUSTOMER_CREATED = "customer.created"
CUSTOMER_CONVERTED = "customer.converted"
ORDER_CREATED = "order.created"
ORDER_UPDATED = "order.updated"
ORDER_REFUNDED = "order.refunded"
PRODUCT_CREATED = "product.created"
PRODUCT_UPDATED = "product.updated"
PRODUCT_ARCHIVED = "product.archived"
EXCHANGE_RATE_CREATED = "exchange_rate.created"
EXCHANGE_RATE_UPDATED = "exchange_rate.updated"
ANALYTICS_REFRESHED = "analytics.refreshed"
CUSTOMER_SEGMENT_CHANGED = "customer.segment_changed"
CUSTOMER_CHURN_RISK_RAISED = "customer.churn_risk_raised"
CUSTOMER_RESCUED = "customer.rescued"
CUSTOMER_CHURNED = "customer.churned"
IMPORT_COMPLETED = "import.completed"
IMPORT_FAILED = "import.failed"
INTEGRATION_CREATED = "integration.created"
INTEGRATION_UPDATED = "integration.updated"
INTEGRATION_ARCHIVED = "integration.archived"
INTEGRATION_PRIVACY_REQUEST = "integration.privacy_request"
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
CHANNEL_CREATED = "channel.created"
CHANNEL_UPDATED = "channel.updated"
CHANNEL_ARCHIVED = "channel.archived"
TEMPLATE_CREATED = "template.created"
TEMPLATE_UPDATED = "template.updated"
TEMPLATE_ARCHIVED = "template.archived"
MESSAGE_QUEUED = "message.queued"
MESSAGE_SENT = "message.sent"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_FAILED = "message.failed"
MESSAGE_BOUNCED = "message.bounced"
MESSAGE_BLOCKED = "message.blocked"
MESSAGE_OPENED = "message.opened"
MESSAGE_CLICKED = "message.clicked"
MESSAGE_REPLIED = "message.replied"
CONSENT_UPDATED = "consent.updated"
SUPPRESSION_CREATED = "suppression.created"
SUPPRESSION_DELETED = "suppression.deleted"
CONTACT_SEGMENT_ENTERED = "contact.segment_entered"
CONTACT_SEGMENT_EXITED = "contact.segment_exited"
JOURNEY_ENROLLED = "journey.enrolled"
JOURNEY_EXITED = "journey.exited"
JOURNEY_COMPLETED = "journey.completed"
JOURNEY_NOTIFIED = "journey.notified"
JOURNEY_SUBMITTED = "journey.submitted"  # its draft, for review
JOURNEY_REVIEWED = "journey.reviewed"  # every review of a draft; `resource_id` is the journey
JOURNEY_APPROVED = "journey.approved"  # its draft
CAMPAIGN_SUBMITTED = "campaign.submitted"
CAMPAIGN_REVIEWED = "campaign.reviewed"  # every review; `resource_id` is the campaign
CAMPAIGN_APPROVED = "campaign.approved"
CAMPAIGN_LAUNCHED = "campaign.launched"
CAMPAIGN_PAUSED = "campaign.paused"  # by a person or by its pilot (`pause_reason` has the figures)
CAMPAIGN_SENT = "campaign.sent"
# A scheduled digest went out (`data`: the figures); `report` names the resource `reports` by the rule.
REPORT_DELIVERED = "report.delivered"
# A schedule's digest could not be prepared and the schedule paused (`data`: the schedule).
REPORT_FAILED = "report.failed"
# A privacy erasure finished (`data`: the request's id and the rows it changed per table, nothing
# about the person). `erasure` names no resource: only `admin` keys read it.
ERASURE_COMPLETED = "erasure.completed"

# Who may read an event. The part of the type before the dot names the resource, and that
# resource's read scope applies: `lead.created` needs `leads:read`, `order.refunded` needs
# `orders:read`. This table holds every exception, by prefix, and is the only place they live.
# Workspace-level types (configuration, keys, endpoints, shop connections, forms) need `admin`.
EVENT_SCOPE_EXCEPTIONS: dict[str, str | tuple[str, ...]] = {
    "workspace": ADMIN,
    "settings": ADMIN,
    "api_key": ADMIN,
    "webhook_endpoint": ADMIN,
    "integration": ADMIN,
    "erasure": ADMIN,  # privacy requests are admin-only
    "form": ADMIN,  # defining forms is admin-only; a submission carries what a stranger typed
    # An import belongs to the entity it imports (leads, contacts or orders), which its type does
    # not name; `GET /v1/imports/{id}` answers with that entity's read scope.
    "import": ADMIN,
    "webhook": "webhooks:read",  # webhook.test: delivered only to its endpoint
    "customer": "contacts:read",  # a shop's customers are contacts
    "segment": "contacts:read",  # saved contact filters live under /v1/segments with contacts:* scopes
    "team": "members:read",
    "activity": "leads:read",  # /v1/activities is read with leads:read
    "opportunity": "opportunities:read",
    "analytics": "analytics:read",
    "acquisition_cost": "analytics:read",  # /v1/acquisition-costs is part of analytics
    "channel": ADMIN,  # channels are configured by admins
    # A consent belongs to a lead or a contact, which its type does not name: both read scopes.
    "consent": ("leads:read", "contacts:read"),
    # A message shows its recipient and content (as GET /v1/messages/{id} needs the person's scope).
    "message": ("messages:read", "leads:read", "contacts:read"),
    # An enrolment (and a notify step's event) names its lead or contact.
    "journey": ("journeys:read", "leads:read", "contacts:read"),
}


def required_scopes(event_type: str) -> tuple[str, ...]:
    """The scopes a key needs, all of them, to read events of this type. A prefix that names no
    resource and is no exception needs `admin`: a new type is hidden until someone decides who
    may read it."""
    prefix = event_type.partition(".")[0]
    if prefix in EVENT_SCOPE_EXCEPTIONS:
        needed = EVENT_SCOPE_EXCEPTIONS[prefix]
        return needed if isinstance(needed, tuple) else (needed,)
    resource = f"{prefix}s"
    return (f"{resource}:read" if resource in RESOURCES else ADMIN,)


def required_scope(event_type: str) -> str:
    """`required_scopes` as a key's owner reads it in an error: `'leads:read' and 'contacts:read'`."""
    return "' and '".join(required_scopes(event_type))


def may_read(granted: Iterable[str], event_type: str) -> bool:
    scopes = frozenset(granted)
    return all(allows(scopes, scope) for scope in required_scopes(event_type))


def readable(granted: Iterable[str], event_types: Iterable[str]) -> list[str]:
    """The types among `event_types` that a key with `granted` scopes may read, in order."""
    scopes = frozenset(granted)
    return [t for t in event_types if may_read(scopes, t)]


# Fields that change on every update and say nothing about what changed.
_BOOKKEEPING = frozenset({"version", "updated_at", "updated_by"})


def previous_attributes(before: dict[str, object], after: dict[str, object]) -> dict[str, object]:
    """What an update changed, with the values it had before (bookkeeping fields left out)."""
    return {k: before.get(k) for k, v in after.items() if k not in _BOOKKEEPING and before.get(k) != v}
