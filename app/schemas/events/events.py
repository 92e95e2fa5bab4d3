"""Events as subscribers and `/v1/events` see them, and the catalogue of their types."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, create_model

from app.domain.events import events as types
from app.schemas.analytics.acquisition_costs import AcquisitionCostRead
from app.schemas.analytics.analytics import ChurnAlertRead, ModelRead, SegmentChange
from app.schemas.campaigns.campaigns import CampaignRead, ReviewRead
from app.schemas.common import Actor, UtcDatetime
from app.schemas.customers.imports import ImportRead
from app.schemas.customers.integrations import IntegrationRead, PrivacyRequest
from app.schemas.customers.loyalty import LoyaltyEntryRead
from app.schemas.customers.orders import CustomerConverted, ExchangeRateRead, OrderRead, ProductRead
from app.schemas.customers.relationships import AccountRead, ContactRead, OpportunityRead, ReferralConverted, TaskRead
from app.schemas.customers.segments import SegmentMembership, SegmentRead
from app.schemas.customers.service_records import ContractRead, InvoiceRead, PaymentRead, QuoteRead, TicketRead
from app.schemas.events.jobs import JobRead
from app.schemas.events.webhooks import WebhookEndpointRead, WebhookTestData
from app.schemas.journeys.journeys import EnrolmentRead, JourneyNotified, JourneyRead, JourneyReviewRead
from app.schemas.leads.forms import SubmissionRead
from app.schemas.leads.leads import DuplicatesFound, LeadMerged, LeadRead, LeadUnmerged
from app.schemas.leads.routing import ActivityRead, AssignmentRead, SlaEscalation, TeamRead
from app.schemas.outreach.channels import ChannelRead
from app.schemas.outreach.consents import ConsentEvent
from app.schemas.outreach.messages import MessageRead
from app.schemas.outreach.suppressions import SuppressionRead
from app.schemas.outreach.templates import TemplateRead
from app.schemas.privacy.requests import ErasureCompleted
from app.schemas.reports.digests import ReportDelivered
from app.schemas.reports.schedules import ReportScheduleRead
from app.schemas.workspace.api_keys import ApiKeyRead
from app.schemas.workspace.members import MemberRead
from app.schemas.workspace.workspaces import WorkspaceRead


class SettingsChange(BaseModel):
    section: str
    values: dict[str, Any]


class EventRead(BaseModel):
    id: UUID
    type: str = Field(examples=["member.created"])
    occurred_at: UtcDatetime
    workspace_id: UUID
    api_version: str
    actor: Actor
    sequence: int | None = Field(
        description="Per-workspace, in commit order; null until the dispatcher has seen the event (within ~1 s)"
    )
    data: dict[str, Any] = Field(description='The resource as the API returns it; {"redacted": true} if erased')
    previous_attributes: dict[str, Any] | None = Field(description="On updates: the changed fields' old values")


# type -> schema of `data`: the event catalogue (OpenAPI `webhooks`).
CATALOGUE: dict[str, type[BaseModel]] = {
    types.WORKSPACE_UPDATED: WorkspaceRead,
    types.MEMBER_CREATED: MemberRead,
    types.MEMBER_UPDATED: MemberRead,
    types.API_KEY_CREATED: ApiKeyRead,
    types.API_KEY_REVOKED: ApiKeyRead,
    types.SETTINGS_UPDATED: SettingsChange,
    types.WEBHOOK_ENDPOINT_CREATED: WebhookEndpointRead,
    types.WEBHOOK_ENDPOINT_UPDATED: WebhookEndpointRead,
    types.WEBHOOK_ENDPOINT_DELETED: WebhookEndpointRead,
    types.WEBHOOK_ENDPOINT_DISABLED: WebhookEndpointRead,
    types.WEBHOOK_TEST: WebhookTestData,
    types.LEAD_CREATED: LeadRead,
    types.LEAD_UPDATED: LeadRead,
    types.LEAD_ARCHIVED: LeadRead,
    types.LEAD_SCORE_CHANGED: LeadRead,
    types.LEAD_TEMPERATURE_CHANGED: LeadRead,
    types.LEAD_STAGE_CHANGED: LeadRead,
    types.LEAD_MQL_CANDIDATE_FLAGGED: LeadRead,
    types.LEAD_ASSIGNED: AssignmentRead,
    types.LEAD_FIRST_RESPONDED: LeadRead,
    types.LEAD_SLA_BREACHED: LeadRead,
    types.LEAD_SLA_ESCALATED: SlaEscalation,
    types.TEAM_CREATED: TeamRead,
    types.TEAM_UPDATED: TeamRead,
    types.TEAM_DELETED: TeamRead,
    types.ACTIVITY_CREATED: ActivityRead,
    types.LEAD_MERGED: LeadMerged,
    types.LEAD_UNMERGED: LeadUnmerged,
    types.LEAD_DUPLICATES_FOUND: DuplicatesFound,
    types.LEAD_QUALIFIED: LeadRead,
    types.LEAD_DISQUALIFIED: LeadRead,
    types.LEAD_REACTIVATED: LeadRead,
    types.ACCOUNT_CREATED: AccountRead,
    types.ACCOUNT_UPDATED: AccountRead,
    types.ACCOUNT_ARCHIVED: AccountRead,
    types.CONTACT_CREATED: ContactRead,
    types.CONTACT_UPDATED: ContactRead,
    types.CONTACT_ARCHIVED: ContactRead,
    types.CONTACT_LOYALTY_CHANGED: LoyaltyEntryRead,
    types.CONTACT_REFERRAL_CONVERTED: ReferralConverted,
    types.ACQUISITION_COST_CREATED: AcquisitionCostRead,
    types.ACQUISITION_COST_UPDATED: AcquisitionCostRead,
    types.ACQUISITION_COST_ARCHIVED: AcquisitionCostRead,
    types.TICKET_CREATED: TicketRead,
    types.TICKET_UPDATED: TicketRead,
    types.TICKET_ARCHIVED: TicketRead,
    types.CONTRACT_CREATED: ContractRead,
    types.CONTRACT_UPDATED: ContractRead,
    types.CONTRACT_ARCHIVED: ContractRead,
    types.QUOTE_CREATED: QuoteRead,
    types.QUOTE_UPDATED: QuoteRead,
    types.QUOTE_ARCHIVED: QuoteRead,
    types.INVOICE_CREATED: InvoiceRead,
    types.INVOICE_UPDATED: InvoiceRead,
    types.INVOICE_ARCHIVED: InvoiceRead,
    types.PAYMENT_CREATED: PaymentRead,
    types.PAYMENT_UPDATED: PaymentRead,
    types.PAYMENT_VOIDED: PaymentRead,
    types.SEGMENT_CREATED: SegmentRead,
    types.SEGMENT_UPDATED: SegmentRead,
    types.SEGMENT_ARCHIVED: SegmentRead,
    types.OPPORTUNITY_CREATED: OpportunityRead,
    types.OPPORTUNITY_UPDATED: OpportunityRead,
    types.OPPORTUNITY_ARCHIVED: OpportunityRead,
    types.OPPORTUNITY_WON: OpportunityRead,
    types.OPPORTUNITY_LOST: OpportunityRead,
    types.TASK_CREATED: TaskRead,
    types.TASK_UPDATED: TaskRead,
    types.TASK_COMPLETED: TaskRead,
    types.TASK_DUE: TaskRead,
    types.FORM_SUBMISSION_RECEIVED: SubmissionRead,
    types.FORM_SUBMISSION_SPAM: SubmissionRead,
    types.JOB_SUCCEEDED: JobRead,
    types.JOB_FAILED: JobRead,
    types.CUSTOMER_CREATED: ContactRead,
    types.CUSTOMER_CONVERTED: CustomerConverted,
    types.ORDER_CREATED: OrderRead,
    types.ORDER_UPDATED: OrderRead,
    types.ORDER_REFUNDED: OrderRead,
    types.PRODUCT_CREATED: ProductRead,
    types.PRODUCT_UPDATED: ProductRead,
    types.PRODUCT_ARCHIVED: ProductRead,
    types.EXCHANGE_RATE_CREATED: ExchangeRateRead,
    types.EXCHANGE_RATE_UPDATED: ExchangeRateRead,
    types.ANALYTICS_REFRESHED: ModelRead,
    types.CUSTOMER_SEGMENT_CHANGED: SegmentChange,
    types.CUSTOMER_CHURN_RISK_RAISED: ChurnAlertRead,
    types.CUSTOMER_RESCUED: ChurnAlertRead,
    types.CUSTOMER_CHURNED: ChurnAlertRead,
    **{
        message_event: MessageRead
        for message_event in (
            types.MESSAGE_QUEUED,
            types.MESSAGE_BLOCKED,
            types.MESSAGE_SENT,
            types.MESSAGE_DELIVERED,
            types.MESSAGE_FAILED,
            types.MESSAGE_BOUNCED,
            types.MESSAGE_OPENED,
            types.MESSAGE_CLICKED,
            types.MESSAGE_REPLIED,
        )
    },
    types.IMPORT_COMPLETED: ImportRead,
    types.IMPORT_FAILED: ImportRead,
    types.INTEGRATION_CREATED: IntegrationRead,
    types.INTEGRATION_UPDATED: IntegrationRead,
    types.INTEGRATION_ARCHIVED: IntegrationRead,
    types.CHANNEL_CREATED: ChannelRead,
    types.CHANNEL_UPDATED: ChannelRead,
    types.CHANNEL_ARCHIVED: ChannelRead,
    types.INTEGRATION_PRIVACY_REQUEST: PrivacyRequest,
    **dict.fromkeys((types.TEMPLATE_CREATED, types.TEMPLATE_UPDATED, types.TEMPLATE_ARCHIVED), TemplateRead),
    types.CONSENT_UPDATED: ConsentEvent,
    types.SUPPRESSION_CREATED: SuppressionRead,
    types.SUPPRESSION_DELETED: SuppressionRead,
    **dict.fromkeys((types.JOURNEY_ENROLLED, types.JOURNEY_EXITED, types.JOURNEY_COMPLETED), EnrolmentRead),
    types.JOURNEY_NOTIFIED: JourneyNotified,
    types.JOURNEY_SUBMITTED: JourneyRead,
    types.JOURNEY_REVIEWED: JourneyReviewRead,
    types.JOURNEY_APPROVED: JourneyRead,
    **dict.fromkeys((types.CONTACT_SEGMENT_ENTERED, types.CONTACT_SEGMENT_EXITED), SegmentMembership),
    types.CAMPAIGN_SUBMITTED: CampaignRead,
    types.CAMPAIGN_REVIEWED: ReviewRead,
    types.CAMPAIGN_APPROVED: CampaignRead,
    types.CAMPAIGN_LAUNCHED: CampaignRead,
    types.CAMPAIGN_PAUSED: CampaignRead,
    types.CAMPAIGN_SENT: CampaignRead,
    types.REPORT_DELIVERED: ReportDelivered,
    types.REPORT_FAILED: ReportScheduleRead,
    types.ERASURE_COMPLETED: ErasureCompleted,
}


def envelope(event_type: str) -> type[BaseModel]:
    """The delivered body for one event type: the envelope with its typed `data`."""
    name = "".join(part.title() for part in event_type.replace(".", "_").split("_")) + "Event"
    return create_model(  # type: ignore[call-overload,no-any-return]
        name,
        __base__=EventRead,
        type=(str, Field(default=event_type, json_schema_extra={"const": event_type})),
        data=(CATALOGUE[event_type], ...),
    )
