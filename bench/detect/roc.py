"""The ROC trade-off of the wetstock rules: detection against false alarms as their threshold
moves, from the statistic every evaluation decided on (``Outcome.scores``, in units above the
rule's own threshold: 0 is the shipped setting).

For a threshold shift θ, a trial is detected when its subject's score reached θ within the
class horizon (other conditions of the rule — minimum sales, the leak floor — not applied), and
a false alarm is each rise of a subject's score to θ in clean time. The leak rule's Pfa is per
clean tank-month, as the EPA SIR protocol states it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bench.detect.score import EXPECTATIONS, StationPeriod, Trial

__all__ = ["ROC_RULES", "roc_table"]

#: rule -> (the class it is meant to detect, the smallest magnitude of the target)
ROC_RULES: dict[str, tuple[str, float]] = {
    "reconciliation.leak_rate": ("leak", 0.76),
    "dispenser.over_registration": ("over_registration", 0.5),
    "reconciliation.unexplained_drops": ("offbook_bypass", 1.0),
    "reconciliation.daily_variance": ("offbook_bypass", 1.0),
}
SHIFTS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)


def _by_subject(scores: list[list[Any]]) -> dict[tuple[str, str], list[tuple[int, float]]]:
    out: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for t, station, subject, value in scores:
        out[(station, subject)].append((int(t), float(value)))
    for series in out.values():
        series.sort()
    return out


def roc_table(
    scores: dict[str, list[list[Any]]],
    trials: Sequence[Trial],
    periods: Sequence[StationPeriod],
) -> str:
    clean = {p.station: p for p in periods}
    days = sum(p.clean_days for p in periods)
    lines = [
        "| rule | threshold shift (z units) | Pd of the target trials | false alarms per 100 clean station-days | leak Pfa per clean tank-month |",
        "|---|---|---|---|---|",
    ]
    for rule, (kind, minimum) in ROC_RULES.items():
        series = _by_subject(scores.get(rule, []))
        if not series:
            continue
        horizon = EXPECTATIONS[kind].horizon_ms
        targets = [t for t in trials if t.kind == kind and t.magnitude >= minimum and t.detectable]
        for shift in SHIFTS:
            hit = 0
            for t in targets:
                for (station, subject), values in series.items():
                    if station != t.station or (t.subjects and subject not in t.subjects):
                        continue
                    if any(
                        t.start_ms <= at <= t.start_ms + horizon and v >= shift for at, v in values
                    ):
                        hit += 1
                        break
            onsets, tanks, tanks_hit = 0, 0, 0
            for (station, subject), values in series.items():
                period = clean.get(station)
                if period is None:
                    continue
                inside = [
                    (at, v) for at, v in values if period.start_ms <= at < period.clean_until_ms
                ]
                above = False
                for _, v in inside:
                    if v >= shift and not above:
                        onsets += 1
                    above = v >= shift
                if period.clean_until_ms >= period.end_ms and subject.startswith("tank:"):
                    tanks += 1
                    tanks_hit += any(v >= shift for _, v in inside)
            pd = f"{hit}/{len(targets)} = {hit / len(targets):.0%}" if targets else "no trial"
            pfa = f"{tanks_hit}/{tanks}" if rule == "reconciliation.leak_rate" and tanks else "–"
            rate = 100 * onsets / days if days else float("nan")
            mark = " (shipped)" if shift == 0 else ""
            lines.append(f"| `{rule}` | {shift:+.0f}{mark} | {pd} | {rate:.2f} | {pfa} |")
    return "\n".join(lines)
