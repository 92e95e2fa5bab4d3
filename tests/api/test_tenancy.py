"""One workspace's key never sees or changes another workspace's data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from app.db.session import Database
from tests.conftest import Tenant, assert_problem, drain_dispatch


async def _member(tenant: Tenant, database: Database) -> str:
    member = (await tenant.post("/v1/members", json={"name": "Owned", "email": "owned@x.io"})).json()
    return f"/v1/members/{member['id']}"


async def _api_key(tenant: Tenant, database: Database) -> str:
    key = (await tenant.post("/v1/api-keys", json={"name": "k", "scopes": ["members:read"]})).json()
    return f"/v1/api-keys/{key['id']}"


async def _endpoint(tenant: Tenant, database: Database) -> str:
    endpoint = (await tenant.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/a"})).json()
    return f"/v1/webhook-endpoints/{endpoint['id']}"


async def _event(tenant: Tenant, database: Database) -> str:
    await _member(tenant, database)
    return f"/v1/events/{(await tenant.get('/v1/events')).json()['data'][0]['id']}"


async def _delivery(tenant: Tenant, database: Database) -> str:
    endpoint = await _endpoint(tenant, database)
    await tenant.post(f"{endpoint}/test")
    await drain_dispatch(database)
    delivery = (await tenant.get(f"{endpoint}/deliveries")).json()["data"][0]
    return f"{endpoint}/deliveries/{delivery['id']}"


async def _job(tenant: Tenant, database: Database) -> str:
    response = await tenant.post("/v1/events/redactions", json={"resource_id": "someone"})
    return str(response.headers["location"])


async def _audit_entry(tenant: Tenant, database: Database) -> str:
    await _member(tenant, database)
    return f"/v1/audit-log/{(await tenant.get('/v1/audit-log')).json()['data'][0]['id']}"


async def _privacy_export(tenant: Tenant, database: Database) -> str:
    lead = (await tenant.post("/v1/leads", json={"email": "private@x.io"})).json()
    return str((await tenant.post("/v1/privacy/exports", json={"lead_id": lead["id"]})).headers["location"])


async def _privacy_erasure(tenant: Tenant, database: Database) -> str:
    lead = (await tenant.post("/v1/leads", json={"email": "forget@x.io"})).json()
    body = {"lead_id": lead["id"], "reason": "asked"}
    return str((await tenant.post("/v1/privacy/erasures", json=body)).headers["location"])


async def _lead(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/leads", json={"email": "lead@x.io"})).json()
    return f"/v1/leads/{created['id']}"


async def _custom_field(tenant: Tenant, database: Database) -> str:
    created = (
        await tenant.post("/v1/custom-fields", json={"key": "budget", "label": "Budget", "type": "number"})
    ).json()
    return f"/v1/custom-fields/{created['id']}"


async def _form(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/forms", json={"name": "Contact"})).json()
    return f"/v1/forms/{created['id']}"


async def _team(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/teams", json={"name": "Sales"})).json()
    return f"/v1/teams/{created['id']}"


async def _activity(tenant: Tenant, database: Database) -> str:
    lead = (await tenant.post("/v1/leads", json={"email": "called@x.io"})).json()
    created = (await tenant.post("/v1/activities", json={"lead_id": lead["id"], "type": "note"})).json()
    return f"/v1/activities/{created['id']}"


async def _suppression(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/suppressions", json={"channel": "email", "address": "gone@x.io"})).json()
    return f"/v1/suppressions/{created['id']}"


async def _account(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/accounts", json={"name": "Acme"})).json()
    return f"/v1/accounts/{created['id']}"


async def _contact(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/contacts", json={"email": "c@x.io"})).json()
    return f"/v1/contacts/{created['id']}"


async def _opportunity(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/opportunities", json={"name": "Deal"})).json()
    return f"/v1/opportunities/{created['id']}"


async def _task(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/tasks", json={"title": "Call back"})).json()
    return f"/v1/tasks/{created['id']}"


async def _order(tenant: Tenant, database: Database) -> str:
    body = {
        "source": "shopify", "external_id": "o-1", "status": "paid", "currency": "USD", "total": "10.00",
        "placed_at": "2026-03-01T10:00:00Z", "source_updated_at": "2026-03-01T10:00:00Z",
        "customer": {"email": "buyer@x.io"}, "line_items": [{"sku": "S-1", "quantity": 1, "unit_price": "10.00"}],
    }  # fmt: skip
    [result] = (await tenant.post("/v1/orders/batch", json={"orders": [body]})).json()["results"]
    return f"/v1/orders/{result['id']}"


async def _product(tenant: Tenant, database: Database) -> str:
    created = (await tenant.post("/v1/products", json={"sku": "P-1", "price": "2.00"})).json()
    return f"/v1/products/{created['id']}"


async def _exchange_rate(tenant: Tenant, database: Database) -> str:
    created = await tenant.post(
        "/v1/exchange-rates", json={"currency": "EUR", "rate": "1.1", "effective_on": "2026-03-01"}
    )
    return f"/v1/exchange-rates/{created.json()['id']}"


async def _template(tenant: Tenant, database: Database) -> str:
    created = await tenant.post("/v1/templates", json={"name": "t", "channel": "sms", "body_text": "hi"})
    return f"/v1/templates/{created.json()['id']}"


async def _journey(tenant: Tenant, database: Database) -> str:
    document = {"name": "j", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "w", "type": "wait", "seconds": 60}]}  # fmt: skip
    created = (await tenant.post("/v1/journeys", json=document)).json()
    await tenant.post(f"/v1/journeys/{created['id']}/publish")
    return f"/v1/journeys/{created['id']}"


async def _campaign(tenant: Tenant, database: Database) -> str:
    template = (await _template(tenant, database)).rsplit("/", 1)[1]
    body = {"name": "c", "channel": "sms", "audience": {"type": "leads"},
            "variants": [{"name": "a", "template_id": template, "weight": 1}]}  # fmt: skip
    created = (await tenant.post("/v1/campaigns", json=body)).json()
    await tenant.post(f"/v1/campaigns/{created['id']}/submit")
    return f"/v1/campaigns/{created['id']}"


async def _report_schedule(tenant: Tenant, database: Database) -> str:
    body = {"name": "Weekly", "report": "funnel", "cadence": {"type": "daily", "at": "08:00"}, "emit_event": True}
    created = (await tenant.post("/v1/report-schedules", json=body)).json()
    return f"/v1/report-schedules/{created['id']}"


async def _enrolment(tenant: Tenant, database: Database) -> str:
    journey = await _journey(tenant, database)
    lead = await _lead(tenant, database)
    created = await tenant.post(f"{journey}/enrolments", json={"lead_id": lead.rsplit("/", 1)[1]})
    return f"/v1/enrolments/{created.json()['id']}"


async def _channel(tenant: Tenant, database: Database) -> str:
    settings = {"host": "mail.example.com", "port": 587, "security": "starttls", "from_email": "news@x.io"}
    created = await tenant.post("/v1/channels", json={"type": "email", "provider": "smtp", "name": "Mail",
                                                      "settings": settings})  # fmt: skip
    return f"/v1/channels/{created.json()['id']}"


async def _message(tenant: Tenant, database: Database) -> str:
    lead = (await tenant.post("/v1/leads", json={"email": "message@x.io"})).json()
    created = await tenant.post("/v1/messages", json={"lead_id": lead["id"], "channel": "email", "subject": "Hi",
                                                      "body_text": "Hello", "purpose": "transactional"})  # fmt: skip
    return f"/v1/messages/{created.json()['id']}"


async def _disqualified_lead(tenant: Tenant, database: Database) -> str:
    url = await _lead(tenant, database)
    await tenant.post(f"{url}/disqualify", json={"reason": "spam"})
    return url


# A CORS preflight carries no key by design: it answers from the form alone (tests/api/test_forms.py).
async def _integration(tenant: Tenant, database: Database) -> str:
    body = {"platform": "shopify", "shop_domain": "acme.myshopify.com", "webhook_secret": "s3cret-s3cret"}
    return f"/v1/integrations/{(await tenant.post('/v1/integrations', json=body)).json()['id']}"


async def _import(tenant: Tenant, database: Database) -> str:
    from app.config import Settings
    from app.worker import jobs

    response = await tenant.post(
        "/v1/imports", params={"entity": "leads"}, files={"file": ("a.csv", b"email\na@x.io\n", "text/csv")}
    )
    # applied now: a queued import left in the shared database would be run by a later test's worker
    while await jobs.run_due(database, Settings(database_url=database.settings.database_url)):
        pass
    return str(response.headers["location"])


async def _segment(tenant: Tenant, database: Database) -> str:
    response = await tenant.post("/v1/segments", json={"name": "VIPs", "filters": {"tag": "VIP"}})
    return str(response.headers["location"])


async def _record(tenant: Tenant, path: str, **body: object) -> str:
    response = await tenant.post(path, json=body)
    assert response.status_code == 201, response.text
    return f"{path}/{response.json()['id']}"


async def _acquisition_cost(tenant: Tenant, database: Database) -> str:
    return await _record(tenant, "/v1/acquisition-costs", channel="google", month="2026-01", spend="10.00")


async def _ticket(tenant: Tenant, database: Database) -> str:
    contact = await _contact(tenant, database)
    return await _record(tenant, "/v1/tickets", contact_id=contact.rsplit("/", 1)[1], subject="Help")


async def _contract(tenant: Tenant, database: Database) -> str:
    contact = await _contact(tenant, database)
    return await _record(tenant, "/v1/contracts", contact_id=contact.rsplit("/", 1)[1], name="Plan",
                         start_on="2026-01-01")  # fmt: skip


async def _quote(tenant: Tenant, database: Database) -> str:
    opportunity = await _opportunity(tenant, database)
    return await _record(tenant, "/v1/quotes", opportunity_id=opportunity.rsplit("/", 1)[1],
                         lines=[{"quantity": 1, "unit_price": "5.00"}])  # fmt: skip


async def _invoice(tenant: Tenant, database: Database) -> str:
    contact = await _contact(tenant, database)
    return await _record(tenant, "/v1/invoices", contact_id=contact.rsplit("/", 1)[1], amount_due="10.00")


async def _payment(tenant: Tenant, database: Database) -> str:
    invoice = await _invoice(tenant, database)
    return await _record(tenant, "/v1/payments", invoice_id=invoice.rsplit("/", 1)[1], amount="4.00")


# Routes without an API key: the form's CORS preflight, and shop webhooks (signed with the
# integration's own secret; tests/api/test_integrations.py checks another workspace's secret fails).
KEYLESS = {
    ("OPTIONS", "/v1/forms/{form_id}/submissions"),
    # signed tokens name the workspace: tested in tests/integration/test_email_messages.py and test_channels.py
    ("GET", "/t/c/{token}"),
    ("GET", "/t/o/{token}"),
    ("GET", "/u/{token}"),
    ("POST", "/u/{token}"),
    ("GET", "/confirm/{token}"),  # tests/integration/test_double_opt_in.py
    ("POST", "/confirm/{token}"),
    ("GET", "/v1/channel-callbacks/{channel_id}/{token}"),
    ("POST", "/v1/channel-callbacks/{channel_id}/{token}"),
    ("POST", "/v1/integrations/{integration_id}/shopify/webhooks"),
    ("POST", "/v1/integrations/{integration_id}/woocommerce/webhooks"),
}

# Every operation with an id in its path: how to make that resource (its URL), and a body for writes.
# A new route with an id must be added here (test_every_route_with_an_id_is_listed fails otherwise).
Factory = Callable[[Tenant, Database], Awaitable[str]]
ROUTES: dict[tuple[str, str], tuple[Factory, dict | None, str]] = {
    ("GET", "/v1/members/{member_id}"): (_member, None, ""),
    ("PATCH", "/v1/members/{member_id}"): (_member, {"name": "Hijacked"}, ""),
    ("GET", "/v1/api-keys/{key_id}"): (_api_key, None, ""),
    ("DELETE", "/v1/api-keys/{key_id}"): (_api_key, None, ""),
    ("GET", "/v1/events/{event_id}"): (_event, None, ""),
    ("GET", "/v1/jobs/{job_id}"): (_job, None, ""),
    ("GET", "/v1/audit-log/{entry_id}"): (_audit_entry, None, ""),
    ("GET", "/v1/privacy/exports/{export_id}"): (_privacy_export, None, ""),
    ("GET", "/v1/privacy/exports/{export_id}/download"): (_privacy_export, None, "/download"),
    ("GET", "/v1/privacy/erasures/{erasure_id}"): (_privacy_erasure, None, ""),
    ("GET", "/v1/forms/{form_id}"): (_form, None, ""),
    ("PATCH", "/v1/forms/{form_id}"): (_form, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/forms/{form_id}"): (_form, None, ""),
    ("GET", "/v1/forms/{form_id}/submissions"): (_form, None, "/submissions"),
    ("GET", "/v1/forms/{form_id}/spam"): (_form, None, "/spam"),
    ("POST", "/v1/forms/{form_id}/submissions"): (_form, {"email": "a@x.io"}, "/submissions"),
    ("GET", "/v1/leads/{lead_id}"): (_lead, None, ""),
    ("PATCH", "/v1/leads/{lead_id}"): (_lead, {"first_name": "Hijacked"}, ""),
    ("DELETE", "/v1/leads/{lead_id}"): (_lead, None, ""),
    ("GET", "/v1/leads/{lead_id}/score"): (_lead, None, "/score"),
    ("GET", "/v1/leads/{lead_id}/engagements"): (_lead, None, "/engagements"),
    ("POST", "/v1/leads/{lead_id}/engagements"): (_lead, {"type": "demo_request"}, "/engagements"),
    ("GET", "/v1/leads/{lead_id}/state-changes"): (_lead, None, "/state-changes"),
    ("GET", "/v1/leads/{lead_id}/assignments"): (_lead, None, "/assignments"),
    ("POST", "/v1/leads/{lead_id}/assign"): (_lead, {"member_id": "0190a000-0000-7000-8000-000000000001"}, "/assign"),
    ("GET", "/v1/teams/{team_id}"): (_team, None, ""),
    ("PATCH", "/v1/teams/{team_id}"): (_team, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/teams/{team_id}"): (_team, None, ""),
    ("GET", "/v1/activities/{activity_id}"): (_activity, None, ""),
    ("GET", "/v1/leads/{lead_id}/timeline"): (_lead, None, "/timeline"),
    ("GET", "/v1/contacts/{contact_id}/timeline"): (_contact, None, "/timeline"),
    ("GET", "/v1/leads/{lead_id}/duplicates"): (_lead, None, "/duplicates"),
    ("POST", "/v1/leads/{lead_id}/merge"): (_lead, {"lead_ids": ["0190a000-0000-7000-8000-000000000001"]}, "/merge"),
    ("POST", "/v1/leads/{lead_id}/unmerge"): (_lead, None, "/unmerge"),
    ("POST", "/v1/leads/{lead_id}/qualify"): (_lead, {"opportunity": None}, "/qualify"),
    ("POST", "/v1/leads/{lead_id}/disqualify"): (_lead, {"reason": "spam"}, "/disqualify"),
    ("POST", "/v1/leads/{lead_id}/reactivate"): (_disqualified_lead, None, "/reactivate"),
    ("GET", "/v1/accounts/{account_id}"): (_account, None, ""),
    ("PATCH", "/v1/accounts/{account_id}"): (_account, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/accounts/{account_id}"): (_account, None, ""),
    ("GET", "/v1/contacts/{contact_id}"): (_contact, None, ""),
    ("PATCH", "/v1/contacts/{contact_id}"): (_contact, {"first_name": "Hijacked"}, ""),
    ("DELETE", "/v1/contacts/{contact_id}"): (_contact, None, ""),
    ("GET", "/v1/opportunities/{opportunity_id}"): (_opportunity, None, ""),
    ("PATCH", "/v1/opportunities/{opportunity_id}"): (_opportunity, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/opportunities/{opportunity_id}"): (_opportunity, None, ""),
    ("GET", "/v1/tasks/{task_id}"): (_task, None, ""),
    ("PATCH", "/v1/tasks/{task_id}"): (_task, {"title": "Hijacked"}, ""),
    ("GET", "/v1/custom-fields/{field_id}"): (_custom_field, None, ""),
    ("PATCH", "/v1/custom-fields/{field_id}"): (_custom_field, {"label": "Hijacked"}, ""),
    ("DELETE", "/v1/custom-fields/{field_id}"): (_custom_field, None, ""),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): (_endpoint, None, ""),
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"): (_endpoint, {"url": "https://evil.example.com"}, ""),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): (_endpoint, None, ""),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/test"): (_endpoint, None, "/test"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"): (_endpoint, None, "/deliveries"),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/replay"): (_endpoint, {"since_sequence": 0}, "/replay"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}"): (_delivery, None, ""),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry"): (_delivery, None, "/retry"),
    ("GET", "/v1/orders/{order_id}"): (_order, None, ""),
    ("PATCH", "/v1/orders/{order_id}"): (_order, {"notes": "Hijacked"}, ""),
    ("GET", "/v1/orders/{order_id}/refunds"): (_order, None, "/refunds"),
    ("POST", "/v1/orders/{order_id}/refunds"): (
        _order,
        {"external_id": "r", "amount": "1.00", "refunded_at": "2026-03-02T00:00:00Z"},
        "/refunds",
    ),
    ("GET", "/v1/products/{product_id}"): (_product, None, ""),
    ("PATCH", "/v1/products/{product_id}"): (_product, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/products/{product_id}"): (_product, None, ""),
    ("GET", "/v1/contacts/{contact_id}/loyalty"): (_contact, None, "/loyalty"),
    ("GET", "/v1/contacts/{contact_id}/360"): (_contact, None, "/360"),
    ("GET", "/v1/contacts/{contact_id}/value"): (_contact, None, "/value"),
    ("GET", "/v1/accounts/{account_id}/360"): (_account, None, "/360"),
    ("POST", "/v1/contacts/{contact_id}/loyalty"): (_contact, {"kind": "earn", "points": 5}, "/loyalty"),
    ("GET", "/v1/acquisition-costs/{acquisition_cost_id}"): (_acquisition_cost, None, ""),
    ("PATCH", "/v1/acquisition-costs/{acquisition_cost_id}"): (_acquisition_cost, {"spend": "99.00"}, ""),
    ("DELETE", "/v1/acquisition-costs/{acquisition_cost_id}"): (_acquisition_cost, None, ""),
    ("GET", "/v1/tickets/{ticket_id}"): (_ticket, None, ""),
    ("PATCH", "/v1/tickets/{ticket_id}"): (_ticket, {"subject": "Hijacked"}, ""),
    ("DELETE", "/v1/tickets/{ticket_id}"): (_ticket, None, ""),
    ("GET", "/v1/contracts/{contract_id}"): (_contract, None, ""),
    ("PATCH", "/v1/contracts/{contract_id}"): (_contract, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/contracts/{contract_id}"): (_contract, None, ""),
    ("GET", "/v1/quotes/{quote_id}"): (_quote, None, ""),
    ("PATCH", "/v1/quotes/{quote_id}"): (_quote, {"status": "sent"}, ""),
    ("DELETE", "/v1/quotes/{quote_id}"): (_quote, None, ""),
    ("GET", "/v1/invoices/{invoice_id}"): (_invoice, None, ""),
    ("PATCH", "/v1/invoices/{invoice_id}"): (_invoice, {"number": "HIJACK"}, ""),
    ("DELETE", "/v1/invoices/{invoice_id}"): (_invoice, None, ""),
    ("GET", "/v1/payments/{payment_id}"): (_payment, None, ""),
    ("PATCH", "/v1/payments/{payment_id}"): (_payment, {"method": "cash"}, ""),
    ("DELETE", "/v1/payments/{payment_id}"): (_payment, None, ""),
    ("GET", "/v1/segments/{segment_id}"): (_segment, None, ""),
    ("PATCH", "/v1/segments/{segment_id}"): (_segment, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/segments/{segment_id}"): (_segment, None, ""),
    ("GET", "/v1/segments/{segment_id}/contacts"): (_segment, None, "/contacts"),
    ("GET", "/v1/imports/{import_id}"): (_import, None, ""),
    ("GET", "/v1/imports/{import_id}/errors"): (_import, None, "/errors"),
    ("GET", "/v1/imports/{import_id}/errors.csv"): (_import, None, "/errors.csv"),
    ("GET", "/v1/integrations/{integration_id}"): (_integration, None, ""),
    ("PATCH", "/v1/integrations/{integration_id}"): (_integration, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/integrations/{integration_id}"): (_integration, None, ""),
    ("GET", "/v1/integrations/{integration_id}/failures"): (_integration, None, "/failures"),
    ("GET", "/v1/exchange-rates/{rate_id}"): (_exchange_rate, None, ""),
    ("GET", "/v1/templates/{template_id}"): (_template, None, ""),
    ("PATCH", "/v1/templates/{template_id}"): (_template, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/templates/{template_id}"): (_template, None, ""),
    ("GET", "/v1/templates/{template_id}/versions/{version}"): (_template, None, "/versions/1"),
    ("POST", "/v1/templates/{template_id}/preview"): (
        _template,
        {"lead_id": "01a21ccd-7080-7524-9a80-7fc53d31ae93"},
        "/preview",
    ),
    ("GET", "/v1/leads/{lead_id}/consents"): (_lead, None, "/consents"),
    ("GET", "/v1/leads/{lead_id}/consents/history"): (_lead, None, "/consents/history"),
    ("PUT", "/v1/leads/{lead_id}/consents/{channel}"): (
        _lead,
        {"status": "opted_in", "source": "api"},
        "/consents/sms",
    ),
    ("GET", "/v1/contacts/{contact_id}/consents"): (_contact, None, "/consents"),
    ("GET", "/v1/contacts/{contact_id}/consents/history"): (_contact, None, "/consents/history"),
    ("PUT", "/v1/contacts/{contact_id}/consents/{channel}"): (
        _contact,
        {"status": "opted_out", "source": "api"},
        "/consents/email",
    ),
    ("GET", "/v1/suppressions/{suppression_id}"): (_suppression, None, ""),
    ("GET", "/v1/channels/{channel_id}"): (_channel, None, ""),
    ("PATCH", "/v1/channels/{channel_id}"): (_channel, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/channels/{channel_id}"): (_channel, None, ""),
    ("POST", "/v1/channels/{channel_id}/test"): (_channel, {"to": "someone@x.io"}, "/test"),
    ("GET", "/v1/messages/{message_id}"): (_message, None, ""),
    ("DELETE", "/v1/suppressions/{suppression_id}"): (_suppression, None, ""),
    ("GET", "/v1/journeys/{journey_id}"): (_journey, None, ""),
    ("PATCH", "/v1/journeys/{journey_id}"): (_journey, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/journeys/{journey_id}"): (_journey, None, ""),
    ("POST", "/v1/journeys/{journey_id}/publish"): (_journey, None, "/publish"),
    ("POST", "/v1/journeys/{journey_id}/pause"): (_journey, None, "/pause"),
    ("POST", "/v1/journeys/{journey_id}/resume"): (_journey, None, "/resume"),
    ("GET", "/v1/journeys/{journey_id}/versions/{number}"): (_journey, None, "/versions/1"),
    ("GET", "/v1/journeys/{journey_id}/enrolments"): (_journey, None, "/enrolments"),
    ("POST", "/v1/journeys/{journey_id}/enrolments"): (
        _journey,
        {"lead_id": "01a21ccd-7080-7524-9a80-7fc53d31ae93"},
        "/enrolments",
    ),
    ("GET", "/v1/journeys/{journey_id}/stats"): (_journey, None, "/stats"),
    ("POST", "/v1/journeys/{journey_id}/submit"): (_journey, None, "/submit"),
    ("POST", "/v1/journeys/{journey_id}/reviews"): (_journey, {"decision": "approve"}, "/reviews"),
    ("GET", "/v1/journeys/{journey_id}/reviews"): (_journey, None, "/reviews"),
    ("GET", "/v1/enrolments/{enrolment_id}"): (_enrolment, None, ""),
    ("GET", "/v1/campaigns/{campaign_id}"): (_campaign, None, ""),
    ("PATCH", "/v1/campaigns/{campaign_id}"): (_campaign, {"name": "Hijacked"}, ""),
    ("POST", "/v1/campaigns/{campaign_id}/submit"): (_campaign, None, "/submit"),
    ("POST", "/v1/campaigns/{campaign_id}/cancel"): (_campaign, None, "/cancel"),
    ("POST", "/v1/campaigns/{campaign_id}/reviews"): (_campaign, {"decision": "approve"}, "/reviews"),
    ("GET", "/v1/campaigns/{campaign_id}/reviews"): (_campaign, None, "/reviews"),
    ("POST", "/v1/campaigns/{campaign_id}/launch"): (_campaign, None, "/launch"),
    ("POST", "/v1/campaigns/{campaign_id}/pause"): (_campaign, None, "/pause"),
    ("POST", "/v1/campaigns/{campaign_id}/resume"): (_campaign, None, "/resume"),
    ("GET", "/v1/campaigns/{campaign_id}/report"): (_campaign, None, "/report"),
    ("GET", "/v1/report-schedules/{schedule_id}"): (_report_schedule, None, ""),
    ("PATCH", "/v1/report-schedules/{schedule_id}"): (_report_schedule, {"name": "Hijacked"}, ""),
    ("DELETE", "/v1/report-schedules/{schedule_id}"): (_report_schedule, None, ""),
}


def test_every_route_with_an_id_is_listed(app) -> None:  # type: ignore[no-untyped-def]
    with_ids = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if "{" in path
        for method in operations
    }
    assert with_ids - KEYLESS == set(ROUTES), f"add these to ROUTES: {with_ids - KEYLESS - set(ROUTES)}"


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
async def test_key_of_another_workspace_gets_404(
    method: str, path: str, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    factory, body, suffix = ROUTES[(method, path)]
    resource = await factory(tenant, database)
    before = (await tenant.get(resource)).json()
    url = resource + suffix
    response = await other_tenant.request(method, url, json=body) if body else await other_tenant.request(method, url)
    assert_problem(response, 404)
    assert (await tenant.get(resource)).json() == before  # untouched


async def test_lists_show_only_the_callers_workspace(tenant: Tenant, other_tenant: Tenant, database: Database) -> None:
    await _member(tenant, database)
    await _api_key(tenant, database)
    await _endpoint(tenant, database)
    assert (await other_tenant.get("/v1/members")).json()["data"] == []
    other_keys = (await other_tenant.get("/v1/api-keys")).json()["data"]
    assert {k["name"] for k in other_keys} == {"Default secret key", "Default publishable key"}
    assert (await other_tenant.get("/v1/workspace")).json()["id"] == other_tenant.id
    assert (await other_tenant.get("/v1/webhook-endpoints")).json()["data"] == []
    assert (await other_tenant.get("/v1/events")).json()["data"] == []
    assert (await tenant.get("/v1/audit-log")).json()["data"]
    assert (await other_tenant.get("/v1/audit-log")).json()["data"] == []
    await _lead(tenant, database)
    await _custom_field(tenant, database)
    assert (await other_tenant.get("/v1/leads")).json()["data"] == []
    assert (await other_tenant.get("/v1/custom-fields")).json()["data"] == []
    for factory, listing in (
        (_account, "/v1/accounts"),
        (_contact, "/v1/contacts"),
        (_opportunity, "/v1/opportunities"),
        (_task, "/v1/tasks"),
        (_team, "/v1/teams"),
        (_activity, "/v1/activities"),
        (_integration, "/v1/integrations"),
    ):
        await factory(tenant, database)
        assert (await tenant.get(listing)).json()["data"], listing
        assert (await other_tenant.get(listing)).json()["data"] == [], listing


async def test_settings_are_per_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 100})
    assert (await other_tenant.get("/v1/settings/retention")).json()["idempotency_key_hours"] == 24
