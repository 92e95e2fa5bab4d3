"""Shop integrations through HTTP on both databases: connecting Shopify and WooCommerce, and their
webhooks as the platforms send them (payloads from their own documentation, tests/data/*/NOTES.md),
signed like the platforms sign them."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.main import create_app
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.privacy.subjects import INTEGRATION_FAILURES, email_subject, phone_subject, shop_subject
from tests.conftest import Tenant, assert_problem, make_tenant

DATA = Path(__file__).parent.parent / "data"
WEBHOOK_BODY_LIMIT = 8 * 1024 * 1024  # documented: twice the largest order the platforms send
SECRET = "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"


def fixture(platform: str, name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / platform / f"{name}.json").read_text()))


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def connect(tenant: Tenant, platform: str = "shopify", secret: str = SECRET) -> dict[str, Any]:
    body: dict[str, Any] = {"platform": platform, "webhook_secret": secret, "name": "Main shop"}
    if platform == "shopify":
        body["shop_domain"] = "Acme-Store.myshopify.com"
    else:
        body["store_url"] = "https://shop.example"
    response = await tenant.post("/v1/integrations", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def shopify(
    client: httpx.AsyncClient,
    integration: dict[str, Any],
    topic: str,
    payload: dict[str, Any] | bytes,
    *,
    webhook_id: str | None = None,
    secret: str = SECRET,
    signature: str | None = None,
    shop: str | None = "acme-store.myshopify.com",
    triggered_at: str | None = None,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature if signature is not None else sign(body, secret),
        "X-Shopify-Webhook-Id": webhook_id or hashlib.md5(body + topic.encode()).hexdigest(),
        "X-Shopify-API-Version": "2026-07",
    }
    if shop is not None:
        headers["X-Shopify-Shop-Domain"] = shop
    if triggered_at is not None:
        headers["X-Shopify-Triggered-At"] = triggered_at
    return await client.post(integration["webhook_path"], content=body, headers=headers)


async def woocommerce(
    client: httpx.AsyncClient, integration: dict[str, Any], topic: str, payload: dict[str, Any], delivery: str
) -> httpx.Response:
    body = json.dumps(payload).encode()
    resource, _, event = topic.partition(".")
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(body),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": delivery,
    }
    return await client.post(integration["webhook_path"], content=body, headers=headers)


def paid(order: dict[str, Any]) -> dict[str, Any]:
    """The documented sample is a voided, cancelled order: the same order, paid."""
    order = copy.deepcopy(order)
    order.update(cancelled_at=None, cancel_reason=None, financial_status="paid", fulfillment_status=None)
    return order


async def the_order(tenant: Tenant, source: str) -> dict[str, Any]:
    listed = (await tenant.get("/v1/orders", params={"source": source})).json()["data"]
    assert len(listed) == 1, listed
    return dict(listed[0])


async def event_types(tenant: Tenant) -> list[str]:
    return [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 200})).json()["data"]]


async def test_connecting_a_shop_answers_its_webhook_url_and_never_its_secret(tenant: Tenant) -> None:
    integration = await connect(tenant)
    assert integration["shop_domain"] == "acme-store.myshopify.com"
    assert integration["status"] == "active" and integration["received_count"] == 0
    path = f"/v1/integrations/{integration['id']}/shopify/webhooks"
    assert integration["webhook_path"] == path
    assert integration["webhook_url"] == f"http://testserver{path}"
    fetched = await tenant.get(f"/v1/integrations/{integration['id']}")
    listed = (await tenant.get("/v1/integrations")).json()["data"]
    events = (await tenant.get("/v1/events", params={"type": "integration.created"})).json()["data"]
    for shown in (integration, fetched.json(), listed[0], events[0]["data"]):
        assert "webhook_secret" not in shown and SECRET not in json.dumps(shown)
    woo = await connect(tenant, "woocommerce")
    assert woo["webhook_path"].endswith("/woocommerce/webhooks") and woo["store_url"] == "https://shop.example"


async def test_connecting_needs_the_platforms_own_fields_and_an_admin_key(tenant: Tenant) -> None:
    bad = [
        ({"platform": "shopify", "webhook_secret": SECRET}, "shop_domain"),
        ({"platform": "shopify", "shop_domain": "acme.example.com", "webhook_secret": SECRET}, "shop_domain"),
        ({"platform": "woocommerce", "webhook_secret": SECRET}, "store_url"),
        (
            {
                "platform": "woocommerce",
                "store_url": "https://s.example",
                "shop_domain": "a.myshopify.com",
                "webhook_secret": SECRET,
            },
            "shop_domain",
        ),
        ({"platform": "shopify", "shop_domain": "a.myshopify.com", "webhook_secret": "short"}, "webhook_secret"),
        ({"platform": "magento", "webhook_secret": SECRET}, "platform"),
    ]
    for body, field in bad:
        assert_problem(await tenant.post("/v1/integrations", json=body), 422, field)
    assert (await tenant.get("/v1/integrations")).json()["data"] == []
    orders_key = await tenant.key_with("orders:write", "orders:read")
    body = {"platform": "shopify", "shop_domain": "a.myshopify.com", "webhook_secret": SECRET}
    assert_problem(await tenant.post("/v1/integrations", json=body, key=orders_key), 403)


async def test_a_shopify_order_is_applied_once_per_webhook_id(tenant: Tenant) -> None:
    integration = await connect(tenant)
    sample = fixture("shopify", "orders_create")
    response = await shopify(tenant.client, integration, "orders/create", sample, webhook_id="wh-1")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "applied"
    assert response.json()["results"][0]["status"] == "created"
    order = await the_order(tenant, "shopify")
    assert order["external_id"] == "820982911946154508"  # beyond 2^53: never through a float
    assert order["status"] == "cancelled"  # the sample is voided and cancelled
    assert (order["currency"], order["total"], order["discount"], order["shipping"], order["tax"]) == (
        "USD", "404.95", "20.00", "10.00", "0.00"
    )  # fmt: skip
    assert order["placed_at"] == "2022-01-01T00:00:00.000000Z"  # -05:00 in the payload
    assert [line["sku"] for line in order["line_items"]] == [li["sku"] for li in sample["line_items"]]
    assert order["line_items"][0]["unit_price"] == "89.99" and order["sales_channel"] == "web"
    contact = (await tenant.get(f"/v1/contacts/{order['contact_id']}")).json()
    assert (contact["email"], contact["first_name"]) == ("john@example.com", "John")
    before = await event_types(tenant)
    again = await shopify(tenant.client, integration, "orders/create", sample, webhook_id="wh-1")
    assert again.status_code == 200 and again.json() == {"status": "duplicate", "results": []}
    assert await event_types(tenant) == before
    shown = (await tenant.get(f"/v1/integrations/{integration['id']}")).json()
    assert shown["received_count"] == 1 and shown["failure_count"] == 0 and shown["last_received_at"]
    assert order["created_by"] == {"type": "integration", "id": integration["id"]}


async def test_updates_refunds_and_a_refund_for_an_unknown_order(tenant: Tenant) -> None:
    integration = await connect(tenant)
    order = paid(fixture("shopify", "orders_create"))
    refund = fixture("shopify", "refunds_create")
    early = await shopify(tenant.client, integration, "refunds/create", refund)
    assert early.status_code == 200 and early.json()["status"] == "failed"  # kept, not lost
    failures = (await tenant.get(f"/v1/integrations/{integration['id']}/failures")).json()["data"]
    assert [f["error"]["errors"][0]["field"] for f in failures] == ["order_id"]
    assert failures[0]["payload"]["id"] == refund["id"] and failures[0]["topic"] == "refunds/create"
    assert (await shopify(tenant.client, integration, "orders/paid", order)).json()["status"] == "applied"
    assert (await the_order(tenant, "shopify"))["status"] == "paid"
    applied = await shopify(tenant.client, integration, "refunds/create", refund)
    assert applied.json()["status"] == "applied", applied.text
    stored = await the_order(tenant, "shopify")
    assert stored["refunded_total"] == "85.00"  # its two successful refund transactions
    assert stored["status"] == "partially_refunded"
    refunds = (await tenant.get(f"/v1/orders/{stored['id']}/refunds")).json()["data"]
    assert [(r["external_id"], r["amount"], r["reason"]) for r in refunds] == [
        ("890088186047892319", "85.00", "Things were damaged")
    ]
    # the order's later update carries the same refund: still one refund
    later = copy.deepcopy(order)
    later.update(updated_at="2022-01-02T10:00:00-05:00", refunds=[refund], financial_status="partially_refunded")
    assert (await shopify(tenant.client, integration, "orders/updated", later)).json()["status"] == "applied"
    assert len((await tenant.get(f"/v1/orders/{stored['id']}/refunds")).json()["data"]) == 1
    assert (await the_order(tenant, "shopify"))["refunded_total"] == "85.00"
    shown = (await tenant.get(f"/v1/integrations/{integration['id']}")).json()
    assert (shown["received_count"], shown["failure_count"]) == (4, 1)


async def test_bad_missing_or_foreign_signatures_are_refused_and_store_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    integration = await connect(tenant)
    theirs = await connect(other_tenant, secret="their-own-secret-123")
    sample = fixture("shopify", "orders_create")
    body = json.dumps(sample).encode()
    for attempt in (
        shopify(tenant.client, integration, "orders/create", sample, secret="wrong-secret-0000"),
        shopify(tenant.client, integration, "orders/create", sample, signature=""),
        shopify(tenant.client, integration, "orders/create", sample, signature="not base64 at all"),
        shopify(tenant.client, integration, "orders/create", body + b" ", signature=sign(body)),  # body changed
        shopify(tenant.client, theirs, "orders/create", sample),  # another workspace's URL, this secret
    ):
        assert_problem(await attempt, 401)
    assert (await tenant.get("/v1/orders")).json()["data"] == []
    assert (await other_tenant.get("/v1/orders")).json()["data"] == []
    for who, shown in ((tenant, integration), (other_tenant, theirs)):
        current = (await who.get(f"/v1/integrations/{shown['id']}")).json()
        assert current["received_count"] == 0 and current["last_received_at"] is None
    # right URL, right secret: lands in its own workspace only
    assert (await shopify(tenant.client, theirs, "orders/create", sample, secret="their-own-secret-123")).json()[
        "status"
    ] == "applied"
    assert (await tenant.get("/v1/orders")).json()["data"] == []
    assert len((await other_tenant.get("/v1/orders")).json()["data"]) == 1
    # a WooCommerce URL does not take Shopify deliveries; an unknown id is 404
    woo = await connect(tenant, "woocommerce")
    assert_problem(await shopify(tenant.client, {"webhook_path": woo["webhook_path"].replace(
        "woocommerce", "shopify")}, "orders/create", sample), 404)  # fmt: skip
    assert_problem(
        await shopify(tenant.client, {"webhook_path": "/v1/integrations/00000000-0000-7000-8000-000000000000/shopify/"
                                      "webhooks"}, "orders/create", sample), 404)  # fmt: skip


async def test_shopify_customers_privacy_topics_and_unknown_topics(tenant: Tenant) -> None:
    integration = await connect(tenant)
    customer = fixture("shopify", "customers_create")
    response = await shopify(tenant.client, integration, "customers/create", customer)
    assert response.json()["status"] == "applied", response.text
    contacts = (await tenant.get("/v1/contacts", params={"email": "bob@biller.com"})).json()["data"]
    assert [(c["first_name"], c["last_name"]) for c in contacts] == [("Bob", "Biller")]
    for topic, name in (
        ("customers/data_request", "customers_data_request"),
        ("customers/redact", "customers_redact"),
        ("shop/redact", "shop_redact"),
    ):
        answered = await shopify(tenant.client, integration, topic, fixture("shopify", name))
        assert answered.status_code == 200 and answered.json()["status"] == "recorded"
    requests = (await tenant.get("/v1/events", params={"type": "integration.privacy_request"})).json()["data"]
    assert sorted(e["data"]["topic"] for e in requests) == ["customers/data_request", "customers/redact",
                                                             "shop/redact"]  # fmt: skip
    redact = next(e["data"] for e in requests if e["data"]["topic"] == "customers/redact")
    # the announcement names the customer by the shop's id only, and the request it started
    assert redact["customer"] == {"id": 191167} and redact["orders"] == [299938, 280263, 220458]
    erasure = (await tenant.get(f"/v1/privacy/erasures/{redact['privacy_request_id']}")).json()
    assert erasure["origin"] == "shopify:customers/redact" and erasure["status"] == "pending"
    asked = next(e["data"] for e in requests if e["data"]["topic"] == "customers/data_request")
    export = (await tenant.get(f"/v1/privacy/exports/{asked['privacy_request_id']}")).json()
    assert export["origin"] == "shopify:customers/data_request"
    assert next(e["data"] for e in requests if e["data"]["topic"] == "shop/redact")["privacy_request_id"] is None
    before = await event_types(tenant)
    ignored = await shopify(tenant.client, integration, "products/create", {"id": 1, "title": "Hat"})
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert await event_types(tenant) == before


async def test_currencies_guests_missing_fields_and_very_large_orders(tenant: Tenant) -> None:
    integration = await connect(tenant)
    sample = paid(fixture("shopify", "orders_create"))
    # bought in EUR in a USD shop: the order is in EUR, the shop's USD amount is its reporting amount
    eur = copy.deepcopy(sample)
    eur.update(id=1001, presentment_currency="EUR")
    for key, value in list(eur.items()):
        if key.endswith("_set") and isinstance(value, dict) and "presentment_money" in value:
            amount = value["shop_money"]["amount"]
            value["presentment_money"] = {"amount": f"{float(amount) * 0.9:.2f}", "currency_code": "EUR"}
    for line in eur["line_items"]:
        line["price_set"]["presentment_money"] = {"amount": "10.00", "currency_code": "EUR"}
    # a guest checkout: no customer, only the order's email
    guest = copy.deepcopy(sample)
    guest.update(id=1002, customer=None, email="guest@example.org", contact_email="guest@example.org")
    # the least an order can carry: no money sets, no customer, no addresses, no lines
    bare = {"id": 1003, "currency": "USD", "total_price": "12.50", "created_at": "2026-11-01T10:00:00Z",
            "financial_status": "paid", "line_items": []}  # fmt: skip
    # a very large order
    large = copy.deepcopy(sample)
    large.update(id=1004, line_items=[dict(sample["line_items"][0], id=n, sku=f"SKU-{n}") for n in range(600)])
    for payload in (eur, guest, bare, large):
        response = await shopify(tenant.client, integration, "orders/create", payload)
        assert response.json()["status"] == "applied", response.text
    orders = {o["external_id"]: o for o in (await tenant.get("/v1/orders", params={"limit": 10})).json()["data"]}
    assert orders["1001"]["currency"] == "EUR" and orders["1001"]["total"] == f"{404.95 * 0.9:.2f}"
    assert (orders["1001"]["reporting_currency"], orders["1001"]["reporting_total"]) == ("USD", "404.95")
    assert orders["1001"]["line_items"][0]["unit_price"] == "10.00"
    guest_contact = (await tenant.get(f"/v1/contacts/{orders['1002']['contact_id']}")).json()
    assert guest_contact["email"] == "guest@example.org"
    assert orders["1003"]["contact_id"] is None and orders["1003"]["total"] == "12.50"
    assert orders["1003"]["status"] == "paid" and orders["1003"]["line_items"] == []
    assert len(orders["1004"]["line_items"]) == 600


async def test_a_verified_payload_that_cannot_be_mapped_is_kept_for_inspection(tenant: Tenant) -> None:
    integration = await connect(tenant)
    no_total = paid(fixture("shopify", "orders_create"))
    for key in ("total_price", "total_price_set"):
        no_total.pop(key)
    bad_currency = paid(fixture("shopify", "orders_create"))
    bad_currency.update(id=2, currency="ZZZ", presentment_currency="ZZZ")
    for key in list(bad_currency):
        if key.endswith("_set"):
            bad_currency.pop(key)
    for line in bad_currency["line_items"]:
        line.pop("price_set")
        line.pop("total_discount_set")
    for payload in (no_total, bad_currency, b"{not json"):
        response = await shopify(tenant.client, integration, "orders/create", payload)
        assert response.status_code == 200 and response.json()["status"] == "failed", response.text
    failures = (await tenant.get(f"/v1/integrations/{integration['id']}/failures")).json()["data"]
    fields = [f["error"]["errors"][0]["field"] for f in reversed(failures)]
    assert fields == ["total_price", "currency", "body"]
    assert failures[0]["payload"] is None and failures[2]["payload"]["id"] == no_total["id"]
    assert (await tenant.get("/v1/orders")).json()["data"] == []
    shown = (await tenant.get(f"/v1/integrations/{integration['id']}")).json()
    assert shown["failure_count"] == 3 and shown["last_failure_at"]


async def test_paused_and_disconnected_integrations(tenant: Tenant) -> None:
    integration = await connect(tenant)
    sample = fixture("shopify", "orders_create")
    paused = await tenant.patch(f"/v1/integrations/{integration['id']}", json={"status": "paused"})
    assert paused.json()["status"] == "paused"
    response = await shopify(tenant.client, integration, "orders/create", sample)
    assert_problem(response, 503)
    assert response.headers["retry-after"]
    assert (await tenant.get("/v1/orders")).json()["data"] == []
    await tenant.patch(f"/v1/integrations/{integration['id']}", json={"status": "active"})
    rotated = await tenant.patch(f"/v1/integrations/{integration['id']}", json={"webhook_secret": "new-secret-456"})
    assert rotated.status_code == 200 and "webhook_secret" not in rotated.json()
    assert_problem(await shopify(tenant.client, integration, "orders/create", sample), 401)  # the old secret
    ok = await shopify(tenant.client, integration, "orders/create", sample, secret="new-secret-456")
    assert ok.json()["status"] == "applied"
    assert (await tenant.delete(f"/v1/integrations/{integration['id']}")).json()["archived_at"]
    assert_problem(await shopify(tenant.client, integration, "orders/create", sample, secret="new-secret-456"), 404)
    assert (await tenant.get("/v1/integrations")).json()["data"] == []


async def test_woocommerce_ping_orders_refunds_and_customers(tenant: Tenant) -> None:
    integration = await connect(tenant, "woocommerce")
    ping = await tenant.client.post(
        integration["webhook_path"], content=b"webhook_id=12",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "WooCommerce/9.4"},
    )  # fmt: skip
    assert ping.status_code == 200 and ping.json()["status"] == "pong"
    guest = fixture("woocommerce", "order_created")
    response = await woocommerce(tenant.client, integration, "order.created", guest, "d-1")
    assert response.json()["status"] == "applied", response.text
    order = await the_order(tenant, "woocommerce")
    assert (order["external_id"], order["status"], order["total"], order["shipping"], order["tax"]) == (
        "727", "paid", "29.35", "10.00", "1.35"
    )  # fmt: skip
    assert order["placed_at"] == "2017-03-22T19:28:02.000000Z"  # *_gmt carries no offset: UTC
    assert [(li["sku"], li["quantity"], li["unit_price"], li["total"]) for li in order["line_items"]] == [
        (None, 2, "3.00", "6.00"), ("Bar3", 1, "12.00", "12.00")
    ]  # fmt: skip
    contact = (await tenant.get(f"/v1/contacts/{order['contact_id']}")).json()
    assert contact["email"] == "john.doe@example.com"  # a guest (customer_id 0): matched by email
    again = await woocommerce(tenant.client, integration, "order.created", guest, "d-1")
    assert again.json()["status"] == "duplicate"
    refunded = fixture("woocommerce", "order_refunded_example")
    assert (await woocommerce(tenant.client, integration, "order.updated", refunded, "d-2")).json()[
        "status"
    ] == "applied"
    stored = {o["external_id"]: o for o in (await tenant.get("/v1/orders")).json()["data"]}["723"]
    assert (stored["status"], stored["refunded_total"]) == ("partially_refunded", "19.00")
    assert stored["customer"]["external_id"] == "26"
    customer = fixture("woocommerce", "customer_created")
    assert (await woocommerce(tenant.client, integration, "customer.created", customer, "d-3")).json()[
        "status"
    ] == "applied"
    assert (await woocommerce(tenant.client, integration, "coupon.created", {"id": 5}, "d-4")).json()[
        "status"
    ] == "ignored"
    body = json.dumps(guest).encode()
    forged = await tenant.client.post(integration["webhook_path"], content=body, headers={
        "Content-Type": "application/json", "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Signature": sign(body, "not-the-secret"), "X-WC-Webhook-Delivery-ID": "d-5"})  # fmt: skip
    assert_problem(forged, 401)


async def test_a_delivery_naming_another_shop_is_refused_like_a_bad_signature(tenant: Tenant) -> None:
    """A Shopify app's secret signs every shop's deliveries: a signed delivery from another shop that
    installed the same app must not land in this shop's integration."""
    integration = await connect(tenant)
    sample = fixture("shopify", "orders_create")
    bad_signature = await shopify(tenant.client, integration, "orders/create", sample, secret="wrong-secret-0000")
    for shop in ("other-store.myshopify.com", "acme-store.myshopify.com.evil.example", "", None):
        refused = await shopify(tenant.client, integration, "orders/create", sample, shop=shop)
        assert_problem(refused, 401)
        assert refused.json()["detail"] == bad_signature.json()["detail"]  # which check failed is not told
    assert (await tenant.get("/v1/orders")).json()["data"] == []
    shown = (await tenant.get(f"/v1/integrations/{integration['id']}")).json()
    assert shown["received_count"] == 0 and shown["failure_count"] == 0
    # header values are case-insensitive hosts: the shop's own domain in any case is accepted
    ok = await shopify(tenant.client, integration, "orders/create", sample, shop="Acme-Store.MyShopify.com")
    assert ok.status_code == 200 and ok.json()["status"] == "applied", ok.text


async def test_a_retry_hours_after_the_event_is_applied_once(tenant: Tenant) -> None:
    """Shopify retries for 4 hours and a retry carries the original payload and trigger time: age is
    never a reason to refuse; the delivery id alone makes it once."""
    integration = await connect(tenant)
    order = paid(fixture("shopify", "orders_create"))
    order.update(id=5001, created_at="2026-01-03T08:00:00-05:00", updated_at="2026-01-03T08:00:00-05:00")
    first = await shopify(tenant.client, integration, "orders/paid", order, webhook_id="late-1",
                          triggered_at="2026-01-03T13:00:01.000000Z")  # fmt: skip
    assert first.status_code == 200 and first.json()["status"] == "applied", first.text
    again = await shopify(tenant.client, integration, "orders/paid", order, webhook_id="late-1",
                          triggered_at="2026-01-03T13:00:01.000000Z")  # fmt: skip
    assert again.status_code == 200 and again.json() == {"status": "duplicate", "results": []}
    stored = await the_order(tenant, "shopify")
    assert stored["external_id"] == "5001" and stored["version"] == 1
    assert len((await tenant.get("/v1/events", params={"type": "order.created"})).json()["data"]) == 1


async def test_a_body_past_the_limit_is_413_as_it_streams_before_the_signature(tenant: Tenant) -> None:
    integration = await connect(tenant)
    woo = await connect(tenant, "woocommerce")
    chunk = b" " * (1024 * 1024)
    sent: list[int] = []

    async def endless() -> Any:  # no Content-Length: the size is only known by reading
        for _ in range(64):
            sent.append(len(chunk))
            yield chunk

    for shown in (integration, woo):
        sent.clear()
        streamed = await tenant.client.post(
            shown["webhook_path"], content=endless(),
            headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                     "X-Shopify-Hmac-Sha256": "AAAA", "X-WC-Webhook-Signature": "AAAA"},
        )  # fmt: skip
        assert_problem(streamed, 413)
        assert sum(sent) <= WEBHOOK_BODY_LIMIT + 2 * len(chunk)  # stopped reading at the limit
    # declared too large: refused before a byte of it is read
    body = json.dumps({"id": 1, "note": "x" * WEBHOOK_BODY_LIMIT}).encode()
    assert_problem(await shopify(tenant.client, integration, "orders/create", body), 413)
    # a large order within the limit is applied
    order = paid(fixture("shopify", "orders_create"))
    order.update(id=6001, line_items=[dict(order["line_items"][0], id=n, sku=f"S-{n}") for n in range(500)],
                 note="n" * (2 * 1024 * 1024))  # fmt: skip
    assert 2 * 1024 * 1024 < len(json.dumps(order)) < WEBHOOK_BODY_LIMIT
    applied = await shopify(tenant.client, integration, "orders/create", order)
    assert applied.status_code == 200 and applied.json()["status"] == "applied", applied.text[:500]
    shown = (await tenant.get(f"/v1/integrations/{integration['id']}")).json()
    assert shown["received_count"] == 1


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address` (the limits on webhook URLs count per address)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_a_url_naming_no_live_integration_is_404_before_the_body_is_read(tenant: Tenant) -> None:
    shop, woo = await connect(tenant), await connect(tenant, "woocommerce")
    assert (await tenant.delete(f"/v1/integrations/{woo['id']}")).status_code == 200
    chunk = b" " * (256 * 1024)
    sent: list[int] = []

    async def streamed() -> Any:
        for _ in range(16):
            sent.append(len(chunk))
            yield chunk

    for path in (
        "/v1/integrations/01a24a3b-0000-7000-8000-000000000000/shopify/webhooks",  # no such integration
        shop["webhook_path"].replace("shopify", "woocommerce"),  # not a WooCommerce integration
        woo["webhook_path"],  # disconnected
    ):
        sent.clear()
        answer = await tenant.client.post(
            path, content=streamed(), headers={"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": "AAAA",
                                               "X-WC-Webhook-Signature": "AAAA"},
        )  # fmt: skip
        assert_problem(answer, 404)
        assert sum(sent) <= len(chunk), path


async def fresh_minute() -> None:
    """Wait for the next minute when this one ends soon: the limits count per clock minute, and a
    test that counts to a limit must not see the count start again halfway."""
    left = 60 - time.time() % 60
    if left < 15:
        await asyncio.sleep(left + 0.1)


async def test_webhooks_are_rate_limited_per_integration(database: Database) -> None:
    settings = Settings(database_url=database.settings.database_url, rate_limit_shop_webhook_per_minute=3,
                        rate_limit_api_per_minute=10**6)  # fmt: skip
    app = create_app(settings, database=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        tenant = await make_tenant(database, client)
        busy, quiet = await connect(tenant), await connect(tenant, "woocommerce")
        sample = paid(fixture("shopify", "orders_create"))
        answers = []
        for n in range(8):  # a minute boundary may pass once: at most 6 of 8 get through
            answers.append(await shopify(client, busy, "orders/create", dict(sample, id=7000 + n)))
        limited = [a for a in answers if a.status_code == 429]
        assert len(limited) >= 2 and all(a.status_code in (200, 429) for a in answers)
        problem = assert_problem(limited[0], 429)
        assert "shop-webhook" in problem["detail"]
        assert int(limited[0].headers["retry-after"]) > 0
        assert limited[0].headers["ratelimit-policy"] == '"shop-webhook";q=3;w=60'
        applied = sum(1 for a in answers if a.status_code == 200)
        orders = (await tenant.get("/v1/orders", params={"limit": 50})).json()["data"]
        assert len(orders) == applied  # a refused delivery wrote nothing; the shop sends it again
        # a forged delivery is refused for its signature, whatever the budget says
        forged = await shopify(client, busy, "orders/create", dict(sample, id=7100), secret="not-the-secret")
        assert_problem(forged, 401)
        # another integration has its own budget
        woo = await woocommerce(client, quiet, "order.created", fixture("woocommerce", "order_created"), "q-1")
        assert woo.status_code == 200 and woo.json()["status"] == "applied"


async def test_forged_deliveries_are_refused_per_address_and_never_use_the_shops_budget(database: Database) -> None:
    """Anyone who knows a webhook URL can post to it: a flood of forgeries gets its own address
    refused (before its bodies are read) and leaves the shop's budget to the shop."""
    settings = Settings(database_url=database.settings.database_url, rate_limit_shop_webhook_per_minute=4,
                        rate_limit_shop_webhook_unverified_per_minute=5, rate_limit_api_per_minute=10**6)  # fmt: skip
    app = create_app(settings, database=database)
    async with client_at(app, "203.0.113.9") as attacker, client_at(app, "198.51.100.7") as platform:
        tenant = await make_tenant(database, platform)
        integration = await connect(tenant)
        sample = paid(fixture("shopify", "orders_create"))
        await fresh_minute()
        flood = [
            await shopify(attacker, integration, "orders/create", dict(sample, id=7200 + n), secret="guessed")
            for n in range(12)
        ]
        # five are answered for their signature; the sixth passes the limit, and later ones are
        # refused on sight
        assert [a.status_code for a in flood] == [401] * 5 + [429] * 7, [a.status_code for a in flood]
        limited = flood[5:]
        problem = assert_problem(limited[-1], 429)
        assert "shop-webhook-unverified" in problem["detail"]
        assert limited[-1].headers["ratelimit-policy"] == '"shop-webhook-unverified";q=5;w=60'
        assert int(limited[-1].headers["retry-after"]) > 0

        # refused before its body is read
        chunk = b"{" + b" " * (64 * 1024)
        sent: list[int] = []

        async def streamed() -> Any:
            for _ in range(8):
                sent.append(len(chunk))
                yield chunk

        refused = await attacker.post(
            integration["webhook_path"], content=streamed(),
            headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                     "X-Shopify-Hmac-Sha256": "AAAA", "X-Shopify-Shop-Domain": "acme-store.myshopify.com"},
        )  # fmt: skip
        assert_problem(refused, 429)
        assert sum(sent) <= len(chunk)

        # the shop's own deliveries, from the platform's addresses, still have their whole budget
        delivered = [await shopify(platform, integration, "orders/create", dict(sample, id=7300 + n)) for n in range(4)]
        assert [d.status_code for d in delivered] == [200] * 4, [d.text[:200] for d in delivered]
        assert all(d.json()["status"] == "applied" for d in delivered)
        shown = (await tenant.get(f"/v1/integrations/{integration['id']}")).json()
        assert shown["received_count"] == 4
        orders = (await tenant.get("/v1/orders", params={"limit": 50})).json()["data"]
        assert sorted(o["external_id"] for o in orders) == ["7300", "7301", "7302", "7303"]
        assert (await tenant.get(f"/v1/integrations/{integration['id']}/failures")).json()["data"] == []


async def test_forgeries_from_many_addresses_are_never_counted_against_the_shop(database: Database) -> None:
    settings = Settings(database_url=database.settings.database_url, rate_limit_shop_webhook_per_minute=2,
                        rate_limit_shop_webhook_unverified_per_minute=3, rate_limit_api_per_minute=10**6)  # fmt: skip
    app = create_app(settings, database=database)
    async with client_at(app, "198.51.100.7") as platform:
        tenant = await make_tenant(database, platform)
        integration = await connect(tenant, "woocommerce")
        order = fixture("woocommerce", "order_created")
        for n in range(6):  # each address stays under its own limit: every forgery is answered 401
            async with client_at(app, f"203.0.113.{n + 1}") as sender:
                for attempt in range(3):
                    body = json.dumps(dict(order, id=900 + attempt)).encode()
                    forged = await sender.post(
                        integration["webhook_path"], content=body,
                        headers={"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
                                 "X-WC-Webhook-Signature": sign(body, "guessed"),
                                 "X-WC-Webhook-Delivery-ID": f"f-{n}-{attempt}"},
                    )  # fmt: skip
                    assert_problem(forged, 401)
        # 18 forgeries later, the store's deliveries still have their whole budget of 2
        first = await woocommerce(platform, integration, "order.created", order, "d-1")
        second = await woocommerce(platform, integration, "order.updated", dict(order, status="completed"), "d-2")
        assert [first.status_code, second.status_code] == [200, 200], second.text[:300]
        assert second.json()["status"] == "applied"
        # an unsigned ping (WooCommerce's, when a webhook is saved) is unverified: it counts per address
        await fresh_minute()
        pings = [
            await platform.post(integration["webhook_path"], content=b"webhook_id=12",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
            for _ in range(6)
        ]  # fmt: skip
        assert [p.status_code for p in pings] == [200] * 4 + [429] * 2
        assert pings[0].json()["status"] == "pong"


async def test_concurrent_deliveries_of_one_new_order_both_apply(tenant: Tenant, backend: str) -> None:
    """orders/create and orders/paid of a new order arrive at once: one creates it, the other loses
    the race on its key and runs again (its body, read once as it streamed, is read again from
    what was kept), finding the order."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: its writes never race")
    integration = await connect(tenant)
    for n in range(3):
        order = paid(fixture("shopify", "orders_create"))
        order.update(id=8000 + n)
        later = dict(order, updated_at="2022-01-02T10:00:00-05:00", fulfillment_status="fulfilled")
        answers = await asyncio.gather(
            shopify(tenant.client, integration, "orders/create", order),
            shopify(tenant.client, integration, "orders/fulfilled", later),
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text[:300] for a in answers]
        assert [a.json()["status"] for a in answers] == ["applied", "applied"]
    orders = (await tenant.get("/v1/orders", params={"limit": 10})).json()["data"]
    assert sorted(o["external_id"] for o in orders) == ["8000", "8001", "8002"]
    assert all(o["status"] == "fulfilled" for o in orders)


async def test_a_failed_payload_is_found_by_the_people_it_names(
    database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    await tenant.patch("/v1/workspace", json={"default_region": "US"})
    integration = await connect(tenant)
    applied = await shopify(tenant.client, integration, "orders/create", paid(fixture("shopify", "orders_create")))
    assert applied.json()["status"] == "applied", applied.text
    [contact] = (await tenant.get("/v1/contacts", params={"email": "john@example.com"})).json()["data"]
    no_total = paid(fixture("shopify", "orders_create"))
    no_total.update(id=3, phone="(415) 555-2671")
    no_total["customer"]["email"] = "John@Example.com"
    for key in ("total_price", "total_price_set"):
        no_total.pop(key)
    response = await shopify(tenant.client, integration, "orders/create", no_total)
    assert response.json()["status"] == "failed", response.text
    [failure] = (await tenant.get(f"/v1/integrations/{integration['id']}/failures")).json()["data"]
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        for subject in (
            email_subject("john@example.com"),  # the customer's, in another case
            email_subject("jon@example.com"),  # the order's contact email
            phone_subject("+14155552671"),
            shop_subject("shopify", str(no_total["customer"]["id"])),
            contact["id"],  # the contact the shop's customer is
        ):
            assert await ctx.personal_refs.find([subject], INTEGRATION_FAILURES) == [failure["id"]], subject
        theirs = Context(uow, uuid.UUID(other_tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        assert await theirs.personal_refs.find([email_subject("john@example.com")], INTEGRATION_FAILURES) == []


async def test_shopify_customers_redact_erases_that_customer(tenant: Tenant, database: Database) -> None:
    from tests.api.test_analytics import run_jobs

    integration = await connect(tenant)
    customer = fixture("shopify", "customers_create")
    assert (await shopify(tenant.client, integration, "customers/create", customer)).json()["status"] == "applied"
    [contact] = (await tenant.get("/v1/contacts", params={"email": "bob@biller.com"})).json()["data"]
    redact = fixture("shopify", "customers_redact")
    redact["customer"] = {"id": customer["id"], "email": "BOB@biller.com", "phone": None}
    assert (await shopify(tenant.client, integration, "customers/redact", redact)).json()["status"] == "recorded"
    [event] = (await tenant.get("/v1/events", params={"type": "integration.privacy_request"})).json()["data"]
    request = (await tenant.get(f"/v1/privacy/erasures/{event['data']['privacy_request_id']}")).json()
    assert request["matched"] == [{"resource": "contacts", "id": contact["id"], "keys": ["email", "shop_customer_id"]}]
    await run_jobs(database)
    assert (await tenant.get(f"/v1/privacy/erasures/{request['id']}")).json()["status"] == "completed"
    erased = (await tenant.get(f"/v1/contacts/{contact['id']}")).json()
    assert erased["email"] is None and erased["first_name"] is None and erased["erased_at"] is not None
    # the same customer synced again is a new contact (the shop id no longer points at the tombstone)
    again = await shopify(
        tenant.client, integration, "customers/update", {**customer, "updated_at": "2030-01-01T00:00:00Z"}
    )
    assert again.json()["status"] == "applied", again.text
    [new] = (await tenant.get("/v1/contacts", params={"email": "bob@biller.com"})).json()["data"]
    assert new["id"] != contact["id"]


async def test_shopify_shop_redact_erases_the_contacts_that_came_only_from_that_shop(
    tenant: Tenant, database: Database
) -> None:
    from tests.api.test_analytics import run_jobs

    integration = await connect(tenant)
    customer = fixture("shopify", "customers_create")
    assert (await shopify(tenant.client, integration, "customers/create", customer)).json()["status"] == "applied"
    [from_shop] = (await tenant.get("/v1/contacts", params={"email": "bob@biller.com"})).json()["data"]
    own = await tenant.post("/v1/contacts", json={"first_name": "Dana", "email": "dana@example.com"})
    assert own.status_code == 201, own.text
    # a shop customer the website also knows (a lead with the same email): not the shop's alone
    shared = {**customer, "id": customer["id"] + 1, "email": "kim@example.com", "phone": None, "addresses": []}
    assert (await shopify(tenant.client, integration, "customers/create", shared)).json()["status"] == "applied"
    lead = await tenant.post("/v1/leads", json={"email": "kim@example.com", "first_name": "Kim"})
    assert lead.status_code == 201, lead.text
    redact = fixture("shopify", "shop_redact")
    assert (await shopify(tenant.client, integration, "shop/redact", redact)).json()["status"] == "recorded"
    [event] = (await tenant.get("/v1/events", params={"type": "integration.privacy_request"})).json()["data"]
    assert event["data"]["job_id"] and event["data"]["privacy_request_id"] is None
    await run_jobs(database)
    job = (await tenant.get(f"/v1/jobs/{event['data']['job_id']}")).json()
    assert job["status"] == "succeeded" and (job["result"]["erased"], job["result"]["skipped"]) == (1, 1), job
    assert (await tenant.get(f"/v1/leads/{lead.json()['id']}")).json()["email"] == "kim@example.com"
    [kim] = (await tenant.get("/v1/contacts", params={"email": "kim@example.com"})).json()["data"]
    assert kim["erased_at"] is None
    erased = (await tenant.get(f"/v1/contacts/{from_shop['id']}")).json()
    assert erased["erased_at"] and erased["email"] is None
    kept = (await tenant.get(f"/v1/contacts/{own.json()['id']}")).json()
    assert kept["erased_at"] is None and kept["email"] == "dana@example.com"
    [request] = (await tenant.get("/v1/privacy/erasures")).json()["data"]
    assert request["origin"] == "shopify:shop/redact" and request["status"] == "completed"
    assert request["matched"] == [{"resource": "contacts", "id": from_shop["id"], "keys": ["contact_id"]}]
