"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for
customer base analysis", Journal of Marketing Research 42(4); Colombo & Jiang 1999).

A customer's purchase values are Gamma(p, ν) around their own mean, and ν ~ Gamma(q, v) across
customers. Fitted on the repeat buyers' (x, z̄): x repeat purchases and z̄ the mean value of those
repeat purchases (the first purchase is left out, as in the literature). Customers with x = 0 or a
non-positive mean do not enter the fit. The model assumes spend is independent of frequency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from app.domain.analytics.clv.arrays import LOG_BOUND, FloatArray, as_float, by_value, compress, minimize
from app.domain.analytics.clv.arrays import dot as _dot


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float

    def as_array(self) -> FloatArray:
        return np.array([self.p, self.q, self.v], dtype=np.float64)

    @property
    def population_mean(self) -> float | None:
        """E[value] for a customer the model knows nothing about (p v / (q − 1)); None when q ≤ 1
        (the mean does not exist)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else None


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    customers: int
    converged: bool
    iterations: int
    at_bound: bool


def usable(frequency: FloatArray, monetary: FloatArray) -> FloatArray:
    """Which customers enter the fit: repeat buyers with a positive mean value."""
    x, m = as_float(frequency), as_float(monetary)
    return np.asarray((x > 0) & (m > 0) & np.isfinite(m))


def log_likelihood(params: GammaGammaParams, frequency: FloatArray, monetary: FloatArray) -> FloatArray:
    value, _ = _individual(params.as_array(), as_float(frequency), as_float(monetary), gradient=False)
    return value


class _Prepared:
    """What the likelihood needs that does not depend on the parameters, computed once per fit."""

    def __init__(self, x: FloatArray, m: FloatArray) -> None:
        self.x, self.m = x, m
        self.xs, self.where = by_value(x)
        self.log_m, self.log_x = np.log(m), np.log(x)


def _individual(
    theta: FloatArray, x: FloatArray, m: FloatArray, prepared: _Prepared | None = None, *, gradient: bool
) -> tuple[FloatArray, tuple[FloatArray, ...] | None]:
    """ln f(z̄ | x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln z̄ + px ln x − (px+q) ln(x z̄ + v);
    the Γ terms are functions of x alone, evaluated once per distinct x."""
    p, q, v = theta
    data = prepared if prepared is not None else _Prepared(x, m)
    xs, where = data.xs, data.where
    px = p * x
    log_xm_v = np.log(x * m + v)
    per_x = special.gammaln(p * xs + q) - special.gammaln(p * xs)
    value = (
        per_x[where]
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * data.log_m
        + px * data.log_x
        - (px + q) * log_xm_v
    )
    if not gradient:
        return value, None
    dig = special.digamma(p * xs + q)
    grad_p = x * ((dig - special.digamma(p * xs))[where] + data.log_m + data.log_x - log_xm_v)
    grad_q = dig[where] - special.digamma(q) + np.log(v) - log_xm_v
    grad_v = q / v - (px + q) / (x * m + v)
    return value, (grad_p * p, grad_q * q, grad_v * v)


class _Summed:
    """The total log-likelihood of weighted (x, z̄) rows and its gradient, what the optimiser calls.
    The Γ terms are functions of x alone: summed per distinct x, with the weights summed per x
    once. Per row only ln(x z̄ + v) is taken, and subtracted from ln(x z̄) and ln v row by row
    before any sum: summing the terms apart and subtracting the large totals afterwards loses
    digits the line search needs near the optimum (it then took many more evaluations).
    Equal to the weighted sum of `_individual` up to rounding (unit tests)."""

    def __init__(self, x: FloatArray, m: FloatArray, weights: FloatArray) -> None:
        self.total = float(weights.sum())
        self.xs, where = by_value(x)
        self.weight_x = np.bincount(where, weights, minlength=len(self.xs))
        self.xm, self.weights, self.weights_x = x * m, weights, weights * x
        self.log_xm = np.log(self.xm)
        self.sum_log_m = _dot(weights, np.log(m))  # Σ w ln z̄

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = (float(t) for t in theta)
        xs, total = self.xs, self.total
        log_xm_v = np.log(self.xm + v)
        inv_xm_v = 1.0 / (self.xm + v)
        # px ln z̄ + px ln x − px ln(xz̄+v) = −px ln(1 + v/(xz̄)); q ln v − q ln(xz̄+v) = −q ln(1 + xz̄/v)
        spend_share = _dot(self.weights_x, log_xm_v - self.log_xm)  # Σ w x ln(1 + v/(x z̄))
        prior_share = _dot(self.weights, log_xm_v - np.log(v))  # Σ w ln(1 + x z̄/v)
        per_x = special.gammaln(p * xs + q) - special.gammaln(p * xs)
        value = (
            _dot(self.weight_x, per_x) - total * special.gammaln(q) - self.sum_log_m - p * spend_share - q * prior_share
        )
        dig = special.digamma(p * xs + q)
        grad_p = _dot(self.weight_x, xs * (dig - special.digamma(p * xs))) - spend_share
        grad_q = _dot(self.weight_x, dig) - total * special.digamma(q) - prior_share
        grad_v = total * q / v - p * _dot(self.weights_x, inv_xm_v) - q * _dot(self.weights, inv_xm_v)
        # Chain rule to log-parameters: ∂/∂ln θ = θ ∂/∂θ.
        return float(value), np.array([grad_p * p, grad_q * q, grad_v * v])


def fit(frequency: FloatArray, monetary: FloatArray) -> GammaGammaFit:
    """Maximum-likelihood (p, q, v) over the repeat buyers with a positive mean value."""
    keep = usable(frequency, monetary)
    (x, m), weights, _ = compress(as_float(frequency)[keep], as_float(monetary)[keep])
    total = float(weights.sum())
    if total == 0:
        raise ValueError("no repeat buyers with a positive mean value to fit")

    summed = _Summed(x, m, weights)

    def objective(log_theta: FloatArray) -> tuple[float, FloatArray]:
        value, grad = summed(np.exp(log_theta))
        return -value / total, -grad / total

    # p = q = 1 and v at the mean value: a prior whose scale matches the data's.
    start = np.array([0.0, 0.0, np.log(max(_dot(weights, m) / total, 1e-6))])
    point, converged, iterations = minimize(objective, start)
    theta = np.exp(point)
    ll = summed(theta)[0]
    return GammaGammaFit(
        params=GammaGammaParams(*(float(t) for t in theta)),
        log_likelihood=ll,
        customers=int(total),
        converged=converged and bool(np.isfinite(ll)),
        iterations=iterations,
        at_bound=bool(np.any(np.abs(point) >= LOG_BOUND - 1e-6)),
    )


def expected_value(params: GammaGammaParams, frequency: FloatArray, monetary: FloatArray) -> FloatArray:
    """E[value of a purchase | x, z̄] = p (v + x z̄) / (p x + q − 1): the customer's own mean weighted
    by x against the population mean. Customers without a usable mean (x = 0 or z̄ ≤ 0) get the
    population mean p v / (q − 1) (NaN when q ≤ 1)."""
    p, q, v = params.p, params.q, params.v
    x, m = as_float(frequency), as_float(monetary)
    own = usable(x, m)
    x_used = np.where(own, x, 0.0)
    m_used = np.where(own, m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = p * (v + x_used * m_used) / (p * x_used + q - 1)
    return np.where(p * x_used + q - 1 > 0, value, np.nan)
