"""Customer values by group (acquisition channel, month, tag, country …): count, sum, mean and
percentiles, computed once per snapshot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.domain.analytics.clv.arrays import FloatArray, as_float

PERCENTILES = (10, 25, 50, 75, 90)


@dataclass(frozen=True)
class Stats:
    sum: float
    mean: float
    percentiles: dict[str, float]  # "p10" … "p90" (linear interpolation between order statistics)


@dataclass(frozen=True)
class GroupStats:
    key: str | None  # None: customers without a value for the dimension
    count: int
    metrics: dict[str, Stats]


def group(keys: Sequence[Sequence[str | None]], metrics: Mapping[str, FloatArray], *, limit: int) -> list[GroupStats]:
    """`keys[i]` are customer i's groups (one for most dimensions, any number of tags; an empty
    list puts the customer in the `None` group); `metrics` are per-customer values. The `limit`
    largest groups, largest first (ties by key), each with every metric's statistics."""
    members: dict[str | None, list[int]] = {}
    for index, customer_keys in enumerate(keys):
        for key in customer_keys or (None,):
            members.setdefault(key, []).append(index)
    ordered = sorted(members.items(), key=lambda item: (-len(item[1]), item[0] is None, item[0] or ""))
    columns = {name: as_float(values) for name, values in metrics.items()}
    result = []
    for key, indices in ordered[:limit]:
        chosen = np.asarray(indices, dtype=np.intp)
        stats = {}
        for name, values in columns.items():
            picked = values[chosen]
            points = np.percentile(picked, PERCENTILES)
            stats[name] = Stats(
                sum=float(picked.sum()),
                mean=float(picked.mean()),
                percentiles={f"p{p}": float(v) for p, v in zip(PERCENTILES, points, strict=True)},
            )
        result.append(GroupStats(key=key, count=len(indices), metrics=stats))
    return result
