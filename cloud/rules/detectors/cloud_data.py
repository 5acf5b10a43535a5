"""云化数据 on the schedule: gaps in a station's polled data, device clocks off the gateway's.

The immediate checks (signatures, Will, sequence gaps) run in ingest; these look back.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from fuelwatch.cloud.rules.context import Comparison, Finding, Outcome, RuleContext, iso

__all__ = ["clock_skew", "data_gap"]


def data_gap(ctx: RuleContext) -> Outcome:
    """The longest run of empty buckets of polled gauge readings. A station with nothing at
    all in the window is left to the gateway-offline check (it may not be installed yet)."""
    out = Outcome()
    limit = ctx.number("max_gap_minutes")
    buckets: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for tags, row in ctx.rows("counts"):
        buckets[tags["station"]].append((int(row["time"]), int(row.get("count") or 0)))
    for station, rows in buckets.items():
        rows.sort()
        if station not in ctx.facts.stations or not any(c for _, c in rows) or len(rows) < 2:
            continue
        step = rows[1][0] - rows[0][0]
        # before the first reading the station had not started (or its gap was seen earlier)
        while rows and rows[0][1] == 0:
            rows.pop(0)
        longest, run_start, best = 0, None, (0, 0)
        run = 0
        for t, c in rows:
            if c == 0:
                run_start = t if run == 0 else run_start
                run += 1
                if run > longest:
                    longest, best = run, (run_start or t, t + step)
            else:
                run = 0
        minutes = longest * step / 60_000
        if minutes <= limit:
            out.clear(station, "feed")
            continue
        out.fire(
            Finding(
                station=station,
                subject="feed",
                comparison=Comparison(minutes, 0, limit, "min", "measured > threshold"),
                window=(ctx.start, ctx.end),
                values={
                    "gap_from": iso(best[0]),
                    "gap_to": iso(min(best[1], ctx.end_ms)),
                    "bucket_minutes": step / 60_000,
                },
            )
        )
    return out


def clock_skew(ctx: RuleContext) -> Outcome:
    """Device time (the point's time) minus gateway time (``gts``) of polled readings."""
    out = Outcome()
    limit = ctx.number("max_skew_seconds")
    offsets: dict[tuple[str, str], list[float]] = defaultdict(list)
    for tags, row in ctx.rows("stamps"):
        if row.get("gts") is not None:
            offsets[(tags["station"], tags["device"])].append(
                (int(row["time"]) - int(row["gts"])) / 1000
            )
    for (station, device), values in offsets.items():
        if station not in ctx.facts.stations or len(values) < 3:
            continue
        skew = statistics.median(values)
        subject = f"device:{device}"
        if abs(skew) <= limit:
            out.clear(station, subject)
            continue
        out.fire(
            Finding(
                station=station,
                subject=subject,
                comparison=Comparison(skew, 0, limit, "s", "|measured| > threshold"),
                window=(ctx.start, ctx.end),
                values={
                    "median_offset_s": round(skew, 3),
                    "samples": len(values),
                    "min_offset_s": round(min(values), 3),
                    "max_offset_s": round(max(values), 3),
                },
            )
        )
    return out
