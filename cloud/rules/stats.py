"""Least squares small enough to need no numpy: normal equations, Gauss-Jordan elimination."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["LinearFit", "least_squares", "pooled_slope"]


class LinearFit:
    def __init__(self, coef: list[float], se: list[float], residual_sd: float, n: int) -> None:
        self.coef, self.se, self.residual_sd, self.n = coef, se, residual_sd, n


def _invert(m: list[list[float]]) -> list[list[float]] | None:
    n = len(m)
    a = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(m)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        p = a[col][col]
        a[col] = [v / p for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0.0:
                f = a[r][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


def least_squares(xs: Sequence[Sequence[float]], ys: Sequence[float]) -> LinearFit | None:
    """Fit ys = xs · coef (no intercept: centre the data first). None if singular."""
    n, k = len(ys), len(xs[0]) if xs else 0
    if k == 0 or n <= k:
        return None
    xtx = [[sum(x[i] * x[j] for x in xs) for j in range(k)] for i in range(k)]
    xty = [sum(x[i] * y for x, y in zip(xs, ys, strict=True)) for i in range(k)]
    inv = _invert(xtx)
    if inv is None:
        return None
    coef = [sum(inv[i][j] * xty[j] for j in range(k)) for i in range(k)]
    rss = sum(
        (y - sum(c * v for c, v in zip(coef, x, strict=True))) ** 2
        for x, y in zip(xs, ys, strict=True)
    )
    s2 = rss / (n - k)
    se = [math.sqrt(max(inv[i][i] * s2, 0.0)) for i in range(k)]
    return LinearFit(coef, se, math.sqrt(s2), n)


def pooled_slope(
    segments: Sequence[Sequence[tuple[float, float]]],
) -> tuple[float, float, int] | None:
    """One slope shared by every segment, each with its own level: (slope, its SE, points)."""
    sxx = sxy = 0.0
    n = 0
    centred: list[list[tuple[float, float]]] = []
    for seg in segments:
        tm = sum(t for t, _ in seg) / len(seg)
        vm = sum(v for _, v in seg) / len(seg)
        c = [(t - tm, v - vm) for t, v in seg]
        centred.append(c)
        sxx += sum(t * t for t, _ in c)
        sxy += sum(t * v for t, v in c)
        n += len(seg)
    dof = n - len(segments) - 1
    if sxx <= 0 or dof <= 0:
        return None
    slope = sxy / sxx
    rss = sum((v - slope * t) ** 2 for c in centred for t, v in c)
    return slope, math.sqrt(rss / dof / sxx), n
