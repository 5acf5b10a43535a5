"""The detection table and the per-target verdicts, as Markdown (printed and recorded)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bench.detect.score import (
    EXPECTATIONS,
    HOUR_MS,
    FalseAlarms,
    Outcome,
    Row,
    wilson_lower,
)
from fuelwatch.cloud.common.categories import LABELS, Category

__all__ = ["TARGETS", "Target", "Verdict", "category_table", "judge_targets", "kind_table"]


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    kinds: tuple[str, ...]
    min_magnitude: float
    pd: float


TARGETS = (
    Target(
        "over-registration >= 0.5 % within 3 days, Pd >= 95 %", ("over_registration",), 0.5, 0.95
    ),
    Target(
        "hidden sales >= 1 % of throughput within 1 day, Pd >= 95 %",
        ("offbook_bypass", "pos_omission"),
        1.0,
        0.95,
    ),
    Target("leak 0.76 L/h (0.2 gal/h) within 7 days, Pd >= 95 %", ("leak",), 0.76, 0.95),
    Target(
        "unregistered delivery >= 500 L within 1 hour, Pd >= 99 %",
        ("unregistered_delivery",),
        500,
        0.99,
    ),
    Target(
        "totalizer jump / rollback, Pd = 100 % (within 1 day)",
        ("totalizer_jump", "totalizer_rollback"),
        0,
        1.0,
    ),
)


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    n: int
    detected: int
    late: int
    masked: int
    passed: bool | None  # None: no trial
    note: str


def _fmt_h(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} d"


def _fmt_num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def judge_targets(outcomes: Sequence[Outcome]) -> list[Verdict]:
    out = []
    for t in TARGETS:
        mine = [
            o
            for o in outcomes
            if o.trial.kind in t.kinds
            and o.trial.detectable
            and o.trial.magnitude >= t.min_magnitude
        ]
        n, hit = len(mine), sum(o.detected for o in mine)
        late = sum(1 for o in mine if not o.detected and o.late_ms is not None)
        masked = sum(1 for o in mine if not o.detected and o.masked)
        lower = wilson_lower(hit, n)
        if n == 0:
            passed, note = None, "no trial in this run"
        else:
            passed = hit / n >= t.pd
            missed = n - hit
            note = f"{hit}/{n} = {hit / n:.0%} (95 % lower bound {lower:.0%})"
            if missed:
                note += f"; missed {missed}: {late} detected after the horizon, {masked} masked by an open warning, {missed - late - masked} never"
            if passed and lower < t.pd:
                note += f"; {n} trials cannot show Pd >= {t.pd:.0%} with 95 % confidence"
        out.append(Verdict(t.name, n, hit, late, masked, passed, note))
    return out


def kind_table(rows: Sequence[Row]) -> str:
    lines = [
        "| class | magnitude | trials | detected | Pd | Pd 95 % lower | time to detect median / 95th pct | late | masked | realised | detected by |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        realized = _fmt_num(sum(r.realized) / len(r.realized)) if r.realized else "–"
        by = ", ".join(f"{k} {v}" for k, v in r.by.most_common())
        horizon = _fmt_h(EXPECTATIONS[r.kind].horizon_ms / HOUR_MS)
        lines.append(
            f"| {r.kind} (≤ {horizon}) | {_fmt_num(r.magnitude)} {r.unit} | {r.n} | {r.detected} | "
            f"{r.pd:.0%} | {r.pd_lower:.0%} | {_fmt_h(r.ttd_median_h)} / {_fmt_h(r.ttd_p95_h)} | "
            f"{r.late} | {r.masked} | {realized} | {by or '–'} |"
        )
    return "\n".join(lines)


def category_table(outcomes: Sequence[Outcome], fa: FalseAlarms) -> str:
    n: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    ttd: dict[str, list[int]] = {}
    for o in outcomes:
        if not o.trial.detectable:
            continue
        cat = EXPECTATIONS[o.trial.kind].primary
        n[cat] += 1
        if o.detected and o.ttd_ms is not None:
            hit[cat] += 1
            ttd.setdefault(cat, []).append(o.ttd_ms)
    lines = [
        "| category | trials (all magnitudes) | Pd | median time to detect | false alarms | per 100 clean station-days |",
        "|---|---|---|---|---|---|",
    ]
    for cat in Category:
        if not n[cat.value] and not fa.by_category[cat.value]:
            continue
        zh, en = LABELS[cat]
        times = sorted(ttd.get(cat.value, []))
        median = times[len(times) // 2] / HOUR_MS if times else None
        pd = f"{hit[cat.value] / n[cat.value]:.0%}" if n[cat.value] else "–"
        rate = 100 * fa.by_category[cat.value] / fa.clean_days if fa.clean_days else float("nan")
        lines.append(
            f"| {zh} {en} (`{cat.value}`) | {n[cat.value]} | {pd} | {_fmt_h(median)} | "
            f"{fa.by_category[cat.value]} | {rate:.2f} |"
        )
    return "\n".join(lines)
