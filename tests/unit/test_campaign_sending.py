"""A campaign's plan and results, pure: shares, the seeded assignment, send times, the pilot's
pause, link tagging, and uplift and the variants' test checked against numbers worked by hand."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import pytest

from app.domain.campaigns import results
from app.domain.campaigns import sending as plan
from app.domain.journeys import stats

PEOPLE = [uuid.UUID(int=i * 7919 + 13) for i in range(2000)]


def test_shares_add_up_and_follow_the_weights() -> None:
    assert plan.shares(900, [1, 1]) == [450, 450]
    assert plan.shares(10, [1, 1, 1]) == [4, 3, 3]  # the remainder to the earliest largest fraction
    assert plan.shares(7, [3, 1]) == [5, 2]
    assert plan.shares(0, [1]) == [0] and plan.shares(5, [0, 0]) == [0, 0]
    for total in range(0, 50):
        assert sum(plan.shares(total, [2, 3, 5])) == total


def test_the_assignment_is_exact_reproducible_and_independent_of_order() -> None:
    drawn = plan.assign(42, PEOPLE, holdout_percent=10, variants=[("a", 1), ("b", 3)], pilot={"count": 100})
    arms = [a.arm for a in drawn]
    assert arms.count("holdout") == 200 and arms.count("a") == 450 and arms.count("b") == 1350
    assert sum(a.pilot for a in drawn) == 100 and not any(a.pilot and a.arm == "holdout" for a in drawn)
    shuffled = list(reversed(PEOPLE)) + PEOPLE[:10]  # another order, a duplicate: the same assignment
    assert plan.assign(42, shuffled, holdout_percent=10, variants=[("a", 1), ("b", 3)], pilot={"count": 100}) == drawn
    other = plan.assign(43, PEOPLE, holdout_percent=10, variants=[("a", 1), ("b", 3)], pilot={"count": 100})
    assert other != drawn
    # the holdout is a random tenth: about 10% of any half of the ids
    first_half = {p for p in PEOPLE[:1000]}
    held = sum(1 for a in drawn if a.arm == "holdout" and a.person_id in first_half)
    assert abs(held - 100) <= 4 * math.sqrt(2000 * 0.1 * 0.9 / 4)


@pytest.mark.parametrize(
    ("pilot", "senders", "size"),
    [(None, 100, 0), ({"percent": 10}, 95, 10), ({"percent": 1}, 5, 1), ({"count": 30}, 20, 20), ({"count": 3}, 9, 3)],
)
def test_pilot_size(pilot: dict[str, int] | None, senders: int, size: int) -> None:
    assert plan.pilot_size(senders, pilot) == size


def test_send_times() -> None:
    launched = datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
    assert plan.starts_at(None, launched) == launched
    assert plan.starts_at({"at": "2027-03-15T08:00:00+00:00"}, launched) == datetime(2027, 3, 15, 8, tzinfo=UTC)
    assert plan.starts_at({"at": "2020-01-01T00:00:00+00:00"}, launched) == launched  # never before launch
    local = {"date": "2027-03-15", "local_time": "10:00"}
    # the first zone to reach 10:00 on the 15th is UTC+14: 20:00 UTC on the 14th
    assert plan.starts_at(local, launched) == datetime(2027, 3, 14, 20, 0, tzinfo=UTC)
    tehran = plan.recipient_send_at(local, "Asia/Tehran", launched, launched)
    assert tehran == datetime(2027, 3, 15, 6, 30, tzinfo=UTC)
    assert plan.recipient_send_at(local, None, launched, launched) == datetime(2027, 3, 15, 10, tzinfo=UTC)
    late = datetime(2027, 3, 16, tzinfo=UTC)
    assert plan.recipient_send_at(local, "Asia/Tehran", launched, late) == late  # past: now


def test_the_pilot_pauses_only_past_its_limits() -> None:
    limits = {"max_unsubscribe_rate": 0.02, "max_complaint_rate": 0.001}
    assert plan.pause_reason(plan.PilotFigures(100, 2, 0), limits) is None  # at the limit: goes on
    reason = plan.pause_reason(plan.PilotFigures(100, 3, 0), limits)
    assert reason is not None and reason["reason"] == "pilot_unsubscribe_rate" and reason["unsubscribe_rate"] == 0.03
    both = plan.pause_reason(plan.PilotFigures(1000, 30, 2), limits)
    assert both is not None and both["crossed"] == ["unsubscribe_rate", "complaint_rate"]
    assert plan.pause_reason(plan.PilotFigures(0, 0, 0), limits) is None  # nothing sent yet
    assert plan.pause_reason(plan.PilotFigures(10, 10, 10), None) is None


def test_links_are_tagged_and_their_own_tags_kept() -> None:
    def tag(url: str) -> str:
        return plan.tag_url(url, campaign="spring-sale", content="b", medium="email")

    assert tag("https://shop.example/x") == (
        "https://shop.example/x?utm_source=crm&utm_medium=email&utm_campaign=spring-sale&utm_content=b"
    )
    assert tag("https://shop.example/x?utm_campaign=manual&a=1") == (
        "https://shop.example/x?utm_campaign=manual&a=1&utm_source=crm&utm_medium=email&utm_content=b"
    )
    assert tag("mailto:a@b.c") == "mailto:a@b.c"
    html = "<a href=\"https://shop.example/?a=1&amp;b=2\">x</a> <a href='tel:+98'>call</a>"
    tagged = plan.tag_html(html, tag)
    assert 'href="https://shop.example/?a=1&amp;b=2&amp;utm_source=crm&amp;utm_medium=email' in tagged
    assert "href='tel:+98'" in tagged
    text = plan.tag_text("See https://shop.example/x. Or (https://shop.example/y)!", tag)
    assert "https://shop.example/x?utm_source=crm&utm_medium=email&utm_campaign=spring-sale&utm_content=b. Or" in text
    assert text.endswith("utm_content=b)!")
    assert plan.utm_campaign("Spring Sale 2027!") == "spring-sale-2027"
    assert plan.utm_campaign("فروش بهار") == "فروش-بهار"
    assert plan.utm_campaign("!!!") == "campaign"


def test_uplift_against_a_hand_computed_example() -> None:
    # variant 30 of 450, holdout 5 of 100: p1 = 0.066667, p0 = 0.05
    # se = sqrt(0.066667 * 0.933333 / 450 + 0.05 * 0.95 / 100) = sqrt(0.00013827 + 0.000475) = 0.024764
    # 95%: 0.016667 +- 1.959964 * 0.024764 = [-0.031870, 0.065204]
    lift = results.uplift((30, 450), (5, 100))
    assert lift is not None
    assert math.isclose(lift.absolute, 0.016667, abs_tol=1e-6)
    assert math.isclose(lift.absolute_interval[0], -0.031870, abs_tol=1e-5)
    assert math.isclose(lift.absolute_interval[1], 0.065204, abs_tol=1e-5)
    # relative: 0.066667 / 0.05 - 1 = 0.333333;
    # log interval: exp(ln(4/3) +- 1.959964 * sqrt(1/30 - 1/450 + 1/5 - 1/100)) - 1
    assert lift.relative is not None and math.isclose(lift.relative, 1 / 3, rel_tol=1e-9)
    spread = 1.959964 * math.sqrt(1 / 30 - 1 / 450 + 1 / 5 - 1 / 100)
    assert lift.relative_interval is not None
    assert math.isclose(lift.relative_interval[0], math.exp(math.log(4 / 3) - spread) - 1, abs_tol=1e-6)
    # sqrt(0.221111) = 0.470224; x 1.959964 = 0.921622; exp(0.287682 - 0.921622) - 1 = -0.469503
    assert math.isclose(lift.relative_interval[0], -0.469503, abs_tol=1e-5)
    assert results.uplift((3, 10), (0, 0)) is None
    none_held = results.uplift((3, 10), (0, 10))
    assert none_held is not None and none_held.relative is None and none_held.relative_interval is None
    with pytest.raises(ValueError):
        results.uplift((11, 10), (1, 10))


def test_the_variants_pooled_z_test_against_a_hand_computed_example() -> None:
    # a 30/450, b 50/450: pooled p = 80/900 = 0.088889; se = sqrt(p(1-p)(1/450 + 1/450)) = 0.018972
    # z = (0.111111 - 0.066667) / 0.018972 = 2.3426; two-sided p = 2(1 - Phi(2.3426)) = 0.01915
    split = stats.compare_variants({"a": (30, 450), "b": (50, 450)}, min_per_variant=100)
    [comparison] = split.comparisons
    assert comparison.p_value is not None and math.isclose(comparison.p_value, 0.01915, abs_tol=5e-5)
    assert split.winner == "b"
    small = stats.compare_variants({"a": (30, 450), "b": (50, 450)}, min_per_variant=500)
    assert small.winner is None  # significant, but below the minimum sample


def test_cost_per_conversion_rounds_half_up() -> None:
    assert results.per_conversion(10000, 6) == 1667  # 100.00 / 6 = 16.666..
    assert results.per_conversion(10000, 8) == 1250
    assert results.per_conversion(5, 2) == 3  # 2.5 up
    assert results.per_conversion(None, 3) is None and results.per_conversion(100, 0) is None
