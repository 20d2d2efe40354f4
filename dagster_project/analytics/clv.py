"""BG/NBD and Gamma-Gamma customer lifetime value, fitted by maximum likelihood.

Why our own: `lifetimes` is archived and slow at scale; `pymc-marketing` is MCMC-first and
heavy. These are the closed-form likelihoods of Fader, Hardie & Lee, "Counting your
customers the easy way" (2005, BG/NBD) and "RFM and CLV: using iso-value curves" (2005,
Gamma-Gamma), with analytic gradients, optimised by L-BFGS-B over the logarithms of the
parameters (so they stay positive without bounds that bite).

Data per customer: ``frequency`` x = repeat purchases (purchase periods after the first),
``recency`` t_x = time from the first to the last purchase, ``T`` = time from the first
purchase to the end of observation, in one time unit of the caller's choosing (days here).
Fits run on the distinct (x, t_x, T) rows with a weight each (``compress``): at a million
customers with day resolution that is a few hundred thousand rows, and the terms that
depend on x alone are evaluated once per distinct x. Everything is computed in log space
(gammaln, betaln, logaddexp), so a customer with 10,000 purchases neither overflows nor
underflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

DAYS_PER_MONTH = 365.25 / 12


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Compressed:
    """Distinct rows of a per-customer table, their multiplicity, and the way back."""

    rows: np.ndarray  # (k, columns) distinct rows
    weights: np.ndarray  # (k,) how many customers share each row
    inverse: np.ndarray  # (n,) row of each customer in ``rows``


def compress(*columns: np.ndarray) -> Compressed:
    """De-duplicate customers that share every value (np.unique over rows, with counts)."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    key = _integer_key(stacked)
    if key is None:  # fractional values: sort whole rows
        return _compress_rows(stacked)
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    return Compressed(rows=stacked[first], weights=counts.astype(float), inverse=inverse.reshape(-1))


def _compress_rows(stacked: np.ndarray) -> Compressed:
    """np.unique over rows, by a stable lexsort of the columns: the same rows in the same order
    (first column first), 0.2 s instead of 1.3 s for 585,170 (frequency, mean spend) rows."""
    if len(stacked) == 0:
        return Compressed(rows=stacked, weights=np.zeros(0), inverse=np.zeros(0, dtype=np.intp))
    order = np.lexsort(stacked.T[::-1])
    ordered = stacked[order]
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    group = np.cumsum(starts) - 1
    inverse = np.empty(len(ordered), dtype=np.intp)
    inverse[order] = group
    return Compressed(rows=ordered[starts], weights=np.bincount(group).astype(float), inverse=inverse)


def _integer_key(stacked: np.ndarray) -> np.ndarray | None:
    """One int64 per row (mixed radix) when every value is a small non-negative integer, e.g. days.

    Sorting one integer column is ten times faster than sorting rows; the key orders rows
    lexicographically, as np.unique over rows would.
    """
    if stacked.size == 0 or not np.all(np.isfinite(stacked)) or stacked.min() < 0:
        return None
    if not np.array_equal(stacked, np.floor(stacked)):
        return None
    radices = stacked.max(axis=0).astype(np.int64) + 1
    if float(np.prod(radices.astype(float))) >= 2.0**62:
        return None
    key = np.zeros(len(stacked), dtype=np.int64)
    for column, radix in zip(stacked.T.astype(np.int64), radices):
        key = key * radix + column
    return key


def _weights(n: int, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(w < 0):
        raise ValueError("weights must be one non-negative number per row")
    return w


# ---------------------------------------------------------------------------- BG/NBD


@dataclass(frozen=True)
class BgNbdParams:
    """Purchase rate λ ~ Gamma(r, α) (α in the data's time unit); dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b])


@dataclass(frozen=True)
class Fit:
    """Result of a maximum-likelihood fit."""

    params: BgNbdParams | GammaGammaParams
    log_likelihood: float  # sum over customers (weights count customers)
    customers: float  # total weight
    distinct_rows: int
    iterations: int
    converged: bool


class _BgNbdData:
    """Distinct rows and, once per distinct frequency, the index used by the x-only terms."""

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray):
        self.x, self.tx, self.T, self.w = x, tx, T, w
        self.xu, self.xi = np.unique(x, return_inverse=True)
        self.xi = self.xi.reshape(-1)
        self.has_repeat = x > 0
        self.total = float(w.sum())


def _bgnbd_loglik(p: BgNbdParams, d: _BgNbdData, with_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-row log-likelihood and (optionally) its gradient in (r, α, a, b), shape (4, rows).

    L = Γ(r+x) α^r / Γ(r) / B(a,b) · [B(a, b+x) (α+T)^-(r+x) + [x>0] B(a+1, b+x-1) (α+t_x)^-(r+x)]
    """
    r, alpha, a, b = p.r, p.alpha, p.a, p.b
    xu = d.xu
    # terms in x only, once per distinct x
    lg = special.gammaln(r + xu) - special.gammaln(r)
    beta_t = special.betaln(a, b + xu)
    xu_pos = np.maximum(xu, 1.0)
    beta_tx = np.where(xu > 0, special.betaln(a + 1, np.maximum(b + xu - 1, 1e-300)), -np.inf)
    x, i = d.x, d.xi
    rx = r + x
    log_at = np.log(alpha + d.T)
    log_atx = np.log(alpha + d.tx)
    u_t = beta_t[i] - rx * log_at
    u_tx = np.where(d.has_repeat, beta_tx[i] - rx * log_atx, -np.inf)
    lse = np.logaddexp(u_t, u_tx)
    ll = lg[i] + r * np.log(alpha) - special.betaln(a, b) + lse
    if not with_grad:
        return ll, None
    w_t = np.exp(u_t - lse)
    w_tx = 1.0 - w_t
    psi_ab = special.digamma(a + b)
    psi_abx = special.digamma(a + b + xu)[i]
    d_r = (special.digamma(r + xu) - special.digamma(r))[i] + np.log(alpha) - w_t * log_at - w_tx * log_atx
    d_alpha = r / alpha - rx * (w_t / (alpha + d.T) + w_tx / (alpha + d.tx))
    d_a = -(special.digamma(a) - psi_ab) + w_t * (special.digamma(a) - psi_abx) + w_tx * (special.digamma(a + 1) - psi_abx)
    psi_bx1 = np.where(xu > 0, special.digamma(b + xu_pos - 1), 0.0)[i]
    d_b = -(special.digamma(b) - psi_ab) + w_t * (special.digamma(b + xu)[i] - psi_abx) + w_tx * (psi_bx1 - psi_abx)
    return ll, np.vstack([d_r, d_alpha, d_a, d_b])


def bgnbd_log_likelihood(params: BgNbdParams, frequency, recency, T, weights=None) -> float:
    """Total log-likelihood of the data under ``params`` (weights count customers)."""
    x, tx, TT = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    d = _BgNbdData(x, tx, TT, _weights(len(x), weights))
    ll, _ = _bgnbd_loglik(params, d, with_grad=False)
    return float(np.dot(d.w, ll))


def bgnbd_gradient(params: BgNbdParams, frequency, recency, T, weights=None) -> np.ndarray:
    """Gradient of the total log-likelihood in (r, α, a, b) (exposed for tests)."""
    x, tx, TT = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    d = _BgNbdData(x, tx, TT, _weights(len(x), weights))
    _, g = _bgnbd_loglik(params, d, with_grad=True)
    return g @ d.w


def _check_rfm(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> None:
    if np.any(x < 0) or np.any(tx < 0) or np.any(tx > T + 1e-9) or np.any((x > 0) & (tx <= 0)):
        raise ValueError("need frequency >= 0, 0 <= recency <= T, and recency > 0 when frequency > 0")


def fit_bgnbd(frequency, recency, T, weights=None, init: BgNbdParams | None = None) -> Fit:
    """Maximum-likelihood BG/NBD. Pass distinct rows with ``weights``, or one row per customer."""
    x, tx, TT = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    _check_rfm(x, tx, TT)
    d = _BgNbdData(x, tx, TT, _weights(len(x), weights))
    if init is None:
        mean_rate = max(float(np.dot(d.w, x) / max(np.dot(d.w, TT), 1e-12)), 1e-6)
        init = BgNbdParams(r=1.0, alpha=1.0 / mean_rate, a=1.0, b=1.0)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = BgNbdParams(*np.exp(theta))
        ll, g = _bgnbd_loglik(p, d, with_grad=True)
        # mean negative log-likelihood; chain rule d/dθ = p · d/dp for θ = log p
        return -float(np.dot(d.w, ll)) / d.total, -(g @ d.w) * np.exp(theta) / d.total

    theta, info = _minimise(objective, np.log(init.as_array()))
    params = BgNbdParams(*(float(v) for v in np.exp(theta)))
    return Fit(params, bgnbd_log_likelihood(params, x, tx, TT, d.w), d.total, len(x), info.nit, bool(info.success))


def _minimise(objective, theta0: np.ndarray):
    bounds = [(-25.0, 25.0)] * len(theta0)
    res = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9, "maxcor": 20})
    return res.x, res


def _log_alive_odds(p: BgNbdParams, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """log of P(dead)/P(alive) given the history (-inf for customers without repeat purchases)."""
    xp = np.maximum(x, 1.0)
    odds = np.log(p.a) - np.log(p.b + xp - 1) + (p.r + x) * (np.log(p.alpha + T) - np.log(p.alpha + tx))
    return np.where(x > 0, odds, -np.inf)


def probability_alive(params: BgNbdParams, frequency, recency, T) -> np.ndarray:
    """P(still active | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((α+T)/(α+t_x))^(r+x))."""
    x, tx, TT = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    return special.expit(-_log_alive_odds(params, x, tx, TT))


def expected_transactions(params: BgNbdParams, t: float, frequency, recency, T) -> np.ndarray:
    """Expected purchases in the next ``t`` time units given the history (BG/NBD eq. 10).

    E[Y(t)] = (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x-1; z)] · P(alive),
    z = t/(α+T+t). Euler's transformation ₂F₁(A,B;C;z) = (1-z)^(C-A-B) ₂F₁(C-A, C-B; C; z)
    turns the bracket into 1 - (1-z)^(a-1) ₂F₁(a+b-1-r, a-1; a+b+x-1; z): small upper
    parameters and a lower one that grows with x, so the series converges fast and nothing
    overflows however many purchases a customer has.
    """
    x, tx, TT = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    return _expected_if_alive(params, t, x, TT) * probability_alive(params, x, tx, TT)


def _expected_if_alive(params: BgNbdParams, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """The unconditional factor of ``expected_transactions``: a function of (x, T) alone."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-9:  # removable singularity: step off it
        a = 1.0 + 1e-9
    if t <= 0:
        return np.zeros(np.broadcast(x, T).shape)
    z = t / (alpha + T + t)
    c = a + b + x - 1
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    bracket = -np.expm1((a - 1) * np.log1p(-z)) * 1.0  # 1 - (1-z)^(a-1)
    bracket = bracket + (1.0 - hyp) * np.exp((a - 1) * np.log1p(-z))
    return c / (a - 1) * bracket


# ---------------------------------------------------------------------------- Gamma-Gamma


@dataclass(frozen=True)
class GammaGammaParams:
    """Spend per transaction ~ Gamma(p, ν) with ν ~ Gamma(q, γ); E[spend] = p γ / (q - 1)."""

    p: float
    q: float
    gamma: float

    def as_array(self) -> np.ndarray:
        return np.array([self.p, self.q, self.gamma])

    @property
    def population_mean(self) -> float:
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")


def _gg_loglik(g: GammaGammaParams, x: np.ndarray, m: np.ndarray, with_grad: bool):
    """Log density of the mean spend m over x purchases, and its gradient in (p, q, γ)."""
    p, q, gam = g.p, g.q, g.gamma
    px = p * x
    log_gxm = np.log(gam + x * m)
    ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(gam)
          + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * log_gxm)
    if not with_grad:
        return ll, None
    psi_pxq = special.digamma(px + q)
    d_p = x * (psi_pxq - special.digamma(px) + np.log(m) + np.log(x) - log_gxm)
    d_q = psi_pxq - special.digamma(q) + np.log(gam) - log_gxm
    d_gamma = q / gam - (px + q) / (gam + x * m)
    return ll, np.vstack([d_p, d_q, d_gamma])


def gamma_gamma_log_likelihood(params: GammaGammaParams, frequency, monetary_value, weights=None) -> float:
    x, m = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
    ll, _ = _gg_loglik(params, x, m, with_grad=False)
    return float(np.dot(_weights(len(x), weights), ll))


def gamma_gamma_gradient(params: GammaGammaParams, frequency, monetary_value, weights=None) -> np.ndarray:
    x, m = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
    _, g = _gg_loglik(params, x, m, with_grad=True)
    return g @ _weights(len(x), weights)


def fit_gamma_gamma(frequency, monetary_value, weights=None, init: GammaGammaParams | None = None) -> Fit:
    """Maximum-likelihood Gamma-Gamma on customers with repeat purchases (x > 0, spend > 0).

    ``monetary_value`` is the customer's mean spend over the x purchases it models (FHL use
    the repeat purchases). Rows with x = 0 or no positive spend carry no information and are
    dropped.
    """
    x, m = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
    w = _weights(len(x), weights)
    keep = (x > 0) & (m > 0) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    if not len(x):
        raise ValueError("no customer bought more than once with a positive spend in the period, so the "
                         "spend model (Gamma-Gamma) has nothing to fit: the history is too short or too small")
    if init is None:
        init = GammaGammaParams(p=1.0, q=1.0, gamma=float(np.average(m, weights=w)))
    total = float(w.sum())

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g = _gg_loglik(GammaGammaParams(*np.exp(theta)), x, m, with_grad=True)
        return -float(np.dot(w, ll)) / total, -(g @ w) * np.exp(theta) / total

    theta, info = _minimise(objective, np.log(init.as_array()))
    params = GammaGammaParams(*(float(v) for v in np.exp(theta)))
    return Fit(params, gamma_gamma_log_likelihood(params, x, m, w), total, len(x), info.nit, bool(info.success))


def expected_average_value(params: GammaGammaParams, frequency, monetary_value) -> np.ndarray:
    """E[spend per transaction | x, m] = p (γ + x m) / (p x + q - 1): shrinks m toward the mean.

    A customer without repeat purchases gets the population mean p γ / (q - 1).
    """
    x = np.asarray(frequency, dtype=float)
    m = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
    return params.p * (params.gamma + x * m) / (params.p * x + params.q - 1)


# ---------------------------------------------------------------------------- CLV


def monthly_expected_transactions(params: BgNbdParams, months: int, frequency, recency, T,
                                  units_per_month: float = DAYS_PER_MONTH) -> np.ndarray:
    """Expected purchases in each of the next ``months`` months, shape (months, customers).

    The hypergeometric factor depends on (x, T) alone, so it is evaluated once per distinct pair
    (29,522 at a million people against 462,099 distinct (x, t_x, T) rows) and P(alive) once for
    every month, without a (months + 1) x customers cumulative array to difference: 36 months
    took 5.9-6.6 s before, 0.4 s now, with bit-identical results.
    """
    x, tx, TT = (np.ravel(np.asarray(v, dtype=float)) for v in np.broadcast_arrays(frequency, recency, T))
    pairs = compress(x, TT)
    pair_x, pair_t = pairs.rows.T
    alive = probability_alive(params, x, tx, TT)
    monthly = np.empty((months, len(x)))
    previous = np.zeros(len(x))
    for m in range(1, months + 1):  # cumulative to month m, less cumulative to month m - 1
        cumulative = _expected_if_alive(params, m * units_per_month, pair_x, pair_t)[pairs.inverse] * alive
        np.subtract(cumulative, previous, out=monthly[m - 1])
        previous = cumulative
    return monthly


def discount_factors(months: int, annual_rate: float) -> np.ndarray:
    """1/(1+d)^m for m = 1..months, d the monthly rate equivalent to ``annual_rate``."""
    monthly = (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0
    return (1.0 + monthly) ** -np.arange(1, months + 1, dtype=float)


def discounted_clv(params: BgNbdParams, frequency, recency, T, value_per_transaction, months: int,
                   annual_discount_rate: float, units_per_month: float = DAYS_PER_MONTH) -> np.ndarray:
    """Σ_m E[purchases in month m] · value per purchase / (1+d)^m over ``months`` months.

    ``value_per_transaction`` is what one purchase is worth (expected spend × margin rate for
    a margin CLV, expected spend alone for a revenue CLV).
    """
    per_month = monthly_expected_transactions(params, months, frequency, recency, T, units_per_month)
    return discount_factors(months, annual_discount_rate) @ per_month * np.asarray(value_per_transaction, dtype=float)
