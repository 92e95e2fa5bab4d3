"""From purchases to the per-customer summary the models read (the literature's conventions):

- purchases on the same day are one purchase, their values summed;
- the first purchase day starts the customer's clock and is not counted: frequency x = distinct
  purchase days − 1;
- recency t_x = last purchase day − first purchase day; age T = analysis day − first purchase day
  (purchases on the analysis day itself included), both divided by the time unit's length in days;
- monetary value = the mean value of the repeat purchase days (the first day left out), NaN at x = 0.

The API's snapshot job computes the same summary in SQL (server-side, never loading orders into
Python); this is the reference it is tested against, and what the CDNOW reproduction uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.domain.analytics.clv.arrays import FloatArray, as_float


@dataclass(frozen=True)
class Summary:
    customers: NDArray[np.int64]  # the customer ids given, each once, ascending
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    monetary: FloatArray  # mean value of the repeat purchase days; NaN without any
    total_value: FloatArray  # every purchase day's value
    first_day: NDArray[np.int64]
    last_day: NDArray[np.int64]


def summarize(
    customers: NDArray[np.int64],
    days: NDArray[np.int64],
    values: FloatArray,
    analysis_day: int,
    *,
    days_per_unit: float = 1.0,
) -> Summary:
    """`days` are integer day numbers (e.g. date ordinals); purchases after `analysis_day` are left out."""
    customers = np.asarray(customers, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    values = as_float(values)
    keep = days <= analysis_day
    customers, days, values = customers[keep], days[keep], values[keep]
    # One row per (customer, day), values summed; sorted by customer then day.
    pairs, where = np.unique(np.column_stack([customers, days]), axis=0, return_inverse=True)
    day_values = np.bincount(where.reshape(-1), weights=values, minlength=len(pairs))
    ids, starts, counts = np.unique(pairs[:, 0], return_index=True, return_counts=True)
    first = pairs[starts, 1]
    last = pairs[starts + counts - 1, 1]
    total = np.add.reduceat(day_values, starts) if len(pairs) else np.zeros(0)
    first_value = day_values[starts] if len(pairs) else np.zeros(0)
    frequency = (counts - 1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, (total - first_value) / frequency, np.nan)
    return Summary(
        customers=ids.astype(np.int64),
        frequency=frequency,
        recency=(last - first) / days_per_unit,
        age=(analysis_day - first) / days_per_unit,
        monetary=monetary,
        total_value=total,
        first_day=first.astype(np.int64),
        last_day=last.astype(np.int64),
    )
