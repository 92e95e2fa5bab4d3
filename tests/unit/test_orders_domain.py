"""Order sync decisions (one order, a whole batch), exact currency conversion and customer facts,
without a database."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.customers.orders import (
    Decision,
    Rate,
    Stored,
    acquisition_channel,
    active_until,
    advance,
    convert,
    customer_facts,
    decide,
    decide_batch,
    divide_half_even,
    groups_of,
    minor_of,
    pick_rate,
    proportion,
)
from app.domain.money import from_minor, parser, to_minor
from app.domain.workspace.workspaces import currency_exponent

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "updated", "content", "expected"),
    [
        (None, T0, "a", Decision.CREATE),
        (Stored(T0, "a"), T0 + timedelta(seconds=1), "b", Decision.UPDATE),
        (Stored(T0, "a"), T0, "b", Decision.UPDATE),  # shops' clocks have second resolution
        (Stored(T0, "a"), T0, "a", Decision.IDENTICAL),
        (Stored(T0, "a"), T0 + timedelta(seconds=1), "a", Decision.TOUCH),
        (Stored(T0, "a"), T0 - timedelta(seconds=1), "b", Decision.STALE),
        (Stored(T0, "a"), T0 - timedelta(seconds=1), "a", Decision.STALE),
    ],
)
def test_the_shops_update_time_decides(
    stored: Stored | None, updated: datetime, content: str, expected: Decision
) -> None:
    assert decide(stored, updated, content) == expected


@dataclass(frozen=True)
class _Sent:
    key: tuple[str, str]
    source_updated_at: datetime
    hash: str


def _ids() -> Callable[[], UUID]:
    made = iter(range(100, 200))
    return lambda: UUID(int=next(made))


def test_a_batch_writes_only_what_changed_and_an_unchanged_resend_is_skipped() -> None:
    stored = {("shop", "1"): Stored(T0, "a"), ("shop", "2"): Stored(T0, "a"), ("shop", "3"): Stored(T0, "a")}
    ids = {key: UUID(int=i) for i, key in enumerate(stored, 1)}
    items = [
        _Sent(("shop", "1"), T0, "a"),  # the same content, the same time: a resend
        _Sent(("shop", "2"), T0 - timedelta(seconds=1), "b"),  # older than what is stored
        _Sent(("shop", "3"), T0 + timedelta(seconds=1), "a"),  # newer, the same content: only its time moves
        _Sent(("shop", "4"), T0, "a"),  # new
    ]
    decided, writes = decide_batch(items, stored, ids, _ids())
    assert [(d, i) for _, d, i in decided] == [
        (Decision.IDENTICAL, UUID(int=1)), (Decision.STALE, UUID(int=2)), (Decision.TOUCH, UUID(int=3)),
        (Decision.CREATE, UUID(int=100)),
    ]  # fmt: skip
    assert {key: (item, d) for key, (item, d, _) in writes.items()} == {
        ("shop", "3"): (items[2], Decision.TOUCH), ("shop", "4"): (items[3], Decision.CREATE),
    }  # fmt: skip
    resent, nothing = decide_batch(items[:1], stored, ids, _ids())
    assert [d for _, d, _ in resent] == [Decision.IDENTICAL] and nothing == {}


def test_items_of_one_key_apply_in_batch_order_and_the_final_write_keeps_the_change() -> None:
    stored = {("shop", "1"): Stored(T0, "a")}
    later = T0 + timedelta(seconds=1)
    items = [
        _Sent(("shop", "1"), later, "b"),  # an update
        _Sent(("shop", "1"), later + timedelta(seconds=1), "b"),  # then only its time moves: still the update
        _Sent(("shop", "1"), T0, "c"),  # older than the batch's own earlier item: stale
        _Sent(("shop", "9"), T0, "a"),  # new twice: one order, created with the last content
        _Sent(("shop", "9"), later, "b"),
    ]
    decided, writes = decide_batch(items, stored, {("shop", "1"): UUID(int=1)}, _ids())
    assert [(d, i) for _, d, i in decided] == [
        (Decision.UPDATE, UUID(int=1)), (Decision.TOUCH, UUID(int=1)), (Decision.STALE, UUID(int=1)),
        (Decision.CREATE, UUID(int=100)), (Decision.UPDATE, UUID(int=100)),
    ]  # fmt: skip
    assert writes[("shop", "1")] == (items[1], Decision.UPDATE, UUID(int=1))
    assert writes[("shop", "9")] == (items[4], Decision.CREATE, UUID(int=100))


def test_conversion_rounds_half_even_once_into_the_target_minor_unit() -> None:
    assert convert(1001, "EUR", Decimal("1.10"), "USD") == 1101  # 10.01 EUR = 11.011 USD
    assert convert(5, "USD", Decimal("0.5"), "EUR") == 2  # 0.025 → 0.02 (half to even)
    assert convert(15, "USD", Decimal("0.5"), "EUR") == 8  # 0.075 → 0.08
    assert convert(150, "JPY", Decimal("0.0067"), "USD") == 100  # JPY has no minor unit
    assert convert(1000, "USD", Decimal("600000"), "IRR") == 600000000  # IRR minor unit 2 (ISO 4217)
    assert convert(1234, "USD", Decimal("7"), "USD") == 1234  # same currency: untouched
    assert proportion(3000, 5080, 4000) == 3810 and proportion(1, 1, 0) == 0


def test_the_rate_of_the_day_else_a_recent_one() -> None:
    rates = [Rate(date(2026, 3, 1), Decimal("1.1")), Rate(date(2026, 3, 5), Decimal("1.2"))]
    assert pick_rate(rates, date(2026, 3, 1), 7) == rates[0]
    assert pick_rate(rates, date(2026, 3, 4), 7) == rates[0]
    assert pick_rate(rates, date(2026, 3, 6), 7) == rates[1]
    assert pick_rate(rates, date(2026, 2, 28), 7) is None  # no rate yet
    assert pick_rate(rates, date(2026, 3, 20), 7) is None  # too old
    assert pick_rate(rates, date(2026, 3, 4), 0) is None


def _order(status: str, total: int, at: datetime, currency: str = "USD", refunded: int = 0,
           converted: bool = True) -> dict[str, object]:  # fmt: skip
    rate = 1 if currency == "USD" else 2
    return {
        "id": f"{at.isoformat()}-{total}", "status": status, "currency": currency, "total_minor": total,
        "refunded_minor": refunded, "placed_at": at, "conversion": "converted" if converted else "missing",
        "reporting_total_minor": total * rate if converted else None,
        "reporting_refunded_minor": refunded * rate if converted else None,
    }  # fmt: skip


def test_facts_count_purchases_and_net_revenue_never_mixing_currencies() -> None:
    facts = customer_facts(
        groups_of(
            [
                _order("paid", 1000, T0),
                _order("fulfilled", 3000, T0 + timedelta(days=30), refunded=500),
                _order("pending", 9999, T0 + timedelta(days=40)),
                _order("cancelled", 9999, T0 - timedelta(days=1)),
                _order("refunded", 2000, T0 + timedelta(days=50), refunded=2000),
                _order("paid", 700, T0 + timedelta(days=60), currency="EUR"),
                _order("paid", 800, T0 + timedelta(days=70), currency="GBP", converted=False),
            ]
        )
    )
    assert facts.orders_count == 4  # paid, fulfilled, EUR, GBP; not pending, cancelled or fully refunded
    assert (facts.first_order_at, facts.last_order_at) == (T0, T0 + timedelta(days=70))
    assert facts.revenue_minor == 1000 + 2500 + 0 + 1400  # EUR converted at 2; GBP left out
    assert facts.refunded_minor == 500 + 2000 and facts.unconverted_orders == 1
    assert facts.revenue_by_currency == {"EUR": "7.00", "GBP": "8.00", "USD": "35.00"}
    assert facts.average_order_value_minor == round(4900 / 3)


def test_adding_orders_to_stored_facts_equals_recomputing_them() -> None:
    rng = random.Random(3)
    statuses = ["paid", "fulfilled", "pending", "cancelled", "refunded", "partially_refunded"]
    for _ in range(200):
        orders = []
        for _ in range(rng.randrange(0, 12)):
            total = rng.randrange(0, 50_000)
            orders.append(_order(rng.choice(statuses), total, T0 + timedelta(hours=rng.randrange(10_000)),
                                 currency=rng.choice(["USD", "EUR", "GBP"]), refunded=rng.randrange(0, total + 1),
                                 converted=rng.random() > 0.2))  # fmt: skip
        cut = rng.randrange(0, len(orders) + 1)
        before = customer_facts(groups_of(orders[:cut]))
        assert advance(before, orders[cut:]) == customer_facts(groups_of(orders))


def test_acquisition_channel_and_activity() -> None:
    assert acquisition_channel(" Instagram ", "web_form", "shopify") == "instagram"
    assert acquisition_channel(None, "referral", "shopify") == "referral"
    assert acquisition_channel("", None, "woocommerce") == "woocommerce"
    assert acquisition_channel(None, None, None) is None
    assert active_until(None, 365) is None
    assert active_until(T0, 365) == T0 + timedelta(days=365)


@given(st.integers(-(10**17), 10**17), st.integers(1, 10**6))
def test_average_order_value_rounds_half_even_like_decimal(numerator: int, denominator: int) -> None:
    exact = (Decimal(numerator) / Decimal(denominator)).to_integral_value(rounding="ROUND_HALF_EVEN")
    assert divide_half_even(numerator, denominator) == int(exact)


@given(st.integers(-(10**17), 10**17), st.sampled_from(["USD", "JPY", "KWD", "IRR"]))
def test_stored_revenue_strings_read_back_exactly(minor: int, currency: str) -> None:
    assert minor_of(from_minor(minor, currency), currency) == minor
    assert minor_of(str(Decimal(from_minor(minor, currency)) * 1), currency) == minor  # any decimal form


def test_half_way_averages_go_to_the_even_neighbour() -> None:
    assert [divide_half_even(n, 2) for n in (1, 3, 5, -1, -3)] == [0, 2, 2, 0, -2]


@given(st.integers(-(10**17), 10**17), st.sampled_from(["USD", "JPY", "KWD", "IRR"]))
def test_amounts_are_formatted_as_decimal_would(minor: int, currency: str) -> None:
    exponent = Decimal(1).scaleb(-currency_exponent(currency))
    assert from_minor(minor, currency) == str(Decimal(minor).scaleb(-currency_exponent(currency)).quantize(exponent))


@given(
    st.one_of(
        st.from_regex(r"\A\d{1,16}(\.\d{0,4})?\Z"),  # plain amounts, the fast path
        st.text(alphabet="0123456789.-+e_ ٣", max_size=12),  # anything else: the Decimal path's answer
    ),
    st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_the_batch_parser_reads_amounts_as_to_minor_does(amount: str, currency: str) -> None:
    def outcome(parse: Callable[[str, str], int]) -> int | str:
        try:
            return parse(amount, currency)
        except ValueError:
            return "error"

    assert outcome(lambda a, c: parser(c)(a)) == outcome(to_minor)
