"""泵码 continuity: each nozzle's volume totalizer must only move by what it dispensed.

The running state (cloud/rules/state/station.py) follows every nozzle's totalizer through its
transactions (before/after) and snapshots in time order, however long the nozzle stood idle:
the next record's "before" must equal the last record's "after". A collector that reports the
totalizers with each sale is judged the same way: the next sale's start totalizer ≠ the last
sale's end is the evidence. A discontinuity across a known data gap (the gauge silent: the
gateway was offline, sales may have been lost) is not judged; a snapshot taken while fuel
flows is left out.
"""

from __future__ import annotations

from fuelwatch.cloud.rules.context import Comparison, Finding, Outcome, RawRecord, RuleContext
from fuelwatch.cloud.rules.state.station import Discontinuity

__all__ = ["totalizer_continuity"]


def _record(ref: tuple[str, int, int | None, str], value: float, which: str) -> RawRecord:
    fields: dict[str, object] = {which: value}
    if ref[3]:
        fields["order_id"] = ref[3]
    return RawRecord(ref[0], ref[1], ref[2], fields)


def totalizer_continuity(ctx: RuleContext) -> Outcome:
    out = Outcome()
    tolerance = ctx.number("tolerance_litres")
    start, end = ctx.start_ms, ctx.end_ms
    for state in ctx.stations():
        breaks: dict[int, list[Discontinuity]] = {}
        for b in state.breaks:
            if start < b.t <= end and abs(b.litres) > tolerance:
                breaks.setdefault(b.nozzle, []).append(b)
        for nozzle in sorted(state.totalizers):
            subject = f"nozzle:{nozzle}"
            found = breaks.get(nozzle)
            if not found:
                out.clear(state.station, subject)
                continue
            worst = max(found, key=lambda b: abs(b.litres))
            out.fire(
                Finding(
                    station=state.station,
                    subject=subject,
                    comparison=Comparison(
                        worst.found,
                        worst.expected,
                        tolerance,
                        "L",
                        "|measured − expected| > threshold",
                    ),
                    window=(ctx.start, ctx.end),
                    values={
                        "kind": worst.kind,
                        "change_litres": round(worst.litres, 3),
                        "discontinuities": [
                            {
                                "kind": b.kind,
                                "litres": round(b.litres, 3),
                                "from": _record(b.before, b.expected, "totalizer_after").as_dict(),
                                "to": _record(b.after, b.found, "totalizer_before").as_dict(),
                            }
                            for b in found
                        ],
                        "not_judged_across_gaps": state.unjudged_breaks,
                    },
                    records=[
                        r
                        for b in found
                        for r in (
                            _record(b.before, b.expected, "totalizer_after"),
                            _record(b.after, b.found, "totalizer_before"),
                        )
                    ],
                )
            )
    return out
