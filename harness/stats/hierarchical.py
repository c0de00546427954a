"""The Bayesian hierarchical model of Corani, Benavoli, Demšar, Mangili and Zaffalon (Machine
Learning 2017, "Statistical comparison of classifiers through Bayesian hierarchical
modelling"), exactly as baycomp's `HierarchicalTest` states it (its Stan file and priors), for
one variant against the baseline across data sets:

- data set i's per-split differences x_i1 … x_in ~ MVN(δ_i 1, σ_i² M_i), M_i the correlation
  matrix of correlated splits (1 on the diagonal, ρ_i elsewhere; ρ = n_test / n_all, 1/K for
  K-fold, as Nadeau and Bengio's correction assumes);
- δ_i ~ Student t(ν, δ₀, σ₀): the data sets' true differences shrink towards δ₀;
- σ_i ~ U(0, 1000 s̄), δ₀ ~ U(−max|x|, max|x|), σ₀ ~ U(0, 1000 s₀), ν − 1 ~ Gamma(α, β),
  α ~ U(1, 2), β ~ U(0.01, 0.1); the differences are first divided by their mean within-data-set
  standard deviation (and the ROPE with them), as baycomp does, so the priors' scale is its.

baycomp samples it with Stan (pystan 3 compiles the model with a C++ compiler on first use,
~2.5 minutes here, and keeps no per-data-set estimates); this samples the same posterior by
Gibbs sampling, the t as a scale mixture of normals (δ_i | λ_i ~ N(δ₀, σ₀²/λ_i), λ_i ~
Gamma(ν/2, ν/2)), every conditional drawn exactly (normal, truncated gamma) except ν and α,
drawn on fine grids (griddy Gibbs). tests/test_hierarchical.py checks it against baycomp's own
output on fixed inputs (tests/fixtures/baycomp_hierarchical.json, made by the script beside it).

What it gives (`hierarchical_test`): baycomp's three probabilities for a *new* data set like
these, P(worse), P(equivalent), P(better) than the baseline by more than the ROPE: the share
of posterior draws in which that region holds the largest part of the new data set's
t(ν, δ₀, σ₀) (Corani et al. 2017, §4; baycomp's `probs`); the posterior mean of those masses;
the posterior of δ₀ (the suite's mean difference); and each data set's shrunk difference δ_i
with its 95% interval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import special
from scipy import stats as sps

#: baycomp's defaults
LOWER_ALPHA, UPPER_ALPHA, LOWER_BETA, UPPER_BETA, UPPER_SIGMA = 1.0, 2.0, 0.01, 0.1, 1000.0
#: chains, iterations kept per chain and iterations discarded first
CHAINS, DRAWS, BURN_IN = 4, 2_500, 500
#: grids of the griddy-Gibbs steps: log(ν − 1) and α
_LOG_NU_GRID = np.linspace(math.log(1e-3), math.log(5e3), 400)
_ALPHA_GRID = np.linspace(LOWER_ALPHA, UPPER_ALPHA, 101)


@dataclass(frozen=True)
class HierarchicalResult:
    """`p_worse`, `p_equivalent`, `p_better`: for a new data set, the posterior probability that
    worse than / within / better than the baseline by the ROPE (in the units of the differences
    given) is the likeliest of the three (baycomp's); `mean`, `mean_low`, `mean_high`: the posterior mean and 95% interval
    of δ₀; `shrunk`, `shrunk_low`, `shrunk_high`: each data set's δ_i; `scale`: what the
    differences were divided by before sampling (baycomp's rescaling)."""

    p_worse: float
    p_equivalent: float
    p_better: float
    #: the posterior mean of a new data set's mass below −ROPE, within ±ROPE and above +ROPE
    mass: tuple[float, float, float]
    mean: float
    mean_low: float
    mean_high: float
    shrunk: np.ndarray
    shrunk_low: np.ndarray
    shrunk_high: np.ndarray
    scale: float


def _truncated_gamma(rng: np.random.Generator, shape: np.ndarray, rate: np.ndarray, low: np.ndarray | float,
                     high: np.ndarray | float = np.inf) -> np.ndarray:
    """Gamma(shape, rate) draws restricted to [low, high], by the inverse CDF."""
    rate = np.maximum(rate, 1e-300)
    lo = special.gammainc(shape, rate * low)
    hi = special.gammainc(shape, rate * high) if np.all(np.isfinite(high)) else np.ones_like(lo)
    u = lo + rng.random(np.shape(lo)) * np.maximum(hi - lo, 0)
    u = np.clip(u, 1e-300, 1 - 1e-16)
    draw = special.gammaincinv(shape, u) / rate
    return np.clip(draw, low, high)


def _truncated_normal(rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray, low: float, high: float) -> np.ndarray:
    lo, hi = special.ndtr((low - mean) / sd), special.ndtr((high - mean) / sd)
    u = np.clip(lo + rng.random(np.shape(mean)) * (hi - lo), 1e-16, 1 - 1e-16)
    return np.clip(mean + sd * special.ndtri(u), low, high)


def _griddy(rng: np.random.Generator, grid: np.ndarray, log_density: np.ndarray) -> np.ndarray:
    """One draw per row of `log_density` (rows × grid points) from the grid's discretized density,
    jittered uniformly within its cell."""
    weights = np.exp(log_density - log_density.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(weights))[:, None] * cumulative[:, -1:]
    index = np.minimum((cumulative < u).sum(axis=1), len(grid) - 1)
    step = grid[1] - grid[0]
    return grid[index] + (rng.random(len(weights)) - 0.5) * step


def _prepare(differences: Sequence[np.ndarray], rope: float) -> tuple[list[np.ndarray], float, float]:
    """baycomp's rescaling: every difference and the ROPE over the mean (over data sets) of the
    per-data-set standard deviations (ddof 0); a data set whose differences do not vary gets,
    as in baycomp, values spread evenly within the ROPE instead (seeded), so it has a variance."""
    rows = [np.asarray(d, dtype=float).copy() for d in differences]
    scale = float(np.mean([np.std(d) for d in rows]))
    if not scale > 0:
        scale = 1.0
    rows = [d / scale for d in rows]
    rope = rope / scale
    rng = np.random.RandomState(0)
    for d in rows:
        if np.var(d) == 0:
            half = len(d) // 2
            d[:half] = rng.uniform(-rope, rope, half)
            d[half:2 * half] = -d[:half]
    return rows, rope, scale


@dataclass
class _Data:
    """What the conditionals need of the (rescaled) differences: per data set its number of
    splits `n`, mean `xbar`, within sum of squares over 1 − ρ `within`, Var(x̄)/σ² `c`, and the
    bounds of the uniform priors."""

    n: np.ndarray
    xbar: np.ndarray
    within: np.ndarray
    c: np.ndarray
    max_diff: float
    sigma_hi: float
    std0_hi: float

    @classmethod
    def of(cls, rows: list[np.ndarray], rho: np.ndarray) -> "_Data":
        n = np.array([len(d) for d in rows], dtype=float)
        xbar = np.array([d.mean() for d in rows])
        std_within = float(np.mean([np.std(d) for d in rows]))
        return cls(n=n, xbar=xbar, within=np.array([((d - d.mean()) ** 2).sum() for d in rows]) / (1 - rho),
                   c=(1 + (n - 1) * rho) / n, max_diff=float(max(np.abs(d).max() for d in rows)),
                   sigma_hi=std_within * UPPER_SIGMA, std0_hi=float(np.std(xbar)) * UPPER_SIGMA)


@dataclass
class _State:
    """One value of every parameter per chain (δ and λ: chains × data sets)."""

    delta: np.ndarray
    delta0: np.ndarray
    std0: np.ndarray
    nu_m1: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray

    @classmethod
    def start(cls, data: _Data, chains: int) -> "_State":
        return cls(delta=np.broadcast_to(data.xbar, (chains, len(data.xbar))).copy(),
                   delta0=np.full(chains, data.xbar.mean()), std0=np.full(chains, max(float(np.std(data.xbar)), 1e-3)),
                   nu_m1=np.full(chains, 10.0), alpha=np.full(chains, 1.5), beta=np.full(chains, 0.05))


def _sweep(s: _State, data: _Data, rng: np.random.Generator) -> None:
    """One Gibbs sweep: every parameter drawn from its conditional given the others."""
    chains, q = s.delta.shape
    nu = s.nu_m1 + 1
    # λ_i | δ_i: the scale mixture's weights
    z2 = (s.delta - s.delta0[:, None]) ** 2 / s.std0[:, None] ** 2
    lam = rng.gamma((nu[:, None] + 1) / 2, 2 / (nu[:, None] + z2))
    # σ_i² | δ_i (σ_i uniform: 1/σ² is Gamma((n − 1)/2, Q/2) above 1/σ_hi²)
    quad = data.within + (data.xbar - s.delta) ** 2 / data.c
    sigma2 = 1 / _truncated_gamma(rng, np.broadcast_to((data.n - 1) / 2, s.delta.shape), quad / 2, 1 / data.sigma_hi ** 2)
    # δ_i | everything: a normal prior N(δ₀, σ₀²/λ_i) times the likelihood N(x̄_i, σ_i² c_i)
    prior_precision = lam / s.std0[:, None] ** 2
    data_precision = 1 / (sigma2 * data.c)
    precision = prior_precision + data_precision
    mean = (prior_precision * s.delta0[:, None] + data_precision * data.xbar) / precision
    s.delta = mean + rng.standard_normal(s.delta.shape) / np.sqrt(precision)
    # δ₀ | δ, λ, σ₀: normal, truncated to its uniform prior's range
    weight = lam.sum(axis=1)
    s.delta0 = _truncated_normal(rng, (lam * s.delta).sum(axis=1) / weight, s.std0 / np.sqrt(weight),
                                 -data.max_diff, data.max_diff)
    # σ₀ | δ, λ, δ₀ (σ₀ uniform): 1/σ₀² is Gamma((q − 1)/2, Σλ(δ − δ₀)²/2) above 1/σ₀_hi²
    spread = (lam * (s.delta - s.delta0[:, None]) ** 2).sum(axis=1)
    s.std0 = 1 / np.sqrt(_truncated_gamma(rng, np.full(chains, (q - 1) / 2), spread / 2, 1 / data.std0_hi ** 2))
    # ν − 1 | λ, α, β on a log grid: Gamma(α, β) prior × Π Gamma(λ_i; ν/2, ν/2), and the grid's Jacobian
    m = np.exp(_LOG_NU_GRID)[None, :]
    half = (m + 1) / 2
    log_post = ((s.alpha[:, None] - 1) * np.log(m) - s.beta[:, None] * m + np.log(m)
                + q * (half * np.log(half) - special.gammaln(half))
                + (half - 1) * np.log(lam).sum(axis=1)[:, None] - half * lam.sum(axis=1)[:, None])
    s.nu_m1 = np.exp(_griddy(rng, _LOG_NU_GRID, log_post))
    # β | α, ν − 1: Gamma(α + 1, ν − 1) on [0.01, 0.1]; α | β, ν − 1 on a grid over [1, 2]
    s.beta = _truncated_gamma(rng, s.alpha + 1, s.nu_m1, LOWER_BETA, UPPER_BETA)
    a = _ALPHA_GRID[None, :]
    log_alpha = a * np.log(s.beta[:, None]) + (a - 1) * np.log(s.nu_m1[:, None]) - special.gammaln(a)
    s.alpha = np.clip(_griddy(rng, _ALPHA_GRID, log_alpha), LOWER_ALPHA, UPPER_ALPHA)


def hierarchical_test(differences: Sequence[np.ndarray], rope: float, rho: Sequence[float] | float, *,
                      chains: int = CHAINS, draws: int = DRAWS, burn_in: int = BURN_IN, seed: int = 0
                      ) -> HierarchicalResult:
    """The hierarchical model's posterior for per-split differences (`differences`: one array
    per data set, + = the variant better, at least two splits each and two data sets), their
    region of practical equivalence `rope` (same units) and each data set's split correlation
    `rho` (n_test / n_all; one value for all). Seeded: the same input gives the same result."""
    rows, rope_s, scale = _prepare(differences, rope)
    if len(rows) < 2 or any(len(d) < 2 for d in rows):
        raise ValueError("the hierarchical model needs two data sets of two or more splits each")
    data = _Data.of(rows, np.broadcast_to(np.asarray(rho, dtype=float), (len(rows),)))
    rng = np.random.default_rng(seed)
    state = _State.start(data, chains)
    kept: dict[str, list[np.ndarray]] = {"delta0": [], "std0": [], "nu": [], "delta": []}
    for step in range(burn_in + draws):
        _sweep(state, data, rng)
        if step >= burn_in:
            for name, value in (("delta0", state.delta0), ("std0", state.std0), ("nu", state.nu_m1 + 1),
                                ("delta", state.delta)):
                kept[name].append(value)
    delta0_s, std0_s, nu_s = (np.concatenate(kept[k]) for k in ("delta0", "std0", "nu"))
    delta_s = np.concatenate(kept["delta"], axis=0)
    # per draw, a new data set's δ ~ t(ν, δ₀, σ₀): its mass below −ROPE, within, above +ROPE
    right = sps.t.sf(rope_s, nu_s, delta0_s, std0_s)
    left = sps.t.cdf(-rope_s, nu_s, delta0_s, std0_s)
    masses = np.column_stack([left, np.maximum(0.0, 1 - left - right), right])
    # baycomp's probabilities: the share of draws in which each region holds the most mass
    shares = np.bincount(masses.argmax(axis=1), minlength=3) / len(masses)
    low, high = np.percentile(delta0_s, [2.5, 97.5])
    return HierarchicalResult(
        p_worse=float(shares[0]), p_equivalent=float(shares[1]), p_better=float(shares[2]),
        mass=tuple(float(m) for m in masses.mean(axis=0)),
        mean=float(delta0_s.mean()) * scale, mean_low=float(low) * scale, mean_high=float(high) * scale,
        shrunk=delta_s.mean(axis=0) * scale, shrunk_low=np.percentile(delta_s, 2.5, axis=0) * scale,
        shrunk_high=np.percentile(delta_s, 97.5, axis=0) * scale, scale=scale)
