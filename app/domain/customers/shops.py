"""Shop platforms' webhooks (Shopify, WooCommerce): their signatures and the mapping of their
payloads onto the order sync's commands (an order, a shop customer, a refund). Pure: the
payloads come in as parsed JSON. An order goes out as the document of an `OrderCommand` (an item
of `POST /v1/orders/batch`, `OrderDocument`), which the order sync validates by the API's own
rules into the command: an order from a webhook and the same order sent to the API make the same
command, with the same content hash. A shop customer goes out as an item of
`POST /v1/customers/batch`. A payload that cannot be mapped raises `Unmappable` naming the field."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from app.domain.customers.orders import OrderStatus
from app.domain.money import round_to_currency
from app.domain.workspace.workspaces import is_currency

# An order-sync command as the API takes it (`OrderCommand`'s fields, times and amounts as text).
OrderDocument = dict[str, Any]


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


class Command(StrEnum):
    """What a topic asks of the CRM."""

    ORDER = "order"
    CUSTOMER = "customer"
    REFUND = "refund"
    PRIVACY = "privacy"  # recorded and announced for a person to act on
    IGNORED = "ignored"  # acknowledged and logged


SHOPIFY_TOPICS: dict[str, Command] = {
    "orders/create": Command.ORDER,
    "orders/updated": Command.ORDER,
    "orders/paid": Command.ORDER,
    "orders/cancelled": Command.ORDER,
    "orders/fulfilled": Command.ORDER,
    "orders/partially_fulfilled": Command.ORDER,
    "refunds/create": Command.REFUND,
    "customers/create": Command.CUSTOMER,
    "customers/update": Command.CUSTOMER,
    "customers/data_request": Command.PRIVACY,
    "customers/redact": Command.PRIVACY,
    "shop/redact": Command.PRIVACY,
}
WOOCOMMERCE_TOPICS: dict[str, Command] = {
    "order.created": Command.ORDER,
    "order.updated": Command.ORDER,
    "order.restored": Command.ORDER,
    "customer.created": Command.CUSTOMER,
    "customer.updated": Command.CUSTOMER,
}


def command_for(platform: Platform, topic: str) -> Command:
    topics = SHOPIFY_TOPICS if platform == Platform.SHOPIFY else WOOCOMMERCE_TOPICS
    return topics.get(topic.strip().lower(), Command.IGNORED)


class Unmappable(ValueError):
    """A verified payload the CRM cannot turn into a command; `field` is a dotted path in it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def signature(secret: str, body: bytes) -> str:
    """The platforms' webhook signature: base64 of HMAC-SHA256 over the raw body (Shopify's
    X-Shopify-Hmac-Sha256, WooCommerce's X-WC-Webhook-Signature)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_valid(secret: str, body: bytes, presented: str | None) -> bool:
    """Constant-time comparison of the presented signature with the body's."""
    if not presented:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), presented.strip().encode())


def from_shop(expected_domain: str | None, presented: str | None) -> bool:
    """Shopify names the shop a delivery comes from (X-Shopify-Shop-Domain, its myshopify.com
    domain). A Shopify app's secret signs the deliveries of every shop that installed it, so a
    valid signature alone does not say which shop sent it: the header must name this
    integration's shop (stored lower-cased; header names and hosts are case-insensitive)."""
    if not expected_domain or not presented:
        return False
    return presented.strip().lower() == expected_domain


@dataclass(frozen=True)
class RefundCommand:
    order_external_id: str
    refund: dict[str, Any]  # a RefundIn


# -- helpers ---------------------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


def _id(value: Any) -> str | None:
    if value is None or value == "" or value == 0:
        return None
    return str(value)


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, (dict, list, bool)):
        raise Unmappable(field, f"not a decimal amount: {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise Unmappable(field, f"not a decimal amount: {value!r}") from exc
    if not amount.is_finite() or abs(amount) >= _TOO_LARGE:
        raise Unmappable(field, f"not a decimal amount this CRM takes: {value!r}")
    return amount


_TOO_LARGE = Decimal(10) ** 15


def _obj(value: Any, field: str) -> Mapping[str, Any]:
    """A nested object of the payload (absent or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Unmappable(field, "not an object")
    return value


def _objects(value: Any, field: str) -> list[Mapping[str, Any]]:
    """A list of objects (absent or null: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unmappable(field, "not a list")
    return [_obj(item, f"{field}.{index}") for index, item in enumerate(value)]


def _quantity(value: Any, field: str) -> int:
    amount = _decimal(value if value not in (None, "") else 0, field)
    if amount < 0 or amount != amount.to_integral_value():
        raise Unmappable(field, f"not a whole, non-negative quantity: {value!r}")
    return int(amount)


def _money(amount: Decimal, currency: str) -> str:
    """A non-negative amount as a decimal string with the currency's decimals (half-even)."""
    return str(round_to_currency(max(amount, Decimal(0)), currency))


def _currency(value: Any) -> str:
    code = str(value).strip().upper()
    if not is_currency(code):
        raise Unmappable("currency", f"not an ISO 4217 currency code: {value!r}")
    return code


def _required(payload: Mapping[str, Any], field: str) -> Any:
    value = payload.get(field)
    if value is None or value == "":
        raise Unmappable(field, "missing")
    return value


_OFFSET = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def _utc_naive(value: Any, field: str) -> str:
    """WooCommerce's `*_gmt` times carry no offset: they are UTC."""
    if not value:
        raise Unmappable(field, "missing")
    text = str(value)
    return text if _OFFSET.search(text[10:]) else f"{text}+00:00"


# -- Shopify -----------------------------------------------------------------------------------------


def _shop_money(payload: Mapping[str, Any], name: str, currency: str, plain: str | None = None) -> Decimal | None:
    """A Shopify amount in the order's (presentment) currency: `<name>_set.presentment_money`, else
    the plain field when the order has no separate presentment currency."""
    money_set = _obj(payload.get(f"{name}_set"), f"{name}_set")
    presentment = _obj(money_set.get("presentment_money"), f"{name}_set.presentment_money")
    if presentment.get("amount") is not None and presentment.get("currency_code") in (None, currency):
        return _decimal(presentment["amount"], f"{name}_set.presentment_money.amount")
    value = payload.get(plain or name)
    if value is None or value == "":
        return None
    return _decimal(value, plain or name)


def _shopify_address(address: Mapping[str, Any] | None, kind: str) -> dict[str, Any] | None:
    if not address:
        return None
    country = _text(address.get("country_code"), 2)
    values = {
        "type": kind,
        "country": country.upper() if country else None,
        "province": _text(address.get("province"), 200),
        "city": _text(address.get("city"), 200),
        "postal_code": _text(address.get("zip"), 32),
        "line1": _text(address.get("address1"), 500),
        "line2": _text(address.get("address2"), 500),
    }
    return values if any(v for k, v in values.items() if k != "type") else None


def _shopify_person(customer: Mapping[str, Any], fallback: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "email": _text(customer.get("email") or fallback.get("email") or fallback.get("contact_email"), 320),
        "phone": _text(customer.get("phone") or fallback.get("phone"), 64),
        "first_name": _text(customer.get("first_name") or fallback.get("first_name"), 200),
        "last_name": _text(customer.get("last_name") or fallback.get("last_name"), 200),
    }


def shopify_customer(payload: Mapping[str, Any]) -> dict[str, Any]:
    """customers/create, customers/update: a CustomerSync."""
    external_id = _id(payload.get("id"))
    if external_id is None:
        raise Unmappable("id", "missing")
    addresses = [_shopify_address(a, "shipping") for a in _objects(payload.get("addresses"), "addresses")]
    if not any(addresses) and payload.get("default_address"):
        addresses = [_shopify_address(_obj(payload["default_address"], "default_address"), "shipping")]
    return {
        "source": Platform.SHOPIFY.value,
        "external_id": external_id,
        **_shopify_person(payload, {}),
        "addresses": [a for a in addresses if a][:20],
    }


def _shopify_status(payload: Mapping[str, Any]) -> OrderStatus:
    if payload.get("cancelled_at"):
        return OrderStatus.CANCELLED
    financial = (payload.get("financial_status") or "pending").lower()
    if financial == "refunded":
        return OrderStatus.REFUNDED
    if financial == "partially_refunded":
        return OrderStatus.PARTIALLY_REFUNDED
    if financial in ("voided", "expired"):
        return OrderStatus.CANCELLED
    if financial == "paid":
        return OrderStatus.FULFILLED if payload.get("fulfillment_status") == "fulfilled" else OrderStatus.PAID
    return OrderStatus.PENDING  # pending, authorized, partially_paid


def _shopify_refund_amount(refund: Mapping[str, Any], currency: str) -> Decimal:
    """What a refund gave back, in the order's currency: its successful refund transactions; else
    (none in that currency) its refunded lines, their tax and its adjustments."""
    total = Decimal(0)
    for transaction in _objects(refund.get("transactions"), "transactions"):
        if (transaction.get("kind") or "refund") != "refund" or transaction.get("status") not in (None, "success"):
            continue
        if transaction.get("amount_set") or transaction.get("currency") in (None, currency):
            total += _shop_money(transaction, "amount", currency) or Decimal(0)
    if total == 0:
        for line in _objects(refund.get("refund_line_items"), "refund_line_items"):
            total += _shop_money(line, "subtotal", currency) or Decimal(0)
            total += _shop_money(line, "total_tax", currency) or Decimal(0)
        for adjustment in _objects(refund.get("order_adjustments"), "order_adjustments"):
            total -= _shop_money(adjustment, "amount", currency) or Decimal(0)  # negative: money back
    return total


def _shopify_refund(refund: Mapping[str, Any], currency: str, field: str) -> dict[str, Any] | None:
    refund_id = _id(refund.get("id"))
    if refund_id is None:
        raise Unmappable(f"{field}.id", "missing")
    amount = _shopify_refund_amount(refund, currency)
    if amount <= 0:
        return None  # a restock or note without money back
    return {
        "external_id": refund_id,
        "amount": _money(amount, currency),
        "reason": _text(refund.get("note"), 500),
        "refunded_at": refund.get("processed_at") or _required(refund, "created_at"),
    }


def shopify_refund(payload: Mapping[str, Any], currency: str) -> RefundCommand | None:
    """refunds/create: the refund of an order already synced (its currency given)."""
    order_id = _id(payload.get("order_id"))
    if order_id is None:
        raise Unmappable("order_id", "missing")
    refund = _shopify_refund(payload, currency, "refund")
    return RefundCommand(order_id, refund) if refund else None


def shopify_order(payload: Mapping[str, Any]) -> OrderDocument:
    """orders/create, updated, paid, cancelled, fulfilled: an order-sync command. The order's currency is the
    buyer's (presentment) one; the shop's own money is passed as the reporting amount (the orders
    service uses it only when it is in the workspace's currency)."""
    external_id = _id(payload.get("id"))
    if external_id is None:
        raise Unmappable("id", "missing")
    # The buyer's currency when the payload carries its amounts (`*_set.presentment_money`); else
    # the plain amounts, which are in the shop's currency.
    total_set = _obj(_obj(payload.get("total_price_set"), "total_price_set").get("presentment_money"),
                     "total_price_set.presentment_money")  # fmt: skip
    if total_set.get("amount") is not None and (total_set.get("currency_code") or payload.get("presentment_currency")):
        currency = _currency(total_set.get("currency_code") or payload.get("presentment_currency"))
    else:
        currency = _currency(_required(payload, "currency"))
    total = _shop_money(payload, "total_price", currency)
    if total is None:
        raise Unmappable("total_price", "missing")
    customer = _obj(payload.get("customer"), "customer")
    billing = _obj(payload.get("billing_address"), "billing_address")
    shipping = _obj(payload.get("shipping_address"), "shipping_address")
    person = _shopify_person(customer, {**billing, **{k: payload.get(k) for k in ("email", "contact_email")}})
    if not person["phone"]:
        person["phone"] = _text(billing.get("phone") or shipping.get("phone"), 64)
    addresses = [
        _shopify_address(billing, "billing"),
        _shopify_address(shipping, "shipping"),
    ]
    buyer = {"external_id": _id(customer.get("id")), **person, "addresses": [a for a in addresses if a]}
    has_buyer = buyer["external_id"] or buyer["email"] or buyer["phone"]
    refunds = []
    for index, refund in enumerate(_objects(payload.get("refunds"), "refunds")):
        mapped = _shopify_refund(refund, currency, f"refunds.{index}")
        if mapped:
            refunds.append(mapped)
    shop = _obj(_obj(payload.get("total_price_set"), "total_price_set").get("shop_money"), "total_price_set.shop_money")
    codes = _objects(payload.get("discount_codes"), "discount_codes")
    placed_at = payload.get("processed_at") or _required(payload, "created_at")

    def amount(name: str, plain: str | None = None) -> str:
        return _money(_shop_money(payload, name, currency, plain) or Decimal(0), currency)

    subtotal = _shop_money(payload, "subtotal_price", currency)
    return {
        "source": Platform.SHOPIFY.value,
        "external_id": external_id,
        "customer": buyer if has_buyer else None,
        "status": _shopify_status(payload).value,
        "currency": currency,
        "subtotal": _money(subtotal, currency) if subtotal is not None else None,
        "discount": amount("total_discounts"),
        "tax": amount("total_tax"),
        "shipping": amount("total_shipping_price"),
        "total": _money(total, currency),
        "reporting_total": str(shop["amount"]) if shop.get("amount") is not None else None,
        "reporting_currency": str(shop["currency_code"]).upper() if shop.get("currency_code") else None,
        "placed_at": placed_at,
        "source_updated_at": payload.get("updated_at") or placed_at,
        "coupon": _text(codes[0].get("code"), 100) if codes and isinstance(codes[0], Mapping) else None,
        "sales_channel": _text(payload.get("source_name"), 100),
        "line_items": [_shopify_line(line, currency, index) for index, line in enumerate(_lines(payload))],
        "refunds": refunds,
    }


def _lines(payload: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    return _objects(payload.get("line_items"), "line_items")


def _shopify_line(line: Mapping[str, Any], currency: str, index: int) -> dict[str, Any]:
    field = f"line_items.{index}"
    quantity = _quantity(line.get("quantity"), f"{field}.quantity")
    price = _shop_money(line, "price", currency)
    if price is None:
        raise Unmappable(f"{field}.price", "missing")
    discount = _shop_money(line, "total_discount", currency) or Decimal(0)
    return {
        "sku": _text(line.get("sku"), 255),
        "name": _text(line.get("name") or line.get("title"), 500),
        "quantity": quantity,
        "unit_price": _money(price, currency),
        "total": _money(price * quantity - discount, currency) if discount else None,
    }


# -- WooCommerce -------------------------------------------------------------------------------------

_WOO_STATUS = {
    "pending": OrderStatus.PENDING,
    "on-hold": OrderStatus.PENDING,
    "checkout-draft": OrderStatus.PENDING,
    "processing": OrderStatus.PAID,
    "completed": OrderStatus.FULFILLED,
    "cancelled": OrderStatus.CANCELLED,
    "failed": OrderStatus.CANCELLED,
    "trash": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
}


def _woo_address(address: Mapping[str, Any] | None, kind: str) -> dict[str, Any] | None:
    if not address:
        return None
    country = _text(address.get("country"), 2)
    values = {
        "type": kind,
        "country": country.upper() if country else None,
        "province": _text(address.get("state"), 200),
        "city": _text(address.get("city"), 200),
        "postal_code": _text(address.get("postcode"), 32),
        "line1": _text(address.get("address_1"), 500),
        "line2": _text(address.get("address_2"), 500),
    }
    return values if any(v for k, v in values.items() if k != "type") else None


def _woo_person(payload: Mapping[str, Any]) -> dict[str, Any]:
    billing = _obj(payload.get("billing"), "billing")
    return {
        "email": _text(payload.get("email") or billing.get("email"), 320),
        "phone": _text(billing.get("phone") or _obj(payload.get("shipping"), "shipping").get("phone"), 64),
        "first_name": _text(payload.get("first_name") or billing.get("first_name"), 200),
        "last_name": _text(payload.get("last_name") or billing.get("last_name"), 200),
    }


def woocommerce_customer(payload: Mapping[str, Any]) -> dict[str, Any]:
    external_id = _id(payload.get("id"))
    if external_id is None:
        raise Unmappable("id", "missing")
    addresses = [_woo_address(_obj(payload.get("billing"), "billing"), "billing"),
                 _woo_address(_obj(payload.get("shipping"), "shipping"), "shipping")]  # fmt: skip
    return {
        "source": Platform.WOOCOMMERCE.value,
        "external_id": external_id,
        **_woo_person(payload),
        "addresses": [a for a in addresses if a],
    }


def woocommerce_order(payload: Mapping[str, Any]) -> OrderDocument:
    """order.created, order.updated, order.restored: an order-sync command (from a WooCommerce REST
    API v3 order)."""
    external_id = _id(payload.get("id"))
    if external_id is None:
        raise Unmappable("id", "missing")
    currency = _currency(_required(payload, "currency"))
    status = _WOO_STATUS.get(str(payload.get("status") or "pending"), OrderStatus.PENDING)
    total = _decimal(_required(payload, "total"), "total")
    refunds, refunded = [], Decimal(0)
    modified = _utc_naive(payload.get("date_modified_gmt") or payload.get("date_created_gmt"), "date_modified_gmt")
    for index, refund in enumerate(_objects(payload.get("refunds"), "refunds")):
        amount = abs(_decimal(refund.get("total") or 0, f"refunds.{index}.total"))
        refund_id = _id(refund.get("id"))
        if refund_id is None:
            raise Unmappable(f"refunds.{index}.id", "missing")
        if amount:
            refunded += amount
            reason = _text(refund.get("reason") or refund.get("refund"), 500)  # docs' examples say "refund"
            refunds.append({"external_id": refund_id, "amount": _money(amount, currency), "reason": reason,
                            "refunded_at": modified})  # fmt: skip
    if refunded and status in (OrderStatus.PAID, OrderStatus.FULFILLED):
        status = OrderStatus.REFUNDED if refunded >= total else OrderStatus.PARTIALLY_REFUNDED
    person = _woo_person(payload)
    addresses = [_woo_address(_obj(payload.get("billing"), "billing"), "billing"),
                 _woo_address(_obj(payload.get("shipping"), "shipping"), "shipping")]  # fmt: skip
    buyer = {"external_id": _id(payload.get("customer_id")), **person, "addresses": [a for a in addresses if a]}
    coupons = _objects(payload.get("coupon_lines"), "coupon_lines")

    def money(name: str) -> str:
        return _money(_decimal(payload.get(name) or 0, name), currency)

    return {
        "source": Platform.WOOCOMMERCE.value,
        "external_id": external_id,
        "customer": buyer if buyer["external_id"] or buyer["email"] or buyer["phone"] else None,
        "status": status.value,
        "currency": currency,
        "discount": money("discount_total"),
        "tax": money("total_tax"),
        "shipping": money("shipping_total"),
        "total": _money(total, currency),
        "placed_at": _utc_naive(payload.get("date_created_gmt"), "date_created_gmt"),
        "source_updated_at": modified,
        "coupon": _text(coupons[0].get("code"), 100) if coupons and isinstance(coupons[0], Mapping) else None,
        "sales_channel": _text(payload.get("created_via"), 100),
        "line_items": [_woo_line(line, currency, index) for index, line in enumerate(_lines(payload))],
        "refunds": refunds,
    }


def _woo_line(line: Mapping[str, Any], currency: str, index: int) -> dict[str, Any]:
    field = f"line_items.{index}"
    quantity = _quantity(line.get("quantity"), f"{field}.quantity")
    subtotal = _decimal(line.get("subtotal") or 0, f"{field}.subtotal")
    total = _decimal(line.get("total") if line.get("total") not in (None, "") else subtotal, f"{field}.total")
    unit = subtotal / quantity if quantity else _decimal(line.get("price") or 0, f"{field}.price")
    return {
        "sku": _text(line.get("sku"), 255),
        "name": _text(html.unescape(str(line["name"])) if line.get("name") else None, 500),
        "quantity": quantity,
        "unit_price": _money(unit, currency),
        "total": _money(total, currency),
    }


# -- the people a payload names ----------------------------------------------------------------------

_PERSONAL_KEY = re.compile(r"(?:^|_)(email|phone)$")


@dataclass(frozen=True)
class Named:
    """The emails and phone numbers a payload carries, as typed, and its customer's shop id."""

    emails: tuple[str, ...]
    phones: tuple[str, ...]
    customer_id: str | None


def people_named(platform: Platform, command: Command, payload: Any, *, limit: int = 20) -> Named:
    """Who a payload is about, read without mapping it (a payload kept because it could not be
    mapped must still be found by an erasure): every text under a key named `email` or `phone`
    (or ending `_email`, `_phone`: `contact_email`, `billing_phone`) at any depth, at most `limit`
    of each, and the customer's id on the shop (its own id on a customer topic, the order's
    customer's otherwise)."""
    emails: list[str] = []
    phones: list[str] = []
    stack = [payload]
    while stack and (len(emails) < limit or len(phones) < limit):
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, value in item.items():
                found = _PERSONAL_KEY.search(key.lower()) if isinstance(key, str) else None
                if found is not None and isinstance(value, str) and value.strip():
                    into = emails if found.group(1) == "email" else phones
                    if len(into) < limit and value.strip() not in into:
                        into.append(value.strip()[:320])
                elif isinstance(value, Mapping | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    customer_id = None
    if isinstance(payload, Mapping):
        if command == Command.CUSTOMER:
            customer_id = _id(payload.get("id"))
        elif platform == Platform.SHOPIFY and isinstance(payload.get("customer"), Mapping):
            customer_id = _id(payload["customer"].get("id"))
        elif platform == Platform.WOOCOMMERCE:
            customer_id = _id(payload.get("customer_id"))
    if customer_id is not None and (isinstance(customer_id, bool) or len(customer_id) > 200):
        customer_id = None
    return Named(tuple(emails), tuple(phones), customer_id)
