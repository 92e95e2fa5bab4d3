"""Shop integrations: connecting a Shopify shop or a WooCommerce store, and applying the webhooks
they send. A delivery is verified (HMAC of the raw body with the integration's secret) before
anything is read or stored; applied once per platform delivery id; mapped onto the order sync's
commands (the same rules as `POST /v1/orders/batch` and `/v1/customers/batch`); and, when it is
verified but cannot be applied, kept for inspection under the integration's failures."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

from app.db.repositories.base import Page, Row
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.customers import shops
from app.domain.customers.shops import Command, Platform, Unmappable
from app.domain.errors import DomainError, InvalidInput, NotFound, Unauthorized, Unavailable
from app.domain.events import events as types
from app.domain.leads.contact import parse_email, parse_phone
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.common import invalid_input
from app.schemas.customers.integrations import IntegrationRead, PrivacyRequest
from app.schemas.customers.orders import RefundIn
from app.services.batches import problem_of
from app.services.context import Actor, Context
from app.services.customers import orders, records
from app.services.customers import shop_customers as customers
from app.services.events import events
from app.services.privacy.subjects import INTEGRATION_FAILURES, email_subject, phone_subject, shop_subject
from app.services.workspace import workspaces

log = logging.getLogger("app.integrations")


async def _prepare(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    prepared = dict(values)
    if current is None:
        prepared["platform"] = Platform(values["platform"]).value
        if prepared["platform"] == Platform.SHOPIFY:
            if not values.get("shop_domain"):
                raise InvalidInput.field("shop_domain", "a Shopify integration needs the shop's myshopify.com domain")
            if values.get("store_url"):
                raise InvalidInput.field("store_url", "for WooCommerce; a Shopify shop is named by shop_domain")
        else:
            if not values.get("store_url"):
                raise InvalidInput.field("store_url", "a WooCommerce integration needs the store's address")
            if values.get("shop_domain"):
                raise InvalidInput.field("shop_domain", "for Shopify; a WooCommerce store is named by store_url")
        prepared["status"] = "active"
    return {k: v for k, v in prepared.items() if v is not None or k == "name"}


INTEGRATION = records.Kind("integration", lambda repos: repos.integrations, IntegrationRead, _prepare)


async def failures(ctx: Context, integration_id: UUID, *, sort: Sort, cursor: str | None, limit: int) -> Page:
    await records.get(ctx, INTEGRATION, integration_id)
    return await ctx.integration_failures.list(integration_id, sort=sort, cursor=cursor, limit=limit)


# -- receiving webhooks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A platform's webhook request as it arrived."""

    topic: str
    delivery_id: str | None  # X-Shopify-Webhook-Id / X-WC-Webhook-Delivery-ID
    signature: str | None
    body: bytes
    shop: str | None = None  # X-Shopify-Shop-Domain / X-WC-Webhook-Source


_PING = re.compile(rb"^webhook_id=\d{1,20}$")


def is_woocommerce_ping(body: bytes) -> bool:
    """WooCommerce's delivery when a webhook is saved: `webhook_id=N`, form-encoded and unsigned."""
    return bool(_PING.match(body.strip()))


async def known(uow: UnitOfWork, integration_id: UUID, platform: Platform) -> Row:
    """The live integration of this platform with this id, else 404 (all a ping can learn)."""
    integration = await uow.system().integration(integration_id)
    if integration is None or integration["archived_at"] is not None or integration["platform"] != platform:
        raise NotFound(f"no {platform.value} integration with this id")
    return integration


async def require_live(database: Database, integration_id: UUID, platform: Platform) -> None:
    """404 unless a live integration of this platform has this id, checked before a webhook's body
    is read (a request to a URL that names no shop costs no body), on a connection of its own that
    is released at once: reading a slow body must hold no pooled connection (nor, on SQLite, the
    write lock). The delivery's own transaction reads the integration again to verify it."""
    async with UnitOfWork(database, write=False) as uow:
        await known(uow, integration_id, platform)


async def authenticate(uow: UnitOfWork, integration_id: UUID, platform: Platform, delivery: Delivery) -> Row:
    """The integration this delivery is for, once its signature is verified; 404 for no such live
    integration of this platform, 401 for a bad or missing signature or (Shopify) a delivery that
    names another shop (nothing read or stored), 503 while it is paused (the platform retries later)."""
    integration = await known(uow, integration_id, platform)
    signed = shops.signature_valid(integration["webhook_secret"], delivery.body, delivery.signature)
    if not signed or (platform == Platform.SHOPIFY and not shops.from_shop(integration["shop_domain"], delivery.shop)):
        # One answer for a bad signature and for another shop's delivery: a sender learns nothing
        # about which check failed (the log tells the operator).
        log.warning("integration %s: a %s delivery was refused (%s)", integration_id, platform.value,
                    "another shop" if signed else "bad or missing signature")  # fmt: skip
        raise Unauthorized("the webhook signature does not match this integration's secret")
    if integration["status"] == "paused":
        raise Unavailable("this integration is paused; deliver again later", headers={"Retry-After": "3600"})
    return integration


async def receive(ctx: Context, integration: Row, delivery: Delivery) -> dict[str, Any]:
    """Apply one verified delivery: {"status": applied | duplicate | ignored | failed | recorded,
    "results": [...]}. Only a database error fails the request (the platform then retries)."""
    integration_id, platform = integration["id"], Platform(integration["platform"])
    repo = ctx.integrations
    # A delivery without an id is keyed by its content: an identical body is the same delivery.
    delivery_id = (
        delivery.delivery_id or "sha256:" + hashlib.sha256(delivery.topic.encode() + delivery.body).hexdigest()
    )
    command = shops.command_for(platform, delivery.topic)
    if not await repo.receive(integration_id, delivery_id, delivery.topic[:100], "applied", ctx.now):
        return {"status": "duplicate", "results": []}
    status, results, error = "applied", [], None
    payload: Any = None
    try:
        payload = orjson.loads(delivery.body)
        if not isinstance(payload, dict):
            raise InvalidInput.field("body", "not a JSON object")
        if command == Command.IGNORED:
            log.info("integration %s: topic %r acknowledged and ignored", integration_id, delivery.topic)
            status = "ignored"
        elif command == Command.PRIVACY:
            await _privacy(ctx, integration, delivery, payload)
            status = "recorded"
        else:
            results = await _apply(ctx, platform, command, payload)
            failed = [r for r in results if r.get("status") == "error"]
            if failed:
                error = failed[0]["problem"]
    except orjson.JSONDecodeError:
        error = problem_of(InvalidInput.field("body", "not valid JSON"))["problem"]
    except Unmappable as exc:
        error = problem_of(InvalidInput.field(exc.field, exc.message))["problem"]
    except ValidationError as exc:
        error = problem_of(invalid_input(exc))["problem"]
    except DomainError as exc:
        error = problem_of(exc)["problem"]
    except (ValueError, TypeError, AttributeError, ArithmeticError, KeyError) as exc:
        # a shape the mapping did not foresee: kept for inspection, never a 500 that the platform
        # would retry until it drops the webhook
        log.warning("integration %s: %s payload not mapped", integration_id, delivery.topic, exc_info=True)
        error = problem_of(InvalidInput.field("body", f"a payload this CRM cannot map ({type(exc).__name__})"))[
            "problem"
        ]
    if error is not None:
        status = "failed"
        failure_id = new_id()
        await ctx.integration_failures.add({
            "id": failure_id, "integration_id": integration_id, "delivery_id": delivery_id,
            "topic": delivery.topic[:100], "error": error, "payload": payload, "received_at": ctx.now,
        })  # fmt: skip
        await _failure_refs(ctx, platform, command, payload, failure_id)
        log.info("integration %s: %s could not be applied: %s", integration_id, delivery.topic, error.get("detail"))
    if status != "applied":
        await repo.set_outcome(integration_id, delivery_id, status)
    await repo.count_delivery(integration_id, ctx.now, failed=status == "failed")
    return {"status": status, "results": results}


async def _failure_refs(ctx: Context, platform: Platform, command: Command, payload: Any, failure_id: UUID) -> None:
    """Where an erasure finds a kept payload: refs (`personal_refs`) from the failure to the people
    it names, read from the payload as it is (it could not be mapped): each email (its key) and
    phone number (E.164, when it parses in the workspace's region), the customer's shop id, and the
    contact that shop id belongs to, when one does."""
    named = shops.people_named(platform, command, payload)
    subjects: set[str] = set()
    for raw in named.emails:
        try:
            subjects.add(email_subject(parse_email(raw).key))
        except ValueError:
            continue  # no usable address: nobody can ask about it by this value either
    if named.phones:
        region = await workspaces.default_region(ctx)
        for raw in named.phones:
            e164 = parse_phone(raw, region).e164
            if e164 is not None:
                subjects.add(phone_subject(e164))
    if named.customer_id is not None:
        subjects.add(shop_subject(platform.value, named.customer_id))
        contact_id = (await ctx.customers.by_identities([(platform.value, named.customer_id)])).get(
            (platform.value, named.customer_id)
        )
        if contact_id is not None:
            subjects.add(str(contact_id))
    ctx.personal_refs.add(subjects, INTEGRATION_FAILURES, str(failure_id))


async def _apply(ctx: Context, platform: Platform, command: Command, payload: dict[str, Any]) -> list[dict[str, Any]]:
    if command == Command.ORDER:
        order = shops.shopify_order(payload) if platform == Platform.SHOPIFY else shops.woocommerce_order(payload)
        return await orders.batch_upsert(ctx, [order])
    if command == Command.CUSTOMER:
        customer = (
            shops.shopify_customer(payload) if platform == Platform.SHOPIFY else shops.woocommerce_customer(payload)
        )
        return await customers.batch_upsert(ctx, [customer])
    # a Shopify refund of an order synced before (its orders/updated also carries the refund)
    order_external_id = str(payload.get("order_id") or "")
    stored = await ctx.orders.stored([(platform.value, order_external_id)])
    found = stored.get((platform.value, order_external_id))
    if found is None:
        raise InvalidInput.field(
            "order_id",
            "no order with this id was synced from this shop yet; its next orders/updated carries the refund",
        )
    synced = await orders.get(ctx, found["id"])
    refund = shops.shopify_refund(payload, synced["currency"])
    if refund is None:
        return [{"index": 0, "status": "unchanged", "reason": "no money was refunded"}]
    row, created = await orders.add_refund(ctx, found["id"], RefundIn.model_validate(refund.refund), if_match=None)
    return [{"index": 0, "status": "created" if created else "unchanged", "id": str(row["order_id"])}]


async def _privacy(ctx: Context, integration: Row, delivery: Delivery, payload: dict[str, Any]) -> None:
    """Shopify's mandatory privacy topics: `customers/redact` starts an erasure of that customer and
    `customers/data_request` an export (the privacy requests an admin would make, by the customer's
    email, phone and shop id); each is announced with the request's id. The announcement names
    the customer by their shop id only: an event keeps no address an erasure would have to find.
    `shop/redact` queues a `privacy.shop_redact` job erasing every contact that came only from that
    shop (its `job_id` in the announcement)."""
    from app.services.privacy import requests as privacy_requests

    orders_named = payload.get("orders_requested") or payload.get("orders_to_redact") or []
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else None
    request_id = None
    kind = {"customers/redact": privacy_requests.ERASURE, "customers/data_request": privacy_requests.EXPORT}.get(
        delivery.topic
    )
    if kind is not None and customer is not None:
        shop_id = str(customer.get("id") or "").strip()
        shop_ids = ((Platform(integration["platform"]).value, shop_id),) if shop_id else ()
        known = {k: customer.get(k) for k in ("email", "phone") if isinstance(customer.get(k), str) and customer[k]}
        origin = f"{integration['platform']}:{delivery.topic}"
        reason = f"{integration['platform']} {delivery.topic}" if kind == privacy_requests.ERASURE else None
        for identifiers in (known, {}):  # an unusable email or phone: by the shop id alone
            try:
                row = await privacy_requests.create(
                    ctx, kind, identifiers, reason=reason, origin=origin, shop_ids=shop_ids
                )
            except InvalidInput:
                if not identifiers:
                    raise
                continue
            request_id = row["id"] if row is not None else None
            break
    job_id = None
    if delivery.topic == "shop/redact":
        from app.services.events import jobs

        params = {"integration_id": str(integration["id"]), "platform": Platform(integration["platform"]).value}
        job_id = (await jobs.enqueue(ctx, "privacy.shop_redact", params))["id"]
    data = PrivacyRequest(
        integration_id=integration["id"],
        platform=Platform(integration["platform"]),
        topic=delivery.topic,
        shop_domain=payload.get("shop_domain") or delivery.shop,
        customer={"id": customer.get("id")} if customer is not None else None,
        orders=orders_named if isinstance(orders_named, list) else [],
        privacy_request_id=request_id,
        job_id=job_id,
        received_at=ctx.now,
    )
    await events.record(ctx, types.INTEGRATION_PRIVACY_REQUEST, data, resource_id=integration["id"])


def actor_of(integration: Row) -> Actor:
    return Actor("integration", str(integration["id"]))
