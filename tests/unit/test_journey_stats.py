"""A journey's numbers, pure: goal conversion per split variant (the z-test, Newcombe's interval,
Holm's adjustment, checked against published values, by hand and against scipy) and per-step
counts."""

from __future__ import annotations

import math
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, norm
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]

from app.domain.journeys.stats import (
    UNKNOWN_REASON,
    Comparison,
    StepStatus,
    Variant,
    compare,
    compare_variants,
    holm,
    step_counts,
)

# Numpy must not warn (0/0, a zero variance): such cases give None instead.
pytestmark = pytest.mark.filterwarnings("error")


# -- published values --------------------------------------------------------------------------------

# Newcombe RG, "Interval estimation for the difference between independent proportions: comparison of
# eleven methods", Statistics in Medicine 17 (1998) 873-890, Table II, method 10 (the hybrid score
# interval without continuity correction): (k1/n1 - k2/n2) -> 95% limits, to 4 decimals.
NEWCOMBE_TABLE_II = [
    ((56, 70), (48, 80), (0.0524, 0.3339)),  # (a)
    ((9, 10), (3, 10), (0.1705, 0.8090)),  # (b)
    ((6, 7), (2, 7), (0.0582, 0.8062)),  # (c)
    ((5, 56), (0, 29), (-0.0381, 0.1926)),  # (d)
    ((0, 10), (0, 20), (-0.1611, 0.2775)),  # (e)
    ((0, 10), (0, 10), (-0.2775, 0.2775)),  # (f)
    ((10, 10), (0, 20), (0.6791, 1.0000)),  # (g)
    ((10, 10), (0, 10), (0.6075, 1.0000)),  # (h)
]


@pytest.mark.parametrize(("first", "second", "limits"), NEWCOMBE_TABLE_II)
def test_the_interval_is_newcombes_method_10(
    first: tuple[int, int], second: tuple[int, int], limits: tuple[float, float]
) -> None:
    # The table's difference is first - second: the second is the control here.
    result = compare(second, first)
    assert result.interval == pytest.approx(limits, abs=5e-5)
    assert result.difference == pytest.approx(first[0] / first[1] - second[0] / second[1])


def test_the_interval_matches_fagerland_lydersen_and_laake() -> None:
    # Fagerland, Lydersen and Laake, "Recommended confidence intervals for two independent binomial
    # proportions", Statistical Methods in Medical Research 24 (2015) 224-254: high-dose against
    # standard-dose epinephrine (Perondi et al. 2004), 7/34 against 1/34; Newcombe hybrid score
    # 0.019 to 0.34 (the Wald interval there: 0.029 to 0.32).
    result = compare((1, 34), (7, 34))
    assert result.interval is not None
    assert result.interval[0] == pytest.approx(0.019, abs=5e-4)
    assert result.interval[1] == pytest.approx(0.340, abs=5e-4)


def test_the_aspirin_and_heart_attacks_example() -> None:
    # Agresti, An Introduction to Categorical Data Analysis (2nd ed., 2007), the Physicians' Health
    # Study: 189 of 11,034 physicians on placebo and 104 of 11,037 on aspirin had a heart attack.
    # Difference 0.0171 - 0.0094 = 0.0077, standard error 0.0015, Wald 95% interval (0.005, 0.011),
    # which Newcombe's interval matches to 3 decimals at this size.
    result = compare((104, 11037), (189, 11034), names=("aspirin", "placebo"))
    assert result.control.rate == pytest.approx(0.0094, abs=5e-5)
    assert result.variant.rate == pytest.approx(0.0171, abs=5e-5)
    assert result.difference == pytest.approx(0.0077, abs=5e-5)
    assert result.interval is not None
    assert (round(result.interval[0], 3), round(result.interval[1], 3)) == (0.005, 0.011)
    # By hand: pooled rate 293/22071, z = 0.0077 / sqrt(p(1-p)(1/11034 + 1/11037)) = 5.00, and
    # z squared is Pearson's chi-square of the table without continuity correction, 25.01.
    pooled = 293 / 22071
    z = (189 / 11034 - 104 / 11037) / math.sqrt(pooled * (1 - pooled) * (1 / 11034 + 1 / 11037))
    assert z == pytest.approx(5.00, abs=5e-3) and z * z == pytest.approx(25.01, abs=5e-3)
    assert result.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert result.p_value is not None and result.p_value < 1e-6
    assert result.winner == "placebo"  # the higher rate's name, whatever the rate stands for


def test_the_z_test_by_hand() -> None:
    # 48/80 against 56/70: pooled rate 104/150, standard error sqrt(p(1-p)(1/70 + 1/80)) = 0.07547,
    # z = 0.2 / 0.07547 = 2.650, two-sided p = erfc(z / sqrt 2) = 0.00805.
    result = compare((48, 80), (56, 70), min_per_variant=50)
    pooled = 104 / 150
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert z == pytest.approx(2.650, abs=5e-4)
    assert result.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert result.p_value == pytest.approx(0.00805, abs=5e-6)
    assert result.p_adjusted == result.p_value  # one comparison: nothing to adjust
    assert result.winner == "b"


# -- against scipy -----------------------------------------------------------------------------------

counts = st.integers(min_value=1, max_value=5000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)


@settings(max_examples=300, deadline=None)
@given(counts, counts, st.sampled_from([0.01, 0.05, 0.1]))
def test_p_values_agree_with_scipy_and_nothing_is_nan(a: tuple[int, int], b: tuple[int, int], alpha: float) -> None:
    result = compare(a, b, alpha=alpha)
    (ca, na), (cb, nb) = a, b
    assert result.difference == pytest.approx(cb / nb - ca / na)
    assert result.interval is not None
    low, high = result.interval
    assert -1 <= low <= result.difference <= high <= 1
    if ca + cb in (0, na + nb):
        assert result.p_value is None and result.p_adjusted is None and result.winner is None
        return
    assert result.p_value is not None and 0 <= result.p_value <= 1
    table = [[cb, nb - cb], [ca, na - ca]]
    chi2 = chi2_contingency(table, correction=False)
    assert result.p_value == pytest.approx(chi2.pvalue, rel=1e-6, abs=1e-12)
    pooled = (ca + cb) / (na + nb)
    z = (cb / nb - ca / na) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    assert result.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9, abs=1e-300)
    enough = min(na, nb) >= 100
    if enough and result.p_value < alpha:
        assert result.winner == ("b" if cb / nb > ca / na else "a")
    else:
        assert result.winner is None


# -- when there is nothing to test -------------------------------------------------------------------


def test_no_conversions_on_either_side_has_an_interval_but_no_p_value() -> None:
    result = compare((0, 100), (0, 100))
    assert result.difference == 0.0 and result.p_value is None and result.p_adjusted is None
    assert result.interval == pytest.approx((-0.03699, 0.03699), abs=5e-6)  # 3.84 / 103.84 either way
    assert result.winner is None


def test_everyone_converting_on_both_sides_has_no_p_value() -> None:
    result = compare((150, 150), (200, 200))
    assert result.control.rate == 1.0 and result.difference == 0.0
    assert result.p_value is None and result.winner is None
    assert result.interval is not None and result.interval[1] <= 1


def test_nobody_enrolled_has_no_rate_difference_test_or_interval() -> None:
    for a, b in [((0, 0), (0, 0)), ((0, 0), (5, 100)), ((5, 100), (0, 0))]:
        result = compare(a, b)
        assert result.difference is None and result.p_value is None
        assert result.p_adjusted is None and result.interval is None and result.winner is None
    assert compare((0, 0), (5, 100)).control.rate is None
    assert compare((0, 0), (5, 100)).variant.rate == 0.05


def test_one_side_at_zero_is_tested() -> None:
    result = compare((0, 200), (12, 200))
    assert result.p_value is not None and result.p_value < 0.001 and result.winner == "b"


# -- the winner --------------------------------------------------------------------------------------


def test_a_winner_needs_enough_enrolled_on_both_sides() -> None:
    few = compare((10, 99), (40, 1000))  # significant, but the control has 99 enrolled
    assert few.p_value is not None and few.p_value < 0.05 and few.winner is None
    assert compare((10, 99), (40, 1000), min_per_variant=99).winner == "a"  # the control did better
    assert compare((5, 40), (20, 40), min_per_variant=0).winner == "b"


def test_no_winner_without_significance() -> None:
    result = compare((100, 1000), (115, 1000))
    assert result.p_value is not None and result.p_value > 0.05 and result.winner is None
    assert result.interval is not None and result.interval[0] < 0 < result.interval[1]


def test_alpha_sets_the_level_of_the_test_and_the_interval() -> None:
    loose = compare((100, 1000), (128, 1000), alpha=0.1)
    strict = compare((100, 1000), (128, 1000), alpha=0.01)
    assert loose.p_value == strict.p_value and loose.p_value is not None and 0.01 < loose.p_value < 0.1
    assert loose.winner == "b" and strict.winner is None
    assert loose.interval is not None and strict.interval is not None
    assert strict.interval[0] < loose.interval[0] and loose.interval[1] < strict.interval[1]


# -- more than two variants ------------------------------------------------------------------------


def test_every_variant_against_the_control_with_holms_adjustment() -> None:
    split = compare_variants({"control": (100, 1000), "b": (132, 1000), "c": (150, 1000), "d": (100, 1000)})
    assert [c.variant.name for c in split.comparisons] == ["b", "c", "d"]
    assert all(c.control.name == "control" for c in split.comparisons)
    raw = [c.p_value for c in split.comparisons]
    assert all(p is not None for p in raw)
    expected = multipletests([p for p in raw if p is not None], alpha=0.05, method="holm")[1]
    assert [c.p_adjusted for c in split.comparisons] == pytest.approx(list(expected), rel=1e-12)
    # b alone would win (p = 0.025) but not after adjusting for three comparisons (0.051).
    b, c, d = split.comparisons
    assert b.p_value is not None and b.p_value < 0.05
    assert b.p_adjusted is not None and b.p_adjusted > 0.05 and b.winner is None
    assert c.winner == "c" and d.winner is None and d.p_value == pytest.approx(1.0)
    assert split.winner == "c"


def test_two_variants_give_the_same_answer_either_way() -> None:
    split = compare_variants({"a": (100, 1000), "b": (140, 1000)})
    assert split.comparisons == (compare((100, 1000), (140, 1000)),)
    assert split.winner == "b" == split.comparisons[0].winner


def test_a_comparison_that_cannot_be_tested_still_counts_in_the_family() -> None:
    split = compare_variants({"a": (0, 200), "b": (0, 200), "c": (9, 200)})
    untested, tested = split.comparisons
    assert untested.p_value is None and untested.p_adjusted is None and untested.interval is not None
    assert tested.p_value is not None
    assert tested.p_adjusted == pytest.approx(min(1.0, 2 * tested.p_value))  # two comparisons, not one


def test_the_experiments_winner() -> None:
    # The best of those significantly better than the control.
    both = compare_variants({"a": (100, 1000), "b": (160, 1000), "c": (190, 1000)})
    assert [c.winner for c in both.comparisons] == ["b", "c"] and both.winner == "c"
    # A tie between them: none.
    tie = compare_variants({"a": (100, 1000), "b": (190, 1000), "c": (190, 1000)})
    assert [c.winner for c in tie.comparisons] == ["b", "c"] and tie.winner is None
    # The control, only when it beats every other variant.
    control = compare_variants({"a": (200, 1000), "b": (100, 1000), "c": (110, 1000)})
    assert [c.winner for c in control.comparisons] == ["a", "a"] and control.winner == "a"
    partly = compare_variants({"a": (200, 1000), "b": (100, 1000), "c": (190, 1000)})
    assert [c.winner for c in partly.comparisons] == ["a", None] and partly.winner is None
    # A variant better than the control wins even when another is worse.
    mixed = compare_variants({"a": (150, 1000), "b": (80, 1000), "c": (230, 1000)})
    assert [c.winner for c in mixed.comparisons] == ["a", "c"] and mixed.winner == "c"


def test_holms_adjustment_by_hand() -> None:
    # Sorted 0.01 < 0.02 < 0.04 < 0.30: times 4, 3, 2, 1 = 0.04, 0.06, 0.08, 0.30 (already rising).
    assert holm([0.04, 0.01, 0.30, 0.02]) == pytest.approx([0.08, 0.04, 0.30, 0.06])
    # Made non-decreasing: 0.02 x 3 = 0.06 > 0.025 x 2 = 0.05, so the second is 0.06 as well.
    assert holm([0.025, 0.02, 0.9]) == pytest.approx([0.06, 0.06, 0.9])
    # At most 1: 0.6 x 2 = 1.2.
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    assert holm([0.03]) == [0.03] and holm([]) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=12))
def test_holm_is_statsmodels_holm(p_values: list[float]) -> None:
    with mock.patch("gc.collect"):  # which multipletests runs on every call: 0.1 s or more here
        expected = multipletests(p_values, alpha=0.05, method="holm")[1]
    assert holm(p_values) == pytest.approx(list(expected), rel=1e-12, abs=1e-300)


# -- what is refused -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "options"),
    [
        ((5, 4), (1, 10), {}),
        ((-1, 10), (1, 10), {}),
        ((1, 10), (1.5, 10), {}),
        ((1, 10), (True, 10), {}),
        ((1, 10), (1, 10, 3), {}),
        ((1, 10), (1, 10), {"alpha": 0}),
        ((1, 10), (1, 10), {"alpha": 1}),
        ((1, 10), (1, 10), {"min_per_variant": -1}),
        ((1, 10), (1, 10), {"names": ("x", "x")}),
    ],
)
def test_counts_that_make_no_sense_are_refused(
    a: tuple[int, int], b: tuple[int, int], options: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        compare(a, b, **options)  # type: ignore[arg-type]


def test_one_variant_is_not_a_comparison() -> None:
    with pytest.raises(ValueError, match="at least two"):
        compare_variants({"a": (1, 10)})


def test_a_variant_knows_its_rate() -> None:
    assert Variant("a", 3, 12).rate == 0.25 and Variant("a", 0, 0).rate is None
    assert isinstance(compare((1, 10), (2, 10)), Comparison)


# -- steps ---------------------------------------------------------------------------------------------


def test_step_counts_from_one_row_per_visit() -> None:
    rows = [
        ("welcome", "completed", None),
        ("welcome", "completed", None),
        ("welcome", "exited", "unsubscribed"),
        ("wait", "waiting", None),
        ("wait", "completed", None),
        ("offer", "exited", "goal_reached"),
        ("offer", "exited", "goal_reached"),
        ("offer", "exited", None),
    ]
    counts = step_counts(rows)
    assert list(counts) == ["welcome", "wait", "offer"]
    assert counts["welcome"] == {"entered": 3, "completed": 2, "waiting": 0, "exited": {"unsubscribed": 1}}
    assert counts["wait"] == {"entered": 2, "completed": 1, "waiting": 1, "exited": {}}
    assert counts["offer"] == {
        "entered": 3,
        "completed": 0,
        "waiting": 0,
        "exited": {"goal_reached": 2, UNKNOWN_REASON: 1},
    }


def test_step_counts_from_grouped_rows_and_in_the_journeys_order() -> None:
    grouped = [
        ("offer", StepStatus.EXITED, "goal_reached", 40),
        ("welcome", "completed", None, 900),
        ("welcome", "exited", "unsubscribed", 100),
        ("retired", "completed", None, 7),  # a step a later version took out
        ("welcome", "waiting", None, 0),
    ]
    counts = step_counts(grouped, steps=["welcome", "wait", "offer"])
    assert list(counts) == ["welcome", "wait", "offer", "retired"]
    assert counts["welcome"] == {"entered": 1000, "completed": 900, "waiting": 0, "exited": {"unsubscribed": 100}}
    assert counts["wait"] == {"entered": 0, "completed": 0, "waiting": 0, "exited": {}}
    assert counts["offer"]["exited"] == {"goal_reached": 40} and counts["retired"]["entered"] == 7
    for step in counts.values():
        assert step["entered"] == step["completed"] + step["waiting"] + sum(step["exited"].values())


def test_step_counts_refuse_an_unknown_status_or_count() -> None:
    assert step_counts([]) == {}
    with pytest.raises(ValueError, match="not a step status"):
        step_counts([("welcome", "running", None)])
    with pytest.raises(ValueError, match="count"):
        step_counts([("welcome", "completed", None, -1)])
