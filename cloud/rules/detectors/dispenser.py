"""加油机 over-registration: how much the tank really lost per litre each nozzle registered.

For each tank, the gauged 20 °C volume at every quiet reading (no nozzle of the tank
dispensing, no delivery in progress) is regressed on each nozzle's cumulative metered volume
since the window opened, with one level per delivery-free stretch::

    tc(t) = level[stretch] − Σ_n k_n · metered_n(t)

``k_n`` is the tank litres lost per registered litre; a nozzle registering x % more than it
delivers has ``k_n = 1 / (1 + x)``. Using levels (not reading-to-reading drops) keeps the gauge
noise at the ends of each stretch instead of summing it at every reading.
"""

from __future__ import annotations

from bisect import bisect_right

from cloud.rules.context import MAX_RECORDS, Comparison, Finding, Outcome, RawRecord, RuleContext
from cloud.rules.detectors.base import FactorAt, Reading, Txn, readings_by_tank, txns_by_nozzle
from cloud.rules.stats import least_squares

__all__ = ["over_registration"]


def _stretches(rows: list[Reading], busy: list[tuple[int, int]]) -> list[list[Reading]]:
    """Quiet readings (``busy``: merged, sorted) grouped by the deliveries between them."""
    out: list[list[Reading]] = []
    current: list[Reading] = []
    starts = [a for a, _ in busy]
    for r in rows:
        if r.status:
            if len(current) >= 3:
                out.append(current)
            current = []
            continue
        i = bisect_right(starts, r.t) - 1
        if i >= 0 and r.t <= busy[i][1]:
            continue
        current.append(r)
    if len(current) >= 3:
        out.append(current)
    return out


def over_registration(ctx: RuleContext) -> Outcome:
    out = Outcome()
    txns = txns_by_nozzle(ctx, "transactions")
    limit, min_t = ctx.number("over_registration_percent"), ctx.number("min_t")
    min_sales = ctx.number("min_sales_litres")
    for (station, tank), rows in readings_by_tank(ctx, "readings").items():
        fact = ctx.facts.stations.get(station)
        if fact is None:
            continue
        nozzles = [
            n
            for n in fact.nozzles_of(tank)
            if sum(t.volume for t in txns.get((station, n), [])) >= min_sales
        ]
        if not nozzles:
            continue
        mine: dict[int, list[Txn]] = {n: txns[(station, n)] for n in nozzles}
        every = [t for n in fact.nozzles_of(tank) for t in txns.get((station, n), [])]
        busy = sorted((t.start - 30_000, t.end + 30_000) for t in every)
        factor = FactorAt(rows)
        ends = {n: [t.t for t in ts] for n, ts in mine.items()}
        cums: dict[int, list[float]] = {}
        for n, ts in mine.items():
            acc, c = 0.0, []
            for t in ts:
                acc += t.volume * factor(t.t)
                c.append(acc)
            cums[n] = c

        xs: list[list[float]] = []
        ys: list[float] = []
        for stretch in _stretches(rows, _merge(busy)):
            block = [[-_cumulative(ends[n], cums[n], r.t) for n in nozzles] for r in stretch]
            means = [sum(col) / len(block) for col in zip(*block, strict=True)]
            y_mean = sum(r.tc for r in stretch) / len(stretch)
            xs += [[v - m for v, m in zip(row, means, strict=True)] for row in block]
            ys += [r.tc - y_mean for r in stretch]
        fit = least_squares(xs, ys) if xs else None
        if fit is None:
            continue
        for i, n in enumerate(nozzles):
            k, se = fit.coef[i], fit.se[i]
            subject = f"nozzle:{n}"
            if k <= 0:
                continue
            over = 100 * (1 / k - 1)
            over_se = 100 * se / (k * k)
            t_stat = over / over_se if over_se > 0 else 0.0
            if over <= limit or t_stat < min_t:
                out.clear(station, subject)
                continue
            sales = mine[n]
            out.fire(
                Finding(
                    station=station,
                    subject=subject,
                    comparison=Comparison(over, 0.0, limit, "%", "measured > threshold"),
                    window=(ctx.start, ctx.end),
                    values={
                        "tank": tank,
                        "tank_litres_per_registered_litre": round(k, 5),
                        "over_registration_percent": round(over, 3),
                        "standard_error_percent": round(over_se, 3),
                        "t_statistic": round(t_stat, 2),
                        "metered_litres": round(sum(t.volume for t in sales), 2),
                        "excess_litres_estimate": round(sum(t.volume for t in sales) * (1 - k), 2),
                        "readings_used": fit.n,
                        "gauge_residual_sd_l": round(fit.residual_sd, 2),
                        "records_total": len(sales),
                    },
                    records=[_record(t) for t in sales[:MAX_RECORDS]],
                )
            )
    return out


def _cumulative(ends: list[int], cums: list[float], t_ms: int) -> float:
    """Metered litres (at 20 °C) of the sales that ended by ``t_ms``."""
    i = bisect_right(ends, t_ms)
    return cums[i - 1] if i else 0.0


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _record(t: Txn) -> RawRecord:
    return RawRecord(
        "dispenser_transaction",
        t.t,
        t.rid,
        {"order_id": t.order_id, "nozzle": t.nozzle, "volume": t.volume, **t.extra},
    )
