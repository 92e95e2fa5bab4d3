"""Version 1 of the public API: every resource router, mounted under /v1."""

from fastapi import APIRouter

from app.routers.v1.analytics import acquisition_costs, analytics, reports
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
from app.routers.v1.leads import activities, custom_fields, engagements, forms, leads, tasks, teams
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
    accounts.router,
    contacts.router,
    opportunities.router,
    tasks.router,
    loyalty.router,
    segments.router,
    tickets.router,
    contracts.router,
    quotes.router,
    invoices.router,
    payments.router,
    customer_view.router,
    analytics.router,
    acquisition_costs.router,
    orders.router,
    orders.customer_router,
    products.router,
    orders.rates_router,
    integrations.router,
    integrations.webhook_router,
    imports.router,
    imports.export_router,
)
