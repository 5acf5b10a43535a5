"""Tank geometry and strapping tables (容积表): height of liquid <-> volume.

A buried retail tank is a horizontal cylinder. ``HorizontalCylinder`` is the exact geometry:
the cylindrical shell (length ``L``, radius ``R``) plus two semi-ellipsoidal heads of depth
``a`` each (``a = 0``: flat ends; ``a = R``: hemispherical heads). Filled to height ``h``:

- shell: ``L * (R² acos((R-h)/R) - (R-h) sqrt(2Rh - h²))`` (circular segment area x length);
- both heads together are one ellipsoid with semi-axes ``a, R, R``, i.e. a sphere scaled by
  ``a/R`` along the tank axis: ``(a/R) * π h² (3R - h) / 3``.

``StrappingTable`` is what a tank gauge is programmed with: volumes at fixed height steps,
linear interpolation in between (both directions). The physics uses the exact geometry; the
gauge uses its table, so the small interpolation error of a real gauge is there too.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["HorizontalCylinder", "StrappingTable"]

_MM3_PER_L = 1e6
_EDGE = 8  # fine-table intervals at the bottom and top where Newton is not trusted


@dataclass(frozen=True, slots=True)
class HorizontalCylinder:
    diameter_mm: float
    length_mm: float
    head_depth_mm: float = 0.0

    @property
    def radius(self) -> float:
        return self.diameter_mm / 2

    @property
    def capacity(self) -> float:
        """Full volume, L."""
        return self.volume(self.diameter_mm)

    def volume(self, height_mm: float) -> float:
        """Volume below ``height_mm`` (clamped to the tank), L."""
        r = self.diameter_mm / 2
        h = min(max(height_mm, 0.0), self.diameter_mm)
        segment = r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(max(2 * r * h - h * h, 0))
        heads = (self.head_depth_mm / r) * math.pi * h * h * (3 * r - h) / 3
        return (self.length_mm * segment + heads) / _MM3_PER_L

    def _slope(self, h: float) -> float:
        """dV/dh, L per mm."""
        r = self.diameter_mm / 2
        w2 = max(2 * r * h - h * h, 0.0)
        shell = 2 * self.length_mm * math.sqrt(w2)
        heads = (self.head_depth_mm / r) * math.pi * w2
        return (shell + heads) / _MM3_PER_L

    def height(self, volume_l: float) -> float:
        """Inverse of ``volume``, to 1e-5 mm.

        One Newton step from a fine table (1/2048 of the diameter) is enough away from the
        very bottom and top; there, where the slope vanishes, a bracketed search takes over.
        """
        table = _fine(self)
        if volume_l <= 0:
            return 0.0
        if volume_l >= table.capacity:
            return self.diameter_mm
        i = bisect_right(table.volumes, volume_l)
        lo, hi = table.heights[i - 1], table.heights[i]
        v0, v1 = table.volumes[i - 1], table.volumes[i]
        if _EDGE <= i <= len(table.volumes) - _EDGE:
            h = lo + (hi - lo) * (volume_l - v0) / (v1 - v0)  # within 0.01 mm
            return h - (self.volume(h) - volume_l) / self._slope(h)  # within 1e-5 mm
        return self._bracketed(volume_l, lo, hi)

    def _bracketed(self, volume_l: float, lo: float, hi: float) -> float:
        h = (lo + hi) / 2
        for _ in range(200):
            error = self.volume(h) - volume_l
            if abs(error) < 1e-6 or hi - lo < 1e-9:
                break
            if error > 0:
                hi = h
            else:
                lo = h
            slope = self._slope(h)
            step = h - error / slope if slope > 0 else lo
            h = step if lo < step < hi else (lo + hi) / 2
        return h


@dataclass(frozen=True, slots=True)
class StrappingTable:
    """Heights (mm, ascending) and volumes (L, ascending), interpolated linearly."""

    heights: tuple[float, ...]
    volumes: tuple[float, ...]

    @classmethod
    def from_geometry(cls, geometry: HorizontalCylinder, step_mm: float) -> StrappingTable:
        top = geometry.diameter_mm
        count = math.ceil(top / step_mm)
        heights = tuple(min(i * step_mm, top) for i in range(count + 1))
        return cls(heights, tuple(geometry.volume(h) for h in heights))

    def scaled(self, factor: float) -> StrappingTable:
        """The same heights with every volume times ``factor`` (a longer or shorter tank)."""
        return StrappingTable(self.heights, tuple(v * factor for v in self.volumes))

    @property
    def capacity(self) -> float:
        return self.volumes[-1]

    def volume(self, height_mm: float) -> float:
        return _lerp(self.heights, self.volumes, height_mm)

    def height(self, volume_l: float) -> float:
        return _lerp(self.volumes, self.heights, volume_l)


@lru_cache(maxsize=256)
def _fine(geometry: HorizontalCylinder) -> StrappingTable:
    return StrappingTable.from_geometry(geometry, geometry.diameter_mm / 2048)


def _lerp(xs: tuple[float, ...], ys: tuple[float, ...], x: float) -> float:
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
