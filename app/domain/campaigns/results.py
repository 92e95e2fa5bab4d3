"""A campaign's results, pure: each variant's conversion against the holdout (uplift), the
variants against each other (a winner), and cost per conversion.

Uplift (`uplift`): a variant's conversion rate p1 = x1/n1 against the holdout's p0 = x0/n0.
- `absolute` = p1 - p0, with the Wald interval for the difference of two independent proportions:
  (p1 - p0) +- z * sqrt(p1(1 - p1)/n1 + p0(1 - p0)/n0), z the normal quantile at 1 - alpha/2
  (1.959964 at 95%). It is the interval marketers compute by hand and spreadsheets show; it is
  too narrow at small counts and rates near 0 (journeys' splits use Newcombe's interval for that
  reason), so the report also gives each arm's counts.
- `relative` = p1/p0 - 1, with the log interval of the risk ratio (Katz et al. 1978):
  exp(ln(p1/p0) +- z * sqrt(1/x1 - 1/n1 + 1/x0 - 1/n0)) - 1; none when either arm has no conversion.
No holdout, or nobody in an arm: no uplift (None), never a division by zero.

Variants against each other: the pooled two-proportion z-test of journeys' splits
(`app.domain.journeys.stats.compare_variants`: the first variant is the control, Holm-adjusted with
more than two, a winner only past `min_sample` in every arm compared)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True, slots=True)
class Uplift:
    absolute: float
    absolute_interval: tuple[float, float]
    relative: float | None
    relative_interval: tuple[float, float] | None


def z_value(alpha: float) -> float:
    return NormalDist().inv_cdf(1 - alpha / 2)


def uplift(variant: tuple[int, int], holdout: tuple[int, int], *, alpha: float = 0.05) -> Uplift | None:
    """(conversions, recipients) of a variant and of the holdout; see the module."""
    x1, n1 = variant
    x0, n0 = holdout
    for x, n in (variant, holdout):
        if not 0 <= x <= n:
            raise ValueError("give 0 <= conversions <= recipients")
    if not n1 or not n0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    z = z_value(alpha)
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    difference = p1 - p0
    relative = relative_interval = None
    if p0 > 0:
        relative = p1 / p0 - 1
    if x1 > 0 and x0 > 0:
        log_ratio = math.log(p1 / p0)
        spread = z * math.sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0)
        relative_interval = (math.exp(log_ratio - spread) - 1, math.exp(log_ratio + spread) - 1)
    return Uplift(difference, (difference - half, difference + half), relative, relative_interval)


def per_conversion(cost_minor: int | None, conversions: int) -> int | None:
    """Cost per conversion in minor units, rounded half up to a whole minor unit (None without a
    cost or a conversion)."""
    if cost_minor is None or conversions <= 0:
        return None
    return (2 * cost_minor + conversions) // (2 * conversions)
