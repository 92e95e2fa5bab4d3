"""Version 1 of the public API: every resource router, mounted under /v1."""

from fastapi import APIRouter

from app.routers.v1.analytics import analytics, reports
from app.routers.v1.customers import (
    customer_view,
    imports,
    integrations,
    loyalty,
    orders,
    records,
    segments,
    service_records,
)
from app.routers.v1.events import events, jobs, webhooks
from app.routers.v1.leads import activities, custom_fields, engagements, forms, leads, teams
from app.routers.v1.workspace import api_keys, members, settings, workspace

PREFIX = "/v1"
# Order matters for speed: routes are matched in this order, so the public capture path goes first.
ROUTERS: tuple[APIRouter, ...] = (
    forms.public_router,
    engagements.tracking_router,
    workspace.router,
    members.router,
    api_keys.router,
    settings.router,
    events.router,
    webhooks.router,
    jobs.router,
    leads.router,
    engagements.router,
    custom_fields.router,
    forms.router,
    teams.router,
    activities.router,
    reports.router,
    records.accounts,
    records.contacts,
    records.opportunities,
    records.task_routes,
    records.contact_timeline,
    loyalty.router,
    segments.router,
    service_records.tickets,
    service_records.contracts,
    service_records.quotes,
    service_records.invoices,
    service_records.payments,
    customer_view.router,
    analytics.router,
    analytics.costs,
    orders.router,
    orders.customer_router,
    orders.product_routes,
    orders.rates_router,
    integrations.router,
    integrations.webhook_router,
    imports.router,
    imports.export_router,
)
