"""Shop webhook signatures and payload mapping, without a database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from app.domain.customers import shops
from app.domain.customers.shops import Command, Platform, Unmappable

DATA = Path(__file__).parent.parent / "data"


def _sample(platform: str, name: str) -> dict:  # type: ignore[type-arg]
    return dict(json.loads((DATA / platform / f"{name}.json").read_text()))


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = (DATA / "shopify" / "orders_create.json").read_bytes()
    expected = base64.b64encode(hmac.new(b"secret-1", body, hashlib.sha256).digest()).decode()
    assert shops.signature("secret-1", body) == expected
    assert shops.signature_valid("secret-1", body, expected)
    assert shops.signature_valid("secret-1", body, f" {expected}\n")  # header whitespace
    assert not shops.signature_valid("secret-2", body, expected)
    assert not shops.signature_valid("secret-1", body + b"\n", expected)
    assert not shops.signature_valid("secret-1", body, None)
    assert not shops.signature_valid("secret-1", body, "")


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"financial_status": "pending"}, "pending"),
        ({"financial_status": "authorized"}, "pending"),
        ({"financial_status": "paid"}, "paid"),
        ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, "fulfilled"),
        ({"financial_status": "partially_refunded"}, "partially_refunded"),
        ({"financial_status": "refunded"}, "refunded"),
        ({"financial_status": "voided"}, "cancelled"),
        ({"financial_status": "paid", "cancelled_at": "2026-01-01T00:00:00Z"}, "cancelled"),
    ],
)
def test_shopify_order_status(changes: dict, status: str) -> None:  # type: ignore[type-arg]
    payload = {**_sample("shopify", "orders_create"), "cancelled_at": None, "fulfillment_status": None, **changes}
    assert shops.shopify_order(payload)["status"] == status


def test_shopify_refund_in_another_currency_falls_back_to_its_lines() -> None:
    refund = _sample("shopify", "refunds_create")
    for transaction in refund["transactions"]:
        transaction["currency"] = "CAD"  # not the order's: not summed
    command = shops.shopify_refund(refund, "USD")
    assert command is not None and command.order_external_id == "820982911946154508"
    lines = sum(float(li["subtotal_set"]["presentment_money"]["amount"]) for li in refund["refund_line_items"])
    assert command.refund["amount"] == f"{lines:.2f}"
    assert shops.shopify_refund({**refund, "transactions": [], "refund_line_items": []}, "USD") is None


def test_woocommerce_unit_prices_round_half_even_and_times_are_utc() -> None:
    order = _sample("woocommerce", "order_created")
    order["line_items"][0].update(quantity=3, subtotal="10.00", total="10.00")
    mapped = shops.woocommerce_order(order)
    assert mapped["line_items"][0]["unit_price"] == "3.33" and mapped["line_items"][0]["total"] == "10.00"
    assert mapped["placed_at"] == "2017-03-22T19:28:02+00:00"
    assert shops.woocommerce_order({**order, "date_created_gmt": "2017-03-22T19:28:02Z"})["placed_at"].endswith("Z")


def test_unmappable_payloads_name_the_field() -> None:
    order = _sample("woocommerce", "order_created")
    for broken, field in (
        ({**order, "currency": "dollars"}, "currency"),
        ({**order, "total": "lots"}, "total"),
        ({**order, "id": None}, "id"),
        ({**order, "date_created_gmt": None}, "date_created_gmt"),
    ):
        with pytest.raises(Unmappable) as caught:
            shops.woocommerce_order(broken)
        assert caught.value.field == field


def test_topics() -> None:
    assert shops.command_for(Platform.SHOPIFY, "orders/paid") == Command.ORDER
    assert shops.command_for(Platform.SHOPIFY, "ORDERS/UPDATED") == Command.ORDER
    assert shops.command_for(Platform.SHOPIFY, "shop/redact") == Command.PRIVACY
    assert shops.command_for(Platform.SHOPIFY, "products/create") == Command.IGNORED
    assert shops.command_for(Platform.WOOCOMMERCE, "order.updated") == Command.ORDER
    assert shops.command_for(Platform.WOOCOMMERCE, "order.deleted") == Command.IGNORED


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o["line_items"][0].update(quantity=2.7), "line_items.0.quantity"),
        (lambda o: o["line_items"][0].update(quantity=-1), "line_items.0.quantity"),
        (lambda o: o.update(customer="guest"), "customer"),
        (lambda o: o.update(line_items=[1]), "line_items.0"),
        (lambda o: o.update(refunds={}), "refunds"),
        (lambda o: o.update(total_price_set="x"), "total_price_set"),
        (lambda o: (o.pop("total_price_set"), o.update(total_price="1e30")), "total_price"),
    ],
)
def test_odd_shapes_are_unmappable_naming_the_field(change, field: str) -> None:  # type: ignore[no-untyped-def]
    import copy

    order = copy.deepcopy(_sample("shopify", "orders_create"))
    change(order)
    with pytest.raises(Unmappable) as caught:
        shops.shopify_order(order)
    assert caught.value.field == field


def test_plain_amounts_are_in_the_shops_currency_when_there_is_no_presentment_money() -> None:
    order = {"id": 7, "currency": "USD", "presentment_currency": "EUR", "total_price": "10.00",
             "created_at": "2026-01-01T00:00:00Z", "line_items": [{"quantity": "1.0", "price": "10.00"}]}  # fmt: skip
    mapped = shops.shopify_order(order)
    assert (mapped["currency"], mapped["total"], mapped["line_items"][0]["quantity"]) == ("USD", "10.00", 1)


def test_the_people_a_payload_names_are_read_without_mapping_it() -> None:
    order = {
        "id": 9,
        "email": " jon@example.com ",
        "contact_email": "jon@example.com",
        "customer": {"id": 115310627314723954, "email": "john@example.com", "verified_email": True, "phone": None},
        "billing_address": {"phone": "555-555-SHIP"},
        "line_items": [{"properties": [{"gift_phone": "+14155552671"}]}],
        "total_price": {"unexpected": "shape"},
    }
    named = shops.people_named(shops.Platform.SHOPIFY, shops.Command.ORDER, order)
    assert sorted(named.emails) == ["john@example.com", "jon@example.com"]
    assert sorted(named.phones) == ["+14155552671", "555-555-SHIP"]
    assert named.customer_id == "115310627314723954"
    woo = shops.people_named(
        shops.Platform.WOOCOMMERCE, shops.Command.ORDER, {"customer_id": 0, "billing": {"email": "a@b.io"}}
    )
    assert (woo.emails, woo.phones, woo.customer_id) == (("a@b.io",), (), None)
    customer = shops.people_named(shops.Platform.SHOPIFY, shops.Command.CUSTOMER, {"id": 7, "email": "c@d.io"})
    assert customer.customer_id == "7"
    assert shops.people_named(shops.Platform.SHOPIFY, shops.Command.ORDER, None) == shops.Named((), (), None)
    many = {"emails": [{"email": f"p{i}@x.io"} for i in range(50)]}
    assert len(shops.people_named(shops.Platform.SHOPIFY, shops.Command.ORDER, many, limit=20).emails) == 20
