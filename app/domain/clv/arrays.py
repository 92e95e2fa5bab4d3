"""Array and optimiser helpers shared by the CLV models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

FloatArray = NDArray[np.float64]


def as_float(values: Any) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def compress(*columns: FloatArray) -> tuple[tuple[FloatArray, ...], FloatArray, NDArray[np.intp]]:
    """Identical rows once, with their counts as weights: (the distinct columns, weights, and the
    index of each original row among the distinct ones). One lexicographic sort (np.unique over
    rows is several times slower)."""
    n = len(columns[0])
    if n == 0:
        empty = np.zeros(0, dtype=np.float64)
        return tuple(empty for _ in columns), empty, np.zeros(0, dtype=np.intp)
    order = np.lexsort(columns[::-1])
    ordered = [np.asarray(column)[order] for column in columns]
    starts = np.ones(n, dtype=bool)
    starts[1:] = np.logical_or.reduce([column[1:] != column[:-1] for column in ordered])
    group = np.cumsum(starts) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    counts = np.bincount(group).astype(np.float64)
    return tuple(np.ascontiguousarray(column[starts]) for column in ordered), counts, inverse


def by_value(values: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """The distinct values and, for each element, the index of its value among them."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, inverse.reshape(-1)


LOG_BOUND = 15.0  # log-parameters stay in [-15, 15] (e^15 ≈ 3.3e6): a degenerate fit ends at a bound, not at inf


def minimize(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], start: FloatArray
) -> tuple[FloatArray, bool, int]:
    """Minimise a smooth function of log-parameters with its gradient (BFGS: for a handful of
    parameters it needs fewer and cheaper steps than L-BFGS-B). The parameters are clipped to
    ±LOG_BOUND. Returns (the optimum, converged, iterations): converged when BFGS says so or stops
    on rounding with a gradient that is zero to 1e-5 (the optimum, as precisely as floats allow)."""

    def guarded(point: FloatArray) -> tuple[float, FloatArray]:
        return objective(np.clip(point, -LOG_BOUND, LOG_BOUND))

    result = optimize.minimize(guarded, start, jac=True, method="BFGS", options={"gtol": 1e-8, "maxiter": 1000})
    point = np.clip(result.x, -LOG_BOUND, LOG_BOUND)
    flat = bool(np.all(np.isfinite(result.jac)) and np.max(np.abs(result.jac)) < 1e-5)
    converged = (bool(result.success) or flat) and bool(np.isfinite(result.fun))
    return point, converged, int(result.nit)
