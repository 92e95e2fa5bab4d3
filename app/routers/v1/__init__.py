"""Version 1 of the public API: every resource router, mounted under /v1."""

from fastapi import APIRouter

from app.routers.v1 import (
    activities,
    api_keys,
    custom_fields,
    engagements,
    events,
    forms,
    imports,
    integrations,
    jobs,
    leads,
    members,
    orders,
    records,
    reports,
    settings,
    teams,
    webhooks,
    workspace,
)

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
    orders.router,
    orders.customer_router,
    orders.product_routes,
    orders.rates_router,
    integrations.router,
    integrations.webhook_router,
    imports.router,
    imports.export_router,
)
