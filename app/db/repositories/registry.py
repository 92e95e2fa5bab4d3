"""Repositories bound to one workspace: the request context and the worker get them already
made for their workspace (`ctx.leads`, `ctx.contacts`), so a use case cannot name another workspace by
accident. Each is made on first use and kept while its holder lives (a request's Context: the
unit of work). The cross-workspace ones stay
apart and named as such (`SystemRepository`, the worker's queues)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING
from uuid import UUID

from app.db.repositories.analytics.analytics import AcquisitionCostRepository, AnalyticsRepository
from app.db.repositories.audit.audit import AuditRepository
from app.db.repositories.campaigns.campaigns import CampaignRepository, CampaignReviewRepository
from app.db.repositories.campaigns.sending import RecipientRepository
from app.db.repositories.customers.accounts import AccountRepository
from app.db.repositories.customers.contacts import ContactRepository
from app.db.repositories.customers.customer_view import CustomerViewRepository
from app.db.repositories.customers.exchange_rates import ExchangeRateRepository
from app.db.repositories.customers.imports import ImportRepository
from app.db.repositories.customers.integrations import IntegrationFailureRepository, IntegrationRepository
from app.db.repositories.customers.loyalty import LoyaltyRepository
from app.db.repositories.customers.opportunities import OpportunityRepository
from app.db.repositories.customers.orders import OrderRepository
from app.db.repositories.customers.products import ProductRepository
from app.db.repositories.customers.segments import SegmentRepository
from app.db.repositories.customers.service_records import (
    ContractRepository,
    InvoiceRepository,
    PaymentRepository,
    QuoteRepository,
    TicketRepository,
)
from app.db.repositories.customers.shop_customers import CustomerRepository
from app.db.repositories.events.events import EventRepository
from app.db.repositories.events.jobs import JobRepository
from app.db.repositories.events.timers import TimerRepository
from app.db.repositories.events.webhooks import DeliveryRepository, WebhookEndpointRepository
from app.db.repositories.idempotency import IdempotencyRepository
from app.db.repositories.journeys.journeys import EnrolmentRepository, JourneyRepository, JourneyReviewRepository
from app.db.repositories.leads.activities import ActivityRepository
from app.db.repositories.leads.custom_fields import CustomFieldRepository
from app.db.repositories.leads.duplicates import DuplicateCandidateRepository, LeadMergeRepository
from app.db.repositories.leads.engagements import EngagementRepository
from app.db.repositories.leads.forms import FormRepository, SubmissionRepository
from app.db.repositories.leads.leads import LeadRepository
from app.db.repositories.leads.routing import AssignmentRepository
from app.db.repositories.leads.state_changes import StateChangeRepository
from app.db.repositories.leads.tasks import TaskRepository
from app.db.repositories.leads.teams import TeamRepository
from app.db.repositories.leads.timeline import TimelineRepository
from app.db.repositories.outreach.channels import ChannelRepository
from app.db.repositories.outreach.consents import ConsentRepository
from app.db.repositories.outreach.messages import MessageRepository
from app.db.repositories.outreach.suppressions import SuppressionRepository
from app.db.repositories.outreach.templates import TemplateRepository
from app.db.repositories.privacy.people import PersonalDataRepository
from app.db.repositories.privacy.refs import PersonalRefRepository
from app.db.repositories.privacy.requests import PrivacyRequestRepository
from app.db.repositories.reports.digests import DigestRepository
from app.db.repositories.reports.filters import ReportFilterRepository
from app.db.repositories.reports.funnel import FunnelRepository
from app.db.repositories.reports.overview import OverviewRepository
from app.db.repositories.reports.pipeline import PipelineRepository
from app.db.repositories.reports.products import ProductReportRepository
from app.db.repositories.reports.sales_forecast import SalesForecastRepository
from app.db.repositories.reports.schedules import ReportScheduleRepository
from app.db.repositories.reports.speed_to_lead import SpeedToLeadRepository
from app.db.repositories.reports.team import TeamReportRepository
from app.db.repositories.reports.win_loss import WinLossRepository
from app.db.repositories.workspace.api_keys import ApiKeyRepository
from app.db.repositories.workspace.members import MemberRepository
from app.db.repositories.workspace.settings import SettingsRepository
from app.db.repositories.workspace.workspaces import WorkspaceRepository

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork


class BoundRepositories:
    """Every tenant repository, made for `self.workspace_id` in `self.uow`."""

    uow: UnitOfWork
    workspace_id: UUID

    @cached_property
    def workspaces(self) -> WorkspaceRepository:
        return WorkspaceRepository(self.uow, self.workspace_id)

    @cached_property
    def members(self) -> MemberRepository:
        return MemberRepository(self.uow, self.workspace_id)

    @cached_property
    def api_keys(self) -> ApiKeyRepository:
        return ApiKeyRepository(self.uow, self.workspace_id)

    @cached_property
    def settings(self) -> SettingsRepository:
        return SettingsRepository(self.uow, self.workspace_id)

    @cached_property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(self.uow, self.workspace_id)

    @cached_property
    def events(self) -> EventRepository:
        return EventRepository(self.uow, self.workspace_id)

    @cached_property
    def webhook_endpoints(self) -> WebhookEndpointRepository:
        return WebhookEndpointRepository(self.uow, self.workspace_id)

    @cached_property
    def deliveries(self) -> DeliveryRepository:
        return DeliveryRepository(self.uow, self.workspace_id)

    @cached_property
    def timers(self) -> TimerRepository:
        return TimerRepository(self.uow, self.workspace_id)

    @cached_property
    def jobs(self) -> JobRepository:
        return JobRepository(self.uow, self.workspace_id)

    @cached_property
    def leads(self) -> LeadRepository:
        return LeadRepository(self.uow, self.workspace_id)

    @cached_property
    def funnel_report(self) -> FunnelRepository:
        return FunnelRepository(self.uow, self.workspace_id)

    @cached_property
    def speed_to_lead_report(self) -> SpeedToLeadRepository:
        return SpeedToLeadRepository(self.uow, self.workspace_id)

    @cached_property
    def products_report(self) -> ProductReportRepository:
        return ProductReportRepository(self.uow, self.workspace_id)

    @cached_property
    def report_filters(self) -> ReportFilterRepository:
        return ReportFilterRepository(self.uow, self.workspace_id)

    @cached_property
    def overview_report(self) -> OverviewRepository:
        return OverviewRepository(self.uow, self.workspace_id)

    @cached_property
    def win_loss_report(self) -> WinLossRepository:
        return WinLossRepository(self.uow, self.workspace_id)

    @cached_property
    def team_report(self) -> TeamReportRepository:
        return TeamReportRepository(self.uow, self.workspace_id)

    @cached_property
    def pipeline_report(self) -> PipelineRepository:
        return PipelineRepository(self.uow, self.workspace_id)

    @cached_property
    def sales_forecast_report(self) -> SalesForecastRepository:
        return SalesForecastRepository(self.uow, self.workspace_id)

    @cached_property
    def custom_fields(self) -> CustomFieldRepository:
        return CustomFieldRepository(self.uow, self.workspace_id)

    @cached_property
    def forms(self) -> FormRepository:
        return FormRepository(self.uow, self.workspace_id)

    @cached_property
    def submissions(self) -> SubmissionRepository:
        return SubmissionRepository(self.uow, self.workspace_id)

    @cached_property
    def engagements(self) -> EngagementRepository:
        return EngagementRepository(self.uow, self.workspace_id)

    @cached_property
    def state_changes(self) -> StateChangeRepository:
        return StateChangeRepository(self.uow, self.workspace_id)

    @cached_property
    def teams(self) -> TeamRepository:
        return TeamRepository(self.uow, self.workspace_id)

    @cached_property
    def activities(self) -> ActivityRepository:
        return ActivityRepository(self.uow, self.workspace_id)

    @cached_property
    def assignments(self) -> AssignmentRepository:
        return AssignmentRepository(self.uow, self.workspace_id)

    @cached_property
    def accounts(self) -> AccountRepository:
        return AccountRepository(self.uow, self.workspace_id)

    @cached_property
    def contacts(self) -> ContactRepository:
        return ContactRepository(self.uow, self.workspace_id)

    @cached_property
    def opportunities(self) -> OpportunityRepository:
        return OpportunityRepository(self.uow, self.workspace_id)

    @cached_property
    def channels(self) -> ChannelRepository:
        return ChannelRepository(self.uow, self.workspace_id)

    @cached_property
    def tasks(self) -> TaskRepository:
        return TaskRepository(self.uow, self.workspace_id)

    @cached_property
    def duplicate_candidates(self) -> DuplicateCandidateRepository:
        return DuplicateCandidateRepository(self.uow, self.workspace_id)

    @cached_property
    def lead_merges(self) -> LeadMergeRepository:
        return LeadMergeRepository(self.uow, self.workspace_id)

    @cached_property
    def timeline(self) -> TimelineRepository:
        return TimelineRepository(self.uow, self.workspace_id)

    @cached_property
    def orders(self) -> OrderRepository:
        return OrderRepository(self.uow, self.workspace_id)

    @cached_property
    def imports(self) -> ImportRepository:
        return ImportRepository(self.uow, self.workspace_id)

    @cached_property
    def customer_view(self) -> CustomerViewRepository:
        return CustomerViewRepository(self.uow, self.workspace_id)

    @cached_property
    def tickets(self) -> TicketRepository:
        return TicketRepository(self.uow, self.workspace_id)

    @cached_property
    def contracts(self) -> ContractRepository:
        return ContractRepository(self.uow, self.workspace_id)

    @cached_property
    def quotes(self) -> QuoteRepository:
        return QuoteRepository(self.uow, self.workspace_id)

    @cached_property
    def invoices(self) -> InvoiceRepository:
        return InvoiceRepository(self.uow, self.workspace_id)

    @cached_property
    def payments(self) -> PaymentRepository:
        return PaymentRepository(self.uow, self.workspace_id)

    @cached_property
    def segments(self) -> SegmentRepository:
        return SegmentRepository(self.uow, self.workspace_id)

    @cached_property
    def acquisition_costs(self) -> AcquisitionCostRepository:
        return AcquisitionCostRepository(self.uow, self.workspace_id)

    @cached_property
    def analytics(self) -> AnalyticsRepository:
        return AnalyticsRepository(self.uow, self.workspace_id)

    @cached_property
    def loyalty(self) -> LoyaltyRepository:
        return LoyaltyRepository(self.uow, self.workspace_id)

    @cached_property
    def integrations(self) -> IntegrationRepository:
        return IntegrationRepository(self.uow, self.workspace_id)

    @cached_property
    def integration_failures(self) -> IntegrationFailureRepository:
        return IntegrationFailureRepository(self.uow, self.workspace_id)

    @cached_property
    def products(self) -> ProductRepository:
        return ProductRepository(self.uow, self.workspace_id)

    @cached_property
    def exchange_rates(self) -> ExchangeRateRepository:
        return ExchangeRateRepository(self.uow, self.workspace_id)

    @cached_property
    def customers(self) -> CustomerRepository:
        return CustomerRepository(self.uow, self.workspace_id)

    @cached_property
    def messages(self) -> MessageRepository:
        return MessageRepository(self.uow, self.workspace_id)

    @cached_property
    def templates(self) -> TemplateRepository:
        return TemplateRepository(self.uow, self.workspace_id)

    @cached_property
    def journeys(self) -> JourneyRepository:
        return JourneyRepository(self.uow, self.workspace_id)

    @cached_property
    def journey_reviews(self) -> JourneyReviewRepository:
        return JourneyReviewRepository(self.uow, self.workspace_id)

    @cached_property
    def enrolments(self) -> EnrolmentRepository:
        return EnrolmentRepository(self.uow, self.workspace_id)

    @cached_property
    def campaigns(self) -> CampaignRepository:
        return CampaignRepository(self.uow, self.workspace_id)

    @cached_property
    def campaign_reviews(self) -> CampaignReviewRepository:
        return CampaignReviewRepository(self.uow, self.workspace_id)

    @cached_property
    def campaign_recipients(self) -> RecipientRepository:
        return RecipientRepository(self.uow, self.workspace_id)

    @cached_property
    def consents(self) -> ConsentRepository:
        return ConsentRepository(self.uow, self.workspace_id)

    @cached_property
    def suppressions(self) -> SuppressionRepository:
        return SuppressionRepository(self.uow, self.workspace_id)

    @cached_property
    def report_schedules(self) -> ReportScheduleRepository:
        return ReportScheduleRepository(self.uow, self.workspace_id)

    @cached_property
    def report_digests(self) -> DigestRepository:
        return DigestRepository(self.uow, self.workspace_id)

    @cached_property
    def audit(self) -> AuditRepository:
        return AuditRepository(self.uow, self.workspace_id)

    @cached_property
    def personal_refs(self) -> PersonalRefRepository:
        return PersonalRefRepository(self.uow, self.workspace_id)

    @cached_property
    def personal_data(self) -> PersonalDataRepository:
        return PersonalDataRepository(self.uow, self.workspace_id)

    @cached_property
    def privacy_requests(self) -> PrivacyRequestRepository:
        return PrivacyRequestRepository(self.uow, self.workspace_id)


class WorkspaceRepositories(BoundRepositories):
    """The repositories of one workspace in a unit of work, outside a request context (jobs, the
    worker, tests)."""

    def __init__(self, uow: UnitOfWork, workspace_id: UUID) -> None:
        self.uow = uow
        self.workspace_id = workspace_id
