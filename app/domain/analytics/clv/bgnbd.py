"""BG/NBD ("beta-geometric / negative binomial distribution", Fader, Hardie & Lee 2005,
"Counting your customers the easy way", Marketing Science 24(2)): how many purchases a customer
will make and the chance they are still active, from their own (x, t_x, T).

- x: repeat purchases (distinct purchase periods after the first), t_x: time from the first to the
  last purchase, T: time from the first purchase to the analysis date, all in one time unit (any:
  the fitted `alpha` is in that unit).
- While active a customer buys at rate λ ~ Gamma(r, α); after each repeat purchase they drop out
  with probability p ~ Beta(a, b).

Everything is computed in log space (a customer with hundreds of purchases or a very long history
overflows the textbook formulas) and vectorised over customers; identical (x, t_x, T) rows are
weighted once. The fit maximises the log-likelihood over log-parameters (unconstrained) with the
analytic gradient, so it needs a few dozen cheap evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from app.domain.analytics.clv.arrays import LOG_BOUND, FloatArray, as_float, by_value, compress, minimize
from app.domain.analytics.clv.arrays import dot as _dot


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b], dtype=np.float64)


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float  # the total over every customer (as published)
    customers: int
    repeat_buyers: int
    converged: bool
    iterations: int
    at_bound: bool  # a parameter ended at LOG_BOUND: the data cannot identify the model


def log_likelihood(params: BgNbdParams, frequency: FloatArray, recency: FloatArray, age: FloatArray) -> FloatArray:
    """Each customer's log-likelihood (FHL 2005, eq. 6), in log space."""
    x = as_float(frequency)
    value, _ = _individual(params.as_array(), x, as_float(recency), as_float(age), gradient=False)
    return value


def _individual(
    theta: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    big_t: FloatArray,
    distinct_x: tuple[FloatArray, Any] | None = None,
    *,
    gradient: bool,
) -> tuple[FloatArray, tuple[FloatArray, ...] | None]:
    """Log-likelihoods and (optionally) their gradients with respect to the log-parameters.

    ll = A + log(1 + e^D), with
      A = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b) − (r+x) ln(α+T)
      D = ln a − ln(b+x−1) + (r+x) (ln(α+T) − ln(α+t_x))      (x > 0; the second term is absent at x = 0)
    """
    r, alpha, a, b = theta
    # Functions of x alone are evaluated once per distinct x (a few hundred at most), not per customer.
    xs, where = distinct_x if distinct_x is not None else by_value(x)
    log_alpha_t = np.log(alpha + big_t)
    per_x = special.gammaln(r + xs) - special.gammaln(r) + special.betaln(a, b + xs) - special.betaln(a, b)
    value = per_x[where] + r * np.log(alpha) - (r + x) * log_alpha_t
    repeat = x > 0
    d = np.full_like(x, -np.inf)
    log_alpha_tx = np.log(alpha + t_x)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_per_x = np.where(xs > 0, np.log(a) - np.log(np.where(xs > 0, b + xs - 1, 1.0)), -np.inf)
    d[repeat] = d_per_x[where][repeat] + (r + x[repeat]) * (log_alpha_t[repeat] - log_alpha_tx[repeat])
    value = value + np.logaddexp(0.0, d)
    if not gradient:
        return value, None
    weight = special.expit(d)  # ∂ log(1 + e^D) / ∂D, 0 where x = 0
    dig_ab = special.digamma(a + b)
    grad_r = (special.digamma(r + xs) - special.digamma(r))[where] + np.log(alpha) - log_alpha_t
    grad_alpha = r / alpha - (r + x) / (alpha + big_t)
    grad_a = (dig_ab - special.digamma(a + b + xs))[where]
    grad_b = (special.digamma(b + xs) - special.digamma(a + b + xs))[where] - special.digamma(b) + dig_ab
    grad_r = grad_r + weight * (log_alpha_t - log_alpha_tx)
    grad_alpha = grad_alpha + weight * (r + x) * (1.0 / (alpha + big_t) - 1.0 / (alpha + t_x))
    grad_a = grad_a + weight / a
    with np.errstate(divide="ignore", invalid="ignore"):
        grad_b = grad_b - np.where(repeat, weight / np.where(repeat, b + x - 1, 1.0), 0.0)
    # Chain rule to log-parameters: ∂/∂ln θ = θ ∂/∂θ.
    return value, (grad_r * r, grad_alpha * alpha, grad_a * a, grad_b * b)


class _Summed:
    """The total log-likelihood of weighted (x, t_x, T) rows and its gradient, with everything that
    does not depend on the parameters summed once per fit (what the optimiser calls, a few dozen
    times). Equal to the weighted sum of `_individual` up to rounding, checked in the unit tests.

    Split as in `_individual`: ll = A + log(1 + e^D). A's terms depend on x alone or on T alone, so
    their weighted sums are taken over the distinct x and the distinct T (a few hundred each) with
    the weights summed per value beforehand; only D, defined for repeat buyers, needs a value per
    row, and its logarithms are taken per distinct T and t_x and gathered."""

    def __init__(self, x: FloatArray, t_x: FloatArray, big_t: FloatArray, weights: FloatArray) -> None:
        self.total = float(weights.sum())
        self.xs, where_x = by_value(x)
        self.weight_x = np.bincount(where_x, weights, minlength=len(self.xs))
        self.ts, where_t = by_value(big_t)
        self.weight_t = np.bincount(where_t, weights, minlength=len(self.ts))
        self.weight_x_t = np.bincount(where_t, weights * x, minlength=len(self.ts))  # Σ w x per T
        repeat = x > 0
        self.repeat_xs = self.xs > 0
        self.x_r, self.weights_r = x[repeat], weights[repeat]
        self.where_x_r, self.where_t_r = where_x[repeat], where_t[repeat]
        self.txs, self.where_tx_r = by_value(t_x[repeat])

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = (float(v) for v in theta)
        xs, total = self.xs, self.total
        log_t = np.log(alpha + self.ts)
        inv_t = 1.0 / (alpha + self.ts)
        per_x = special.gammaln(r + xs) - special.gammaln(r) + special.betaln(a, b + xs) - special.betaln(a, b)
        weight_rt = r * self.weight_t + self.weight_x_t  # Σ w (r + x) per T
        # r ln α − r ln(α+T) = −r ln(1 + T/α), per T: no large totals subtracted (see gamma_gamma._Summed)
        prior_share = _dot(self.weight_t, np.log1p(self.ts / alpha))
        value = _dot(self.weight_x, per_x) - r * prior_share - _dot(self.weight_x_t, log_t)
        dig_ab = special.digamma(a + b)
        dig_abx = special.digamma(a + b + xs)
        grad_r = _dot(self.weight_x, special.digamma(r + xs)) - total * special.digamma(r) - prior_share
        grad_alpha = total * r / alpha - _dot(weight_rt, inv_t)
        grad_a = total * dig_ab - _dot(self.weight_x, dig_abx)
        grad_b = _dot(self.weight_x, special.digamma(b + xs) - dig_abx) - total * (special.digamma(b) - dig_ab)
        if len(self.x_r):
            # D = ln a − ln(b+x−1) + (r+x) (ln(α+T) − ln(α+t_x)) for the repeat buyers.
            inv_bx = np.zeros_like(xs)
            inv_bx[self.repeat_xs] = 1.0 / (b + xs[self.repeat_xs] - 1)
            c = np.zeros_like(xs)
            c[self.repeat_xs] = np.log(a) - np.log(b + xs[self.repeat_xs] - 1)
            log_tx = np.log(alpha + self.txs)
            spread = log_t[self.where_t_r] - log_tx[self.where_tx_r]
            rx = r + self.x_r
            d = c[self.where_x_r] + rx * spread
            value += _dot(self.weights_r, np.logaddexp(0.0, d))
            alive = self.weights_r * special.expit(d)  # w ∂ log(1 + e^D) / ∂D
            grad_r += _dot(alive, spread)
            inv_spread = inv_t[self.where_t_r] - 1.0 / (alpha + self.txs)[self.where_tx_r]
            grad_alpha += _dot(alive * rx, inv_spread)
            alive_x = np.bincount(self.where_x_r, alive, minlength=len(xs))
            grad_a += float(alive_x.sum()) / a
            grad_b -= _dot(alive_x, inv_bx)
        # Chain rule to log-parameters: ∂/∂ln θ = θ ∂/∂θ.
        return float(value), np.array([grad_r * r, grad_alpha * alpha, grad_a * a, grad_b * b])


def fit(
    frequency: FloatArray,
    recency: FloatArray,
    age: FloatArray,
    *,
    initial: BgNbdParams | None = None,
) -> BgNbdFit:
    """Maximum-likelihood estimates of (r, α, a, b) from the customers' (x, t_x, T)."""
    rows, weights, _ = compress(as_float(frequency), as_float(recency), as_float(age))
    x, t_x, big_t = rows
    total = float(weights.sum())
    if total == 0:
        raise ValueError("no customers to fit")
    summed = _Summed(x, t_x, big_t, weights)

    def objective(log_theta: FloatArray) -> tuple[float, FloatArray]:
        value, grad = summed(np.exp(log_theta))
        return -value / total, -grad / total

    if initial is None:
        # r = a = b = 1 and α at the mean age: the rate prior's mean (r/α) starts at one purchase per age.
        start = np.array([0.0, np.log(max(_dot(weights, big_t) / total, 1e-3)), 0.0, 0.0])
    else:
        start = np.log(initial.as_array())
    point, converged, iterations = minimize(objective, start)
    theta = np.exp(point)
    params = BgNbdParams(*(float(v) for v in theta))
    ll = summed(theta)[0]
    return BgNbdFit(
        params=params,
        log_likelihood=ll,
        customers=int(total),
        repeat_buyers=int(weights[x > 0].sum()),
        converged=converged and bool(np.isfinite(ll)),
        iterations=iterations,
        at_bound=bool(np.any(np.abs(point) >= LOG_BOUND - 1e-6)),
    )


def p_alive(params: BgNbdParams, frequency: FloatArray, recency: FloatArray, age: FloatArray) -> FloatArray:
    """P(still active | x, t_x, T) = 1 / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x)); exactly 1 at x = 0."""
    x, t_x, big_t = as_float(frequency), as_float(recency), as_float(age)
    return as_float(special.expit(-_log_odds_dead(params, x, t_x, big_t)))


def _log_odds_dead(params: BgNbdParams, x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    out = np.full(np.shape(x), -np.inf)
    xr = x[repeat]
    out[repeat] = (
        np.log(a) - np.log(b + xr - 1) + (r + xr) * (np.log(alpha + big_t[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return out


def expected_purchases(
    params: BgNbdParams, frequency: FloatArray, recency: FloatArray, age: FloatArray, horizon: FloatArray | float
) -> FloatArray:
    """E[purchases in (T, T+t] | x, t_x, T] (FHL 2005, eq. 10), for each customer and each horizon t
    (a scalar gives one value per customer; an array of H horizons gives an (N, H) matrix).

    The published form (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z)] · P(alive)
    with z = t/(α+T+t) multiplies a vanishing power by a diverging ₂F₁ when x is large. Euler's
    transformation turns it into (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose series converges
    fast for any x."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, big_t = as_float(frequency), as_float(recency), as_float(age)
    scalar = np.ndim(horizon) == 0
    t = np.atleast_1d(np.asarray(horizon, dtype=np.float64))[None, :]
    xc, big_tc = x[:, None], big_t[:, None]
    z = np.broadcast_to(t / (alpha + big_tc + t), (len(x), t.shape[1]))
    c = np.broadcast_to(a + b + xc - 1, z.shape)

    def alive_part(c: FloatArray, z: FloatArray) -> FloatArray:
        bracket = 1.0 - np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - 1 - r, a - 1, c, z)
        return as_float(c / (a - 1) * bracket)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        part = alive_part(c, z)
        bad = ~np.isfinite(part)
        if bad.any():  # c = a + b + x − 1 = 0 (x = 0, a + b = 1): a pole of ₂F₁ that c · ₂F₁ does not have
            step = 1e-7
            part[bad] = 0.5 * (alive_part(c[bad] + step, z[bad]) + alive_part(c[bad] - step, z[bad]))
    expected = part * p_alive(params, x, t_x, big_t)[:, None]
    expected = as_float(np.maximum(expected, 0.0))  # rounding near t = 0
    return expected[:, 0] if scalar else expected


def expected_purchases_new_customer(params: BgNbdParams, horizon: FloatArray | float) -> FloatArray:
    """E[X(t)] for a customer just acquired (FHL 2005, eq. 9): the population's expected purchases."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(horizon, dtype=np.float64)
    z = t / (alpha + t)
    value = (a + b - 1) / (a - 1) * (1.0 - np.exp(r * np.log(alpha / (alpha + t))) * _hyp2f1(r, b, a + b - 1, z))
    return np.asarray(value, dtype=np.float64)


def _hyp2f1(a: float, b: float, c: FloatArray | float, z: FloatArray) -> FloatArray:
    """scipy's ₂F₁, except where it fails (NaN or inf near z = 1 when c − a − b is an integer, e.g.
    r = a in the BG/NBD expectation): there the function is continuous in its first parameter, so
    the mean of the values a hair either side is used."""
    c_arr = np.broadcast_to(np.asarray(c, dtype=np.float64), np.broadcast_shapes(np.shape(c), np.shape(z)))
    z_arr = np.broadcast_to(np.asarray(z, dtype=np.float64), c_arr.shape)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        value = np.array(special.hyp2f1(a, b, c_arr, z_arr), dtype=np.float64)
    bad = ~np.isfinite(value)
    if bad.any():
        step = 1e-7 * max(abs(a), 1.0)
        value[bad] = 0.5 * (
            special.hyp2f1(a + step, b, c_arr[bad], z_arr[bad]) + special.hyp2f1(a - step, b, c_arr[bad], z_arr[bad])
        )
    return value
