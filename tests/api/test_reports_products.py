"""The products report through HTTP on both databases, checked against a small shop counted by
hand: units, revenue (converted, refunds shared out), margin (the orders' cost shared over their
lines), customers and repeat rate per product, category and period; sorting, limits, the category
filter, CSV, bad input, scopes and tenancy."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from tests.api.test_analytics import order, sync
from tests.conftest import Tenant, assert_problem
from tests.documented import assert_documented

JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}


def line(sku: str | None, quantity: int, unit_price: str, category: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"quantity": quantity, "unit_price": unit_price, "name": f"Item {sku or 'loose'}"}
    if sku is not None:
        found["sku"] = sku
    if category is not None:
        found["category"] = category
    return found


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


async def seeded(tenant: Tenant) -> None:
    """A, B: shoes; C: hats; a line without SKU: misc. Worked out in the test below."""
    a, b, c = (lambda q: line("A", q, "10.00", "shoes")), (lambda q: line("B", q, "30.00", "shoes")), (
        lambda q: line("C", q, "5.00", "hats"))  # fmt: skip
    await sync(tenant, [
        order("o1", "alice", day("2026-01-05"), "50.00", line_items=[a(2), b(1)], cost="20.00"),
        order("o2", "alice", day("2026-01-12"), "10.00", line_items=[a(1)], cost="4.00"),
        # 5.00 of shipping (no product's); a fifth refunded: each line keeps 4/5 of its total.
        order("o3", "bob", day("2026-01-20"), "30.00", line_items=[a(1), c(3)], cost="10.00", shipping="5.00",
              status="partially_refunded", refunded_total="6.00"),
        order("o4", "carol", day("2026-01-25"), "7.00", line_items=[c(1), line(None, 1, "2.00", "misc")]),
        order("o5", "dave", day("2026-01-26"), "50.00", line_items=[a(5)], cost="1.00", status="cancelled"),
        order("o6", "erin", day("2026-01-27"), "30.00", line_items=[b(1)], status="refunded", refunded_total="30.00"),
        {**order("o7", "nobody", day("2026-01-28"), "10.00", line_items=[a(1)], cost="5.00"), "customer": None},
        # No EUR rate yet: units and customers count, revenue waits.
        order("o9", "frank", day("2026-01-29"), "60.00", line_items=[b(2)], cost="30.00", currency="EUR"),
        order("o0", "alice", day("2025-12-31"), "10.00", line_items=[a(1)], cost="1.00"),  # before the range
        order("o10", "alice", day("2026-02-01"), "10.00", line_items=[a(1)], cost="1.00"),  # after it
    ])  # fmt: skip


def figures(rows: list[dict[str, Any]], key: str) -> dict[Any, tuple[Any, ...]]:
    return {r[key]: (r["units"], r["revenue"], r["margin"], r["customers"], r["repeat_rate"]) for r in rows}


async def test_products_and_categories_counted_by_hand(tenant: Tenant) -> None:
    await seeded(tenant)
    answer = await tenant.get("/v1/reports/products", params={**JANUARY, "interval": "week"})
    assert answer.status_code == 200, answer.text
    assert_documented(answer, "/v1/reports/products")
    report = answer.json()
    assert (report["from"], report["to"], report["interval"], report["currency"]) == (
        "2026-01-01", "2026-01-31", "week", "USD")  # fmt: skip
    # A: o1 2 x 10 (cost 20 x 20/50 = 8), o2 10 (cost 4), o3 10 x 24/30 = 8 (cost 10 x 10/25 = 4), o7 10 (cost 5).
    # B: o1 30 (cost 20 x 30/50 = 12), o9 two units unconverted. C: o3 15 x 24/30 = 12, o4 5 without a cost.
    assert figures(report["products"], "sku") == {
        "A": (5, "48.00", "27.00", 2, 0.5),  # alice twice, bob once
        "B": (3, "30.00", "18.00", 2, 0.0),
        "C": (4, "17.00", None, 2, 0.0),
        None: (1, "2.00", None, 1, 0.0),
    }
    assert [p["sku"] for p in report["products"]] == ["A", "B", "C", None]  # by revenue
    assert [(p["name"], p["category"]) for p in report["products"]][:3] == [
        ("Item A", "shoes"), ("Item B", "shoes"), ("Item C", "hats")]  # fmt: skip
    assert figures(report["categories"], "category") == {
        "shoes": (8, "78.00", "45.00", 3, 0.3333),  # alice (o1, o2), bob, frank
        "hats": (4, "17.00", None, 2, 0.0),
        "misc": (1, "2.00", None, 1, 0.0),
    }
    assert report["unconverted_orders"] == 1
    weeks = [(p["label"], p["start_date"], p["end_date"], p["units"], p["revenue"]) for p in report["periods"]]
    assert weeks == [
        ("2025-12-29", "2026-01-01", "2026-01-04", 0, "0.00"),
        ("2026-01-05", "2026-01-05", "2026-01-11", 3, "50.00"),
        ("2026-01-12", "2026-01-12", "2026-01-18", 1, "10.00"),
        ("2026-01-19", "2026-01-19", "2026-01-25", 6, "27.00"),
        ("2026-01-26", "2026-01-26", "2026-01-31", 3, "10.00"),
    ]
    # The same figures per period: margin (null with an order without cost: o4), customers, repeat rate.
    assert [(p["margin"], p["customers"], p["repeat_rate"]) for p in report["periods"]] == [
        ("0.00", 0, None), ("30.00", 1, 0.0), ("6.00", 1, 0.0), (None, 2, 0.0), ("5.00", 1, 0.0)]  # fmt: skip
    month = (await tenant.get("/v1/reports/products", params={**JANUARY, "interval": "month"})).json()["periods"]
    assert [(p["label"], p["display_label"], p["units"], p["revenue"]) for p in month] == [
        ("2026-01", "January 2026", 13, "97.00")]  # fmt: skip
    # alice, bob, carol and frank bought in January; alice twice (o1, o2).
    assert [(p["margin"], p["customers"], p["repeat_rate"]) for p in month] == [(None, 4, 0.25)]


async def test_sorting_limits_groups_and_the_category_filter(tenant: Tenant) -> None:
    await seeded(tenant)

    async def skus(**params: Any) -> list[Any]:
        answer = await tenant.get("/v1/reports/products", params={**JANUARY, **params})
        assert answer.status_code == 200, answer.text
        return [p["sku"] for p in answer.json()["products"]]

    assert await skus(sort="units") == ["A", "C", "B", None]
    assert await skus(sort="margin") == ["A", "B", "C", None]  # unknown margins last, then by units
    assert await skus(sort="customers", limit=3) == ["A", "C", "B"]  # ties by units
    assert await skus(limit=1) == ["A"]
    only = (await tenant.get("/v1/reports/products", params={**JANUARY, "group": "category"})).json()
    assert only["products"] == [] and [c["category"] for c in only["categories"]] == ["shoes", "hats", "misc"]
    shoes = (await tenant.get("/v1/reports/products", params={**JANUARY, "category": "shoes",
                                                              "interval": "month"})).json()  # fmt: skip
    # A's cost share is still of all o3's lines (the hat's too): its margin does not move.
    assert figures(shoes["products"], "sku") == {"A": (5, "48.00", "27.00", 2, 0.5), "B": (3, "30.00", "18.00", 2, 0.0)}
    assert [c["category"] for c in shoes["categories"]] == ["shoes"]
    assert [(p["units"], p["revenue"]) for p in shoes["periods"]] == [(8, "78.00")]
    # Nothing sold in a range: empty lists, zero periods.
    empty = (await tenant.get("/v1/reports/products", params={"from": "2026-03-01", "to": "2026-03-02",
                                                              "interval": "day"})).json()  # fmt: skip
    assert (empty["products"], empty["categories"], empty["unconverted_orders"]) == ([], [], 0)
    assert [p["revenue"] for p in empty["periods"]] == ["0.00", "0.00"]


async def test_csv(tenant: Tenant) -> None:
    await seeded(tenant)
    answer = await tenant.get("/v1/reports/products", params={**JANUARY, "interval": "month"},
                              headers={"Accept": "text/csv"})  # fmt: skip
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    first = rows[0]
    assert (
        first["section"],
        first["sku"],
        first["category"],
        first["units"],
        first["revenue"],
        first["margin"],
        first["customers"],
        first["repeat_rate"],
    ) == ("product", "A", "shoes", "5", "48.00", "27.00", "2", "0.5")
    assert [r["margin"] for r in rows if r["section"] == "product"] == ["27.00", "18.00", "", ""]
    assert [r["category"] for r in rows if r["section"] == "category"] == ["shoes", "hats", "misc"]
    [period] = [r for r in rows if r["section"] == "period"]
    assert (
        period["label"],
        period["units"],
        period["revenue"],
        period["margin"],
        period["customers"],
        period["repeat_rate"],
    ) == ("2026-01", "13", "97.00", "", "4", "0.25")
    assert_problem(await tenant.get("/v1/reports/products", headers={"Accept": "image/png"}), 406)


async def test_bad_input_names_the_field(tenant: Tenant) -> None:
    assert_problem(await tenant.get("/v1/reports/products", params={"from": "2026-02-01", "to": "2026-01-01"}),
                   422, "from")  # fmt: skip
    assert_problem(await tenant.get("/v1/reports/products", params={"limit": 0}), 422, "limit")
    assert_problem(await tenant.get("/v1/reports/products", params={"limit": 501}), 422, "limit")
    assert_problem(await tenant.get("/v1/reports/products", params={"sort": "name"}), 422, "sort")
    assert_problem(await tenant.get("/v1/reports/products", params={"group": "sku"}), 422, "group")
    assert_problem(await tenant.get("/v1/reports/products", params={"category": ""}), 422, "category")
    assert_problem(await tenant.get("/v1/reports/products", params={"interval": "fortnight"}), 422, "interval")


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    await seeded(other_tenant)
    mine = (await tenant.get("/v1/reports/products", params=JANUARY)).json()
    assert (mine["products"], mine["categories"], mine["unconverted_orders"]) == ([], [], 0)
    theirs = (await other_tenant.get("/v1/reports/products", params=JANUARY)).json()
    assert len(theirs["products"]) == 4
    assert_problem(await tenant.get("/v1/reports/products", key=await tenant.key_with("orders:read")), 403)
    reader = await tenant.key_with("reports:read")
    assert (await tenant.get("/v1/reports/products", key=reader)).status_code == 200
