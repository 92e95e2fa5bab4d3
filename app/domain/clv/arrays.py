"""Array helpers shared by the CLV models."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def as_float(values: Any) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def compress(*columns: FloatArray) -> tuple[tuple[FloatArray, ...], FloatArray, NDArray[np.intp]]:
    """Identical rows once, with their counts as weights: (the distinct columns, weights, and the
    index of each original row among the distinct ones)."""
    if len(columns[0]) == 0:
        empty = np.zeros(0, dtype=np.float64)
        return tuple(empty for _ in columns), empty, np.zeros(0, dtype=np.intp)
    stacked = np.column_stack(columns)
    distinct, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return (
        tuple(np.ascontiguousarray(distinct[:, i]) for i in range(len(columns))),
        counts.astype(np.float64),
        inverse.reshape(-1),
    )
