"""泵码 continuity: each nozzle's volume totalizer must only move by what it dispensed.

Transactions carry the totalizer before and after; periodic ``totalizer`` snapshots carry
the reading in between. In time order, each record's "before" must equal the previous
record's "after". A snapshot taken while fuel flows shows the totalizer counting up and is
left out; a discontinuity across a silence longer than ``max_silence_minutes`` (the feed was
down, transactions are missing) is not judged here: ``cloud_data`` rules see the gap.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from cloud.rules.context import Comparison, Finding, Outcome, RawRecord, RuleContext

__all__ = ["totalizer_continuity"]


@dataclass(frozen=True, slots=True)
class _Point:
    t: int
    before: float
    after: float
    measurement: str
    rid: int | None
    order_id: str
    start: int

    def record(self) -> RawRecord:
        fields: dict[str, object] = {"totalizer_before": self.before, "totalizer_after": self.after}
        if self.order_id:
            fields["order_id"] = self.order_id
        return RawRecord(self.measurement, self.t, self.rid, fields)


def _points(ctx: RuleContext) -> dict[tuple[str, int], list[_Point]]:
    out: dict[tuple[str, int], list[_Point]] = defaultdict(list)
    for tags, row in ctx.rows("transactions"):
        if row.get("totalizer_before") is None or row.get("totalizer_after") is None:
            continue
        t = int(row["time"])
        out[(tags["station"], int(tags["nozzle"]))].append(
            _Point(
                t,
                float(row["totalizer_before"]),
                float(row["totalizer_after"]),
                "dispenser_transaction",
                row.get("rid"),
                str(row.get("order_id") or ""),
                int(row.get("start") or t),
            )
        )
    flows: dict[tuple[str, int], list[tuple[int, int]]] = {
        k: sorted((p.start, p.t) for p in v) for k, v in out.items()
    }
    for tags, row in ctx.rows("snapshots"):
        if row.get("volume_total") is None:
            continue
        key, t = (tags["station"], int(tags["nozzle"])), int(row["time"])
        spans = flows.get(key, [])
        i = bisect_right(spans, (t, 1 << 62)) - 1
        if i >= 0 and spans[i][0] <= t <= spans[i][1]:
            continue  # counting up during a sale
        v = float(row["volume_total"])
        out[key].append(_Point(t, v, v, "totalizer", row.get("rid"), "", t))
    for points in out.values():
        points.sort(key=lambda p: (p.t, p.measurement != "dispenser_transaction"))
    return out


def totalizer_continuity(ctx: RuleContext) -> Outcome:
    out = Outcome()
    tolerance = ctx.number("tolerance_litres")
    silence_ms = int(ctx.number("max_silence_minutes") * 60_000)
    for (station, nozzle), points in _points(ctx).items():
        breaks = []
        for prev, cur in pairwise(points):
            gap = cur.before - prev.after
            if abs(gap) <= tolerance or cur.t - prev.t > silence_ms:
                continue
            kind = "reset" if cur.before < 0.01 * prev.after else "jump" if gap > 0 else "rollback"
            breaks.append((kind, gap, prev, cur))
        breaks += [
            ("rollback_in_sale", p.after - p.before, p, p)
            for p in points
            if p.measurement == "dispenser_transaction" and p.after < p.before - tolerance
        ]
        subject = f"nozzle:{nozzle}"
        if not breaks:
            out.clear(station, subject)
            continue
        kind, gap, prev, cur = max(breaks, key=lambda b: abs(b[1]))
        out.fire(
            Finding(
                station=station,
                subject=subject,
                comparison=Comparison(
                    cur.before, prev.after, tolerance, "L", "|measured − expected| > threshold"
                ),
                window=(ctx.start, ctx.end),
                values={
                    "kind": kind,
                    "change_litres": round(gap, 3),
                    "discontinuities": [
                        {
                            "kind": k,
                            "litres": round(g, 3),
                            "from": a.record().as_dict(),
                            "to": b.record().as_dict(),
                        }
                        for k, g, a, b in breaks
                    ],
                },
                records=[r for _, _, a, b in breaks for r in (a.record(), b.record())],
            )
        )
    return out
