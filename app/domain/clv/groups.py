"""Customer values by group (acquisition channel, month, tag, country …): count, sum, mean and
percentiles, computed once per snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.domain.clv.arrays import FloatArray, as_float

PERCENTILES = (10, 25, 50, 75, 90)


@dataclass(frozen=True)
class GroupStats:
    key: str | None  # None: customers without a value for the dimension
    count: int
    sum: float
    mean: float
    percentiles: dict[str, float]  # "p10" … "p90" (linear interpolation between order statistics)


def group(keys: Sequence[Sequence[str | None]], values: FloatArray, *, limit: int) -> list[GroupStats]:
    """`keys[i]` are customer i's groups (one for most dimensions, any number of tags; an empty
    list puts the customer in the `None` group). The `limit` largest groups, largest first (ties
    by key)."""
    values = as_float(values)
    members: dict[str | None, list[int]] = {}
    for index, customer_keys in enumerate(keys):
        for key in customer_keys or (None,):
            members.setdefault(key, []).append(index)
    ordered = sorted(members.items(), key=lambda item: (-len(item[1]), item[0] is None, item[0] or ""))
    stats = []
    for key, indices in ordered[:limit]:
        chosen = values[np.asarray(indices, dtype=np.intp)]
        points = np.percentile(chosen, PERCENTILES)
        stats.append(
            GroupStats(
                key=key,
                count=len(indices),
                sum=float(chosen.sum()),
                mean=float(chosen.mean()),
                percentiles={f"p{p}": float(v) for p, v in zip(PERCENTILES, points, strict=True)},
            )
        )
    return stats
