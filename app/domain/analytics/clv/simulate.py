"""Customers drawn from a BG/NBD process with known parameters (tests and benchmarks: a fit of
these must recover the parameters). The random generator is passed in (a fixed seed reproduces)."""

from __future__ import annotations

import numpy as np

from app.domain.analytics.clv.arrays import FloatArray
from app.domain.analytics.clv.bgnbd import BgNbdParams


def bgnbd_customers(
    params: BgNbdParams, ages: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x, t_x, T) for customers observed for `ages` time units after their first purchase: each
    buys at rate λ ~ Gamma(r, scale 1/α) while active and drops out after each repeat purchase with
    probability p ~ Beta(a, b). Continuous time (no two purchases share a period)."""
    big_t = np.asarray(ages, dtype=np.float64)
    n = len(big_t)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        index = np.flatnonzero(active)
        now[index] += rng.exponential(1.0, len(index)) / np.maximum(rate[index], 1e-300)
        bought = now[index] <= big_t[index]
        buyers = index[bought]
        x[buyers] += 1
        t_x[buyers] = now[buyers]
        active[index[~bought]] = False
        leaving = buyers[rng.random(len(buyers)) < dropout[buyers]]
        active[leaving] = False
    return x, t_x, big_t


def spend(frequency: FloatArray, p: float, q: float, v: float, rng: np.random.Generator) -> FloatArray:
    """Mean value of each customer's x repeat purchases under Gamma-Gamma (NaN at x = 0): ν ~
    Gamma(q, rate v) per customer, each purchase Gamma(p, rate ν)."""
    x = np.asarray(frequency, dtype=np.float64)
    nu = rng.gamma(q, 1.0 / v, len(x))
    # The sum of x Gamma(p, ν) purchases is Gamma(p x, ν).
    shape = np.where(x > 0, p * x, 1.0)
    total = rng.gamma(shape, 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1), np.nan)
