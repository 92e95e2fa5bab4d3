"""A journey's numbers, pure: goal conversion per split variant with a two-proportion test, and
per-step counts of the people who entered, went on, are waiting or left.

Conversion (`compare`, `compare_variants`). Each variant is (conversions, enrolled): the people
enrolled in it and those of them who reached the journey's goal. Against the control (variant `a`,
or the first of several) each other variant gets
- `difference`: its rate minus the control's (b - a), a fraction (0.012 = 1.2 points);
- `p_value`: the two-sided two-proportion z-test of equal rates, with the pooled rate in the
  standard error (statsmodels' `proportions_ztest`; the same p-value as Pearson's chi-square test
  of the 2x2 table without continuity correction);
- `interval`: the confidence interval of the difference at 1 - alpha, Newcombe's hybrid score
  interval (statsmodels' `confint_proportions_2indep`, method "newcomb"; Newcombe 1998, method 10).
  Chosen over the Wald interval: conversion rates are small (a few percent) and early counts are
  low, which is where the Wald interval fails. Its coverage falls well below 1 - alpha, it can reach
  past [-1, 1], and with no conversion (or all) on both sides it collapses to [0, 0], claiming
  certainty from no information. Newcombe's interval combines two Wilson intervals, keeps close to
  its nominal coverage at small counts and near 0 or 1, stays inside [-1, 1] and is defined whenever
  both variants have someone enrolled (Newcombe 1998; Fagerland, Lydersen and Laake 2015 recommend
  it). It is the statsmodels default for a difference.
- `winner`: None unless both variants have at least `min_per_variant` enrolled and the p-value
  (Holm-adjusted with several variants) is below alpha; then the name of the one with the higher
  rate (the control, when it did better).

With more than two variants every other variant is compared with the control, and the p-values are
Holm-adjusted over those k - 1 comparisons (`holm`, checked against statsmodels' `multipletests`) before
any winner is declared, which keeps the chance of declaring any false winner at most alpha
whichever variants truly differ (Holm 1979; uniformly more powerful than Bonferroni). The family is
fixed by the design, k - 1 comparisons: one that cannot be tested (below) counts with p = 1 and
can never be significant. `p_value` stays the unadjusted one, `p_adjusted` is Holm's (equal to
`p_value` with two variants). The intervals are per comparison at 1 - alpha, not adjusted: with
several variants one may exclude 0 while its adjusted p-value does not reach alpha; the winner
follows the adjusted p-value. The experiment's `winner` is the variant with the highest rate among
those significantly better than the control (not tested against each other; a tie: none), else
the control when it is significantly better than every other variant, else none.

Cases without a test give None, never NaN: a variant with nobody enrolled has no rate, and then
the comparison has no difference, p-value or interval; no conversion in either variant, or
everyone converting in both, has a difference (0) and an interval (Newcombe's is defined there:
0 of 100 against 0 of 100 is +-0.037) but no p-value (the pooled standard error is 0).

Steps (`step_counts`): see there."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypedDict

from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportions_ztest,
)

Counts = tuple[int, int]  # (conversions, enrolled)


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    conversions: int
    enrolled: int
    rate: float | None = field(init=False)  # conversions / enrolled; None with nobody enrolled

    def __post_init__(self) -> None:
        for value in (self.conversions, self.enrolled):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"variant {self.name}: conversions and enrolled are whole numbers")
        if not 0 <= self.conversions <= self.enrolled:
            raise ValueError(f"variant {self.name}: give 0 <= conversions <= enrolled")
        object.__setattr__(self, "rate", self.conversions / self.enrolled if self.enrolled else None)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A variant against the control."""

    control: Variant
    variant: Variant
    difference: float | None  # variant's rate - control's rate
    p_value: float | None  # two-sided, unadjusted
    p_adjusted: float | None  # Holm-adjusted over the comparisons with the control
    interval: tuple[float, float] | None  # of the difference, at 1 - alpha (Newcombe)
    winner: str | None


@dataclass(frozen=True, slots=True)
class Split:
    """Every variant against the first (the control)."""

    alpha: float
    min_per_variant: int
    variants: tuple[Variant, ...]
    comparisons: tuple[Comparison, ...]  # one per variant after the control, in order
    winner: str | None


def compare(
    a: Counts,
    b: Counts,
    *,
    alpha: float = 0.05,
    min_per_variant: int = 100,
    names: tuple[str, str] = ("a", "b"),
) -> Comparison:
    """Variant b against variant a (the control); each is (conversions, enrolled)."""
    if names[0] == names[1]:
        raise ValueError("give the two variants different names")
    split = compare_variants({names[0]: a, names[1]: b}, alpha=alpha, min_per_variant=min_per_variant)
    return split.comparisons[0]


def compare_variants(
    variants: Mapping[str, Counts],
    *,
    alpha: float = 0.05,
    min_per_variant: int = 100,
) -> Split:
    """Each variant against the first (the control), with Holm-adjusted p-values; see the module."""
    if not 0 < alpha < 1:
        raise ValueError("alpha is between 0 and 1")
    if isinstance(min_per_variant, bool) or not isinstance(min_per_variant, int) or min_per_variant < 0:
        raise ValueError("min_per_variant is a whole number, 0 or more")
    if len(variants) < 2:
        raise ValueError("compare at least two variants")
    parsed = tuple(Variant(name, *_counts(name, counts)) for name, counts in variants.items())
    control, others = parsed[0], parsed[1:]
    tests = [_test(control, other) for other in others]
    adjusted = holm([p if p is not None else 1.0 for p in tests])  # untestable: never significant, still counted
    comparisons = []
    for other, p_value, p_adjusted in zip(others, tests, adjusted, strict=True):
        enough = control.enrolled >= min_per_variant and other.enrolled >= min_per_variant
        winner = None
        if enough and p_value is not None and p_adjusted < alpha:
            assert control.rate is not None and other.rate is not None
            winner = other.name if other.rate > control.rate else control.name
        comparisons.append(
            Comparison(
                control,
                other,
                None if control.rate is None or other.rate is None else other.rate - control.rate,
                p_value,
                p_adjusted if p_value is not None else None,
                _interval(control, other, alpha),
                winner,
            )
        )
    return Split(alpha, min_per_variant, parsed, tuple(comparisons), _overall(control, comparisons))


def _counts(name: str, counts: Counts) -> Counts:
    if not isinstance(counts, Sequence) or len(counts) != 2:
        raise ValueError(f"variant {name}: give (conversions, enrolled)")
    return counts[0], counts[1]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: sorted ascending, the i-th (from 0)
    times m - i, made non-decreasing, at most 1. The same numbers as statsmodels'
    `multipletests(p_values, method="holm")[1]` (the tests check it), written out because that
    function runs a full garbage collection (`gc.collect()`) on every call with method "holm",
    a pause to keep out of a server's request."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _test(control: Variant, other: Variant) -> float | None:
    """The two-sided pooled z-test's p-value; None when there is no test."""
    if not control.enrolled or not other.enrolled:
        return None
    converted = control.conversions + other.conversions
    if converted == 0 or converted == control.enrolled + other.enrolled:
        return None  # the pooled rate is 0 or 1: no variance to test against
    _, p_value = proportions_ztest(
        [other.conversions, control.conversions], [other.enrolled, control.enrolled], alternative="two-sided"
    )
    p = float(p_value)
    return p if math.isfinite(p) else None


def _interval(control: Variant, other: Variant, alpha: float) -> tuple[float, float] | None:
    if not control.enrolled or not other.enrolled:
        return None
    low, high = confint_proportions_2indep(
        other.conversions,
        other.enrolled,
        control.conversions,
        control.enrolled,
        method="newcomb",
        compare="diff",
        alpha=alpha,
    )
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return max(low, -1.0), min(high, 1.0)


def _overall(control: Variant, comparisons: Sequence[Comparison]) -> str | None:
    better = [c.variant for c in comparisons if c.winner == c.variant.name]
    if better:
        best = max(v.rate or 0.0 for v in better)
        leaders = [v.name for v in better if v.rate == best]
        return leaders[0] if len(leaders) == 1 else None
    if comparisons and all(c.winner == control.name for c in comparisons):
        return control.name
    return None


# -- steps -------------------------------------------------------------------------------------------


class StepStatus(StrEnum):
    WAITING = "waiting"  # at the step now: its wait, event or action not over
    COMPLETED = "completed"  # went on to the next step (or finished the journey there)
    EXITED = "exited"  # left the journey at this step; its exit reason says why


UNKNOWN_REASON = "unknown"  # an exit recorded without a reason


class StepCounts(TypedDict):
    entered: int  # = completed + waiting + the sum of exited
    completed: int
    waiting: int
    exited: dict[str, int]  # by exit reason, in the order first met


StepRow = tuple[str, str, str | None] | tuple[str, str, str | None, int]


def step_counts(rows: Iterable[StepRow], *, steps: Sequence[str] = ()) -> dict[str, StepCounts]:
    """Per step, how many entered it, went on, are waiting at it and left the journey there (by
    reason).

    A row is one enrolment's visit to one step, `(step_id, status, exit_reason)`, with `status` one
    of `waiting`, `completed`, `exited` (`StepStatus`) and `exit_reason` None unless exited (an
    exit without a reason counts as `unknown`). A row may carry a fourth item, how many visits it
    stands for, so that a `GROUP BY step_id, status, exit_reason` with `COUNT(*)` can be passed as
    it is. A person who comes back to a step enters it again: counts are visits, not people.

    The answer lists `steps` first, in their order, each with zeros when no row names it (so a
    report shows every step of the journey), then the steps met in rows that `steps` does not
    name (taken out of a later version of the journey), in the order first met."""
    counts: dict[str, StepCounts] = {step: _zero() for step in steps}
    for row in rows:
        if len(row) == 3:
            step_id, status, reason = row
            times = 1
        else:
            step_id, status, reason, times = row
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            raise ValueError(f"step {step_id}: a row's count is a whole number, 0 or more")
        try:
            kind = StepStatus(status)
        except ValueError:
            raise ValueError(f"step {step_id}: {status!r} is not a step status (waiting, completed, exited)") from None
        step = counts.setdefault(step_id, _zero())
        step["entered"] += times
        if kind is StepStatus.WAITING:
            step["waiting"] += times
        elif kind is StepStatus.COMPLETED:
            step["completed"] += times
        else:
            key = reason or UNKNOWN_REASON
            step["exited"][key] = step["exited"].get(key, 0) + times
    return counts


def _zero() -> StepCounts:
    return {"entered": 0, "completed": 0, "waiting": 0, "exited": {}}
