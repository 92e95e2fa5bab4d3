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
    index of each original row among the distinct ones), in lexicographic order of the columns.
    One sort: of a single integer key when every column holds whole non-negative numbers (counts
    and days, the usual case: faster than a lexicographic sort), else a lexicographic
    sort of the columns (np.unique over rows is several times slower)."""
    n = len(columns[0])
    if n == 0:
        empty = np.zeros(0, dtype=np.float64)
        return tuple(empty for _ in columns), empty, np.zeros(0, dtype=np.intp)
    key = _whole_key(columns)
    if key is not None:
        order = np.argsort(key)
        ordered_key = key[order]
        starts = np.ones(n, dtype=bool)
        starts[1:] = ordered_key[1:] != ordered_key[:-1]
        ordered = [np.asarray(column)[order] for column in columns]
    else:
        order = np.lexsort(columns[::-1])
        ordered = [np.asarray(column)[order] for column in columns]
        starts = np.ones(n, dtype=bool)
        starts[1:] = np.logical_or.reduce([column[1:] != column[:-1] for column in ordered])
    group = np.cumsum(starts) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    counts = np.bincount(group).astype(np.float64)
    return tuple(np.ascontiguousarray(column[starts]) for column in ordered), counts, inverse


def _whole_key(columns: tuple[FloatArray, ...]) -> NDArray[np.int64] | None:
    """One int64 per row ordered as the rows are lexicographically (mixed radix, the first column
    most significant), or None when a column is not whole and non-negative or the key would not fit."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for column in columns:
        values = np.asarray(column)
        low, high = float(values.min()), float(values.max())
        if not (low >= 0 and np.isfinite(high)) or not np.array_equal(values, np.floor(values)):
            return None
        span *= int(high) + 1
        if span >= 2**62:
            return None
        key = key * (int(high) + 1) + values.astype(np.int64)
    return key


def dot(u: NDArray[Any], v: NDArray[Any]) -> float:
    """Σ u v without BLAS: a threaded BLAS dot spins while another process holds a core (a fit many
    times slower on two shared cores: benchmarks/README.md), and these vectors are too short for
    threads to pay."""
    return float(np.einsum("i,i->", u, v))


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
