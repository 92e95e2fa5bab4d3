"""Version 1 of the public API: every resource router (their prefixes start with /v1)."""

from fastapi import APIRouter

from app.routers.v1.analytics import acquisition_costs, analytics
from app.routers.v1.audit import audit
from app.routers.v1.campaigns import campaigns
from app.routers.v1.customers import (
    accounts,
    contacts,
    contracts,
    customer_view,
    imports,
    integrations,
    invoices,
    loyalty,
    opportunities,
    orders,
    payments,
    products,
    quotes,
    segments,
    tickets,
)
from app.routers.v1.events import events, jobs, webhooks
from app.routers.v1.journeys import journeys
from app.routers.v1.leads import activities, custom_fields, engagements, forms, leads, tasks, teams
from app.routers.v1.outreach import channel_callbacks, channels, consents, messages, suppressions, templates
from app.routers.v1.privacy import requests as privacy_requests
from app.routers.v1.reports import (
    funnel,
    overview,
    pipeline,
    sales_forecast,
    schedules,
    speed_to_lead,
    team,
    win_loss,
)
from app.routers.v1.reports import products as product_report
from app.routers.v1.workspace import api_keys, calendar, members, settings, workspace

# Order matters for speed: the app matches a request against the routes in this order, so the
# public capture paths come first, then the records clients read and write most, and workspace
# administration (settings alone has three routes a section) last.
ROUTERS: tuple[APIRouter, ...] = (
    forms.public_router,
    engagements.tracking_router,
    messages.public_router,
    leads.router,
    engagements.router,
    activities.router,
    tasks.router,
    contacts.router,
    accounts.router,
    opportunities.router,
    orders.router,
    orders.customer_router,
    products.router,
    orders.rates_router,
    loyalty.router,
    segments.router,
    tickets.router,
    contracts.router,
    quotes.router,
    invoices.router,
    payments.router,
    customer_view.router,
    consents.router,
    suppressions.router,
    analytics.router,
    acquisition_costs.router,
    speed_to_lead.router,
    funnel.router,
    product_report.router,
    overview.router,
    win_loss.router,
    team.router,
    pipeline.router,
    sales_forecast.router,
    schedules.router,
    calendar.router,
    messages.router,
    integrations.webhook_router,
    channel_callbacks.router,
    integrations.router,
    imports.router,
    imports.export_router,
    forms.router,
    templates.router,
    journeys.router,
    journeys.enrolment_router,
    campaigns.router,
    custom_fields.router,
    teams.router,
    events.router,
    webhooks.router,
    jobs.router,
    workspace.router,
    members.router,
    api_keys.router,
    channels.router,
    settings.router,
    audit.router,
    privacy_requests.router,
)
