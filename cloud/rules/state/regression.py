"""Block least squares with standard errors that respect noise correlated over hours.

A tank's 20 °C volume between deliveries drifts for hours at a time (the delivered product
relaxes toward the ground's temperature, the gauge's multi-point probe lags it, the day warms
the fill pipes): its residuals are not independent samples, and the textbook standard error
(residual variance / Σx²) is then far too small — a clean meter estimated at +1 % with t ≥ 4.

So readings are never kept: each quiet reading adds its outer product ``z zᵀ`` (z = [1, x…, y])
to the cross-product matrix of its *block* (one stretch between deliveries × one hour). A fit
over any window sums the blocks it covers, removes each stretch's own level (within-stretch
centring), solves the normal equations, and estimates the variance of the coefficients with a
heteroscedasticity-and-autocorrelation-consistent sandwich (Newey–West, Bartlett weights over
the time between blocks of one stretch): the noise of the tank's own quiet periods, correlated
over ``bandwidth_h`` hours, decides how sure an estimate is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

__all__ = ["BlockFit", "fit_blocks", "normal_quantile", "t_quantile"]

Matrix = NDArray[np.float64]


def normal_quantile(p: float) -> float:
    return NormalDist().inv_cdf(p)


def t_quantile(p: float, dof: float) -> float:
    """Student-t quantile (Cornish–Fisher expansion about the normal; fine for dof ≥ 3)."""
    z = normal_quantile(p)
    if dof <= 0 or math.isinf(dof):
        return z
    v = max(dof, 3.0)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


@dataclass(frozen=True, slots=True)
class BlockFit:
    coef: Matrix  # p
    cov: Matrix  # p x p, HAC
    naive_se: Matrix  # p, the iid standard errors (for the evidence: how much HAC widened them)
    residual_sd: float
    n: int  # readings
    stretches: int
    blocks: int
    dof: float  # for t quantiles: min(readings, blocks) less the parameters

    def se(self, i: int) -> float:
        return math.sqrt(max(float(self.cov[i, i]), 0.0))


def fit_blocks(
    blocks: list[tuple[int, float, Matrix]],
    *,
    absorbed: int = 1,
    bandwidth_h: float = 6.0,
    min_readings: int = 10,
) -> BlockFit | None:
    """Fit ``y = a[stretch]·u + x·β`` over ``(stretch id, block start hour, C)`` blocks,
    ``C = Σ z zᵀ`` with ``z = [u₁…u_a, x₁…x_p, y]``: the first ``absorbed`` columns (``u₁ = 1``,
    the stretch's level, and e.g. its thermal settling) get their own coefficients in every
    stretch and are projected out stretch by stretch. None when the data cannot identify β."""
    if not blocks:
        return None
    cs = np.stack([c for _, _, c in blocks])  # G x q x q
    q = cs.shape[1]
    a = absorbed
    p = q - 1 - a
    stretch = np.array([s for s, _, _ in blocks])
    hours = np.array([h for _, h, _ in blocks], dtype=np.float64)
    n_b = cs[:, 0, 0]
    keep = n_b > 0
    cs, stretch, hours, n_b = cs[keep], stretch[keep], hours[keep], n_b[keep]
    n = round(float(n_b.sum()))
    ids, inverse = np.unique(stretch, return_inverse=True)
    if n < max(min_readings, p + len(ids) + 1):
        return None
    c_s = np.zeros((len(ids), q, q))
    np.add.at(c_s, inverse, cs)
    # per stretch, T maps z to the rest of z less its projection on the absorbed columns
    aa = c_s[:, :a, :a] + np.eye(a) * 1e-9
    gamma = np.linalg.solve(aa, c_s[:, :a, a:])  # S x a x (p+1)
    t_s = np.concatenate(
        [-np.swapaxes(gamma, 1, 2), np.broadcast_to(np.eye(p + 1), (len(ids), p + 1, p + 1))],
        axis=2,
    )  # S x (p+1) x q
    w_full = np.einsum("sij,sjk,slk->il", t_s, c_s, t_s)
    wxx, wxy = w_full[:p, :p], w_full[:p, p]
    scale = np.sqrt(np.clip(np.diag(wxx), 1e-300, None))
    wxx_scaled = wxx / np.outer(scale, scale)
    if np.linalg.cond(wxx_scaled) > 1e10:
        return None
    inv = np.linalg.inv(wxx_scaled) / np.outer(scale, scale)
    beta = inv @ wxy
    c = np.concatenate([-beta, [1.0]])
    rss = float(c @ w_full @ c)
    dof_iid = n - a * len(ids) - p
    if dof_iid <= 0:
        return None
    s2 = max(rss, 0.0) / dof_iid
    # per-block scores g_b = Σ x̃ ẽ of the projected variables (from the block sums alone)
    t_b = t_s[inverse]  # G x (p+1) x q
    second = np.einsum("gij,gjk,glk->gil", t_b, cs, t_b)
    g = second[:, :p, :] @ c  # G x p
    omega = g.T @ g
    order = np.lexsort((hours, stretch))
    g, hours, stretch = g[order], hours[order], stretch[order]
    span = max(bandwidth_h, 1e-9)
    for lag in range(1, len(g)):
        same = stretch[lag:] == stretch[:-lag]
        dt = hours[lag:] - hours[:-lag]
        w = np.where(same, np.clip(1 - dt / span, 0.0, 1.0), 0.0)
        if not w.any():
            break
        a, b = g[lag:] * w[:, None], g[:-lag]
        cross = a.T @ b
        omega += cross + cross.T
    groups = len(g)
    small = groups / (groups - p) if groups > p else float("inf")
    # the HAC variance is itself estimated from about 1.5 × span / bandwidth independent
    # pieces: quantiles come from a t distribution with that many degrees of freedom
    dof_hac = 1.5 * groups / max(bandwidth_h, 1.0)
    cov = inv @ omega @ inv * small
    # never claim more certainty than independent noise would give
    naive = inv * s2
    cov = np.where(np.eye(p, dtype=bool), np.maximum(np.diag(cov), np.diag(naive)), cov)
    return BlockFit(
        coef=beta,
        cov=cov,
        naive_se=np.sqrt(np.clip(np.diag(naive), 0.0, None)),
        residual_sd=math.sqrt(s2),
        n=n,
        stretches=len(ids),
        blocks=groups,
        dof=float(max(min(dof_iid, dof_hac), 3)),
    )
