"""Charts as SVG made on the server: no script, no inline style, colours from console.css.

Each chart has a title and a description for screen readers; the numbers it draws are also
in a table on the same page. ``Line`` charts take times in ms since the epoch; ``bars`` take
labels. A band (an allowed range) is drawn behind the lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

from fuelwatch.cloud.console.render import LOCAL_ZONE

__all__ = ["Band", "Line", "bar_chart", "line_chart", "nice_ticks"]

W, H = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 14, 34
MAX_SERIES_CLASSES = 6


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    points: list[tuple[float, float]]  # (ms since epoch, value)
    dots: bool = False
    over: list[bool] = field(default_factory=list)  # per point: outside the band


@dataclass(frozen=True, slots=True)
class Band:
    name: str
    points: list[tuple[float, float, float]]  # (ms, low, high)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0]
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    value = start
    while value <= hi + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float) -> str:
    if abs(value) >= 10_000_000:
        return f"{value / 1_000_000:,.1f}M"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _frame(title: str, desc: str, ident: str, body: list[str], h: int = H) -> Markup:
    head = (
        f'<svg viewBox="0 0 {W} {h}" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text part is escaped


def _y_axis(lo: float, hi: float, h: int) -> tuple[list[str], float, float]:
    ticks = nice_ticks(lo, hi)
    y0, y1 = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1
    parts = []
    for tick in ticks:
        y = _y(tick, y0, y1, h)
        parts.append(
            f'<line class="grid-line" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>'
        )
    return parts, y0, y1


def _y(value: float, y0: float, y1: float, h: int) -> float:
    return TOP + (h - TOP - BOTTOM) * (1 - (value - y0) / (y1 - y0))


def _time_label(ms: float, span_ms: float) -> str:
    t = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(LOCAL_ZONE)
    return t.strftime("%m-%d %H:%M" if span_ms <= 5 * 86_400_000 else "%m-%d")


def line_chart(
    lines: Sequence[Line],
    *,
    title: str,
    desc: str,
    ident: str,
    band: Band | None = None,
    zero: bool = False,
    height: int = H,
) -> Markup:
    """Lines over time; ``band`` shaded behind them; ``zero`` draws the y = 0 line."""
    times = [t for line in lines for t, _ in line.points]
    values = [v for line in lines for _, v in line.points]
    if band is not None:
        times += [p[0] for p in band.points]
        values += [v for p in band.points for v in (p[1], p[2])]
    if zero:
        values.append(0.0)
    if not times:
        return _frame(title, desc, ident, [], height)
    t0, t1 = min(times), max(times)
    if t1 <= t0:
        t0, t1 = t0 - 3_600_000, t1 + 3_600_000
    grid, y0, y1 = _y_axis(min(values), max(values), height)

    def x(t: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * (t - t0) / (t1 - t0)

    body = list(grid)
    for i in range(6):
        t = t0 + (t1 - t0) * i / 5
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"
        body.append(
            f'<text class="x{" odd" if i % 2 else ""}" x="{x(t):.1f}" y="{height - 12}" '
            f'text-anchor="{anchor}">{_time_label(t, t1 - t0)}</text>'
        )
    if band is not None and band.points:
        upper = " ".join(f"{x(t):.1f},{_y(hi, y0, y1, height):.1f}" for t, _, hi in band.points)
        lower = " ".join(
            f"{x(t):.1f},{_y(lo, y0, y1, height):.1f}" for t, lo, _ in reversed(band.points)
        )
        body.append(f'<polygon class="band" points="{upper} {lower}"/>')
    if zero and y0 < 0 < y1:
        y = _y(0, y0, y1, height)
        body.append(f'<line class="zero" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
    for i, line in enumerate(lines):
        cls = f"s{i % MAX_SERIES_CLASSES}"
        pts = " ".join(f"{x(t):.1f},{_y(v, y0, y1, height):.1f}" for t, v in line.points)
        if len(line.points) > 1:
            body.append(f'<polyline class="line {cls}" points="{pts}"/>')
        if line.dots or len(line.points) == 1:
            for j, (t, v) in enumerate(line.points):
                over = j < len(line.over) and line.over[j]
                body.append(
                    f'<circle class="dot {"over" if over else cls}" cx="{x(t):.1f}" '
                    f'cy="{_y(v, y0, y1, height):.1f}" r="{5 if over else 3.5}"/>'
                )
    floor = height - BOTTOM
    body.append(
        f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{floor}"/>'
        f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{floor}" y2="{floor}"/>'
    )
    return _frame(title, desc, ident, body, height)


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    desc: str,
    ident: str,
    threshold: float | None = None,
) -> Markup:
    """Grouped bars: one group per label, one bar per series; ``threshold`` as a dashed line."""
    values = [v for _, vs in series for v in vs] + [0.0]
    if threshold is not None:
        values.append(threshold)
    if not labels:
        return _frame(title, desc, ident, [])
    grid, y0, y1 = _y_axis(min(values), max(values), H)
    body = list(grid)
    group = (W - LEFT - RIGHT) / len(labels)
    bar = group * 0.8 / max(len(series), 1)
    base = _y(max(y0, 0.0) if y0 > 0 else 0.0, y0, y1, H)
    every = max(1, math.ceil(len(labels) / 14))
    for gi, text in enumerate(labels):
        gx = LEFT + gi * group + group * 0.1
        for si, (_, vs) in enumerate(series):
            v = vs[gi]
            top = _y(v, y0, y1, H)
            y, h = (top, base - top) if top < base else (base, top - base)
            body.append(
                f'<rect class="s{si % MAX_SERIES_CLASSES}" x="{gx + si * bar:.1f}" y="{y:.1f}" '
                f'width="{max(bar - 1, 1):.1f}" height="{max(h, 0.5):.1f}"/>'
            )
        if gi % every == 0:
            odd = " odd" if (gi // every) % 2 else ""
            body.append(
                f'<text class="x{odd}" x="{gx + group * 0.4:.1f}" y="{H - 12}" '
                f'text-anchor="middle">{escape(text[:12])}</text>'
            )
    if threshold is not None:
        y = _y(threshold, y0, y1, H)
        body.append(
            f'<line class="threshold" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
    body.append(
        f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{H - BOTTOM}"/>'
        f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{base:.1f}" y2="{base:.1f}"/>'
    )
    return _frame(title, desc, ident, body)
