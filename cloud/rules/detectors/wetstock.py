"""进销存 reconciliation, leaks, hidden sales and tank capacity (wetstock), on the running
state of each tank (cloud/rules/state/tank.py), in litres at 20 °C.

Every judgement states its estimate, the estimate's standard error (from the tank's own noise,
correlated over hours: the HAC sandwich of ``state/regression.py``, or the model of a
reading's error) and the false-alarm probability ``alpha`` the decision is made at.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fuelwatch.cloud.rules.context import Comparison, Finding, Outcome, RuleContext, iso
from fuelwatch.cloud.rules.state.regression import BlockFit, normal_quantile, t_quantile
from fuelwatch.cloud.rules.state.tank import HOUR_MS, TankModel

__all__ = [
    "THERMAL_FRACTION",
    "BookNumbers",
    "book_numbers",
    "book_variance",
    "capacity_check",
    "fit_of",
    "leak_rate",
    "strapping_ratio",
    "unexplained_drops",
]


#: a reading's thermal error as a fraction of the tank's volume (option ``thermal_fraction``)
THERMAL_FRACTION = 0.0004


def fit_of(
    ctx: RuleContext, station: str, model: TankModel, start: int, end: int
) -> BlockFit | None:
    key = ("fit", station, model.tank, start, end)
    if key not in ctx.cache:
        ctx.cache[key] = model.fit(start, end, bandwidth_h=ctx.option("bandwidth_hours", 6.0))
    fit: BlockFit | None = ctx.cache[key]
    return fit


def _z(ctx: RuleContext, two_sided: bool = False) -> float:
    alpha = ctx.number("alpha")
    return normal_quantile(1 - (alpha / 2 if two_sided else alpha))


@dataclass(frozen=True, slots=True)
class BookNumbers:
    """A tank's gauged − book over a window, with the gauge's standard error at a segment's
    end: what ``book_variance`` judges, also drawn by the console's reconciliation chart."""

    variance: dict[str, Any]  # TankModel.variance: opening, closing, sold, declared, ...
    end_sd: float  # one segment end's SE: gauge noise, thermal term, the fit's residual

    @property
    def sd(self) -> float:
        """The variance's SE: two ends per gap-free segment."""
        return math.sqrt(2 * self.variance["segments"]) * self.end_sd

    def band(self, meter_mpe: float, document_mpe: float) -> float:
        """What legal meters and documents allow (fractions of sales and deliveries)."""
        v = self.variance
        return float(meter_mpe * v["sold_l20"] + document_mpe * v["declared_l20"])


def book_numbers(
    model: TankModel,
    start: int,
    end: int,
    *,
    thermal: float,
    fit: Callable[[], BlockFit | None],
) -> BookNumbers | None:
    """The book/gauge comparison of ``(start, end]``; None when the tank has no gap-free
    segment with two quiet readings in it. ``fit`` gives the tank's regression over the 3
    days to ``end`` (its residual is part of a reading's error), if there is one; it is only
    asked for when there is a comparison to make."""
    v = model.variance(start, end)
    if v is None:
        return None
    found = fit()
    resid = found.residual_sd if found is not None else 0.0
    end_sd = math.sqrt(model.gauge_sd**2 + (thermal * model.volume) ** 2 + resid**2)
    return BookNumbers(v, end_sd)


def book_variance(ctx: RuleContext) -> Outcome:
    """Gauged − book (opening + declared deliveries − metered sales) over the window's
    gap-free segments; fires when it exceeds what legal meters and documents allow (their
    maximum permissible errors) by more than ``z(alpha)`` standard errors of the gauge at the
    segments' ends (the tank's own quiet-period noise and a thermal term)."""
    out = Outcome()
    end = ctx.end_ms
    start = end - int((ctx.end - ctx.start).total_seconds() * 1000)
    mpe = ctx.number("meter_mpe_percent") / 100
    doc = ctx.number("document_mpe_percent") / 100
    thermal = ctx.option("thermal_fraction", THERMAL_FRACTION)
    z = _z(ctx, two_sided=True)
    for state in ctx.stations():
        for tank, model in sorted(state.tanks.items()):
            numbers = book_numbers(
                model,
                start,
                end,
                thermal=thermal,
                fit=functools.partial(
                    fit_of, ctx, state.station, model, end - 3 * 24 * HOUR_MS, end
                ),
            )
            if numbers is None:
                continue
            v, sd = numbers.variance, numbers.sd
            band = numbers.band(mpe, doc)
            allowed = band + z * sd
            variance = v["variance_l20"]
            subject = f"tank:{tank}"
            out.score(state.station, subject, (abs(variance) - band) / sd - z if sd else 0.0)
            if abs(variance) <= allowed:
                out.clear(state.station, subject)
                continue
            opening, closing = v["opening"], v["closing"]
            book = opening[2] + v["declared_l20"] - v["sold_l20"]
            out.fire(
                Finding(
                    station=state.station,
                    subject=subject,
                    comparison=Comparison(
                        variance, 0.0, allowed, "L@20°C", "|measured| > band + z·SE"
                    ),
                    window=(ctx.start, ctx.end),
                    values={
                        "opening_l20": round(opening[2], 2),
                        "deliveries_l20": round(v["declared_l20"], 2),
                        "metered_sales_l20": round(v["sold_l20"], 2),
                        "book_l20": round(book, 2),
                        "gauged_l20": round(closing[2], 2),
                        "variance_l20": round(variance, 2),
                        "variance_percent_of_sales": round(100 * variance / v["sold_l20"], 3)
                        if v["sold_l20"]
                        else None,
                        "legal_band_l20": round(band, 2),
                        "standard_error_l20": round(sd, 2),
                        "alpha": ctx.number("alpha"),
                        "z": round(z, 3),
                        "gap_free_segments": v["segments"],
                        "gaps_in_window": sum(1 for a, b in state.gaps if a < end and b > start),
                        "opening_at": iso(opening[1]),
                        "closing_at": iso(closing[1]),
                        "opening_rid": opening[6],
                        "closing_rid": closing[6],
                    },
                )
            )
    return out


def leak_rate(ctx: RuleContext) -> Outcome:
    """SIR-style: the tank's steady loss (L/h at 20 °C) fitted over the window with every
    nozzle's meter factor, each stretch between deliveries with its own level; significant at
    ``alpha`` against the HAC standard error, and at least ``leak_litres_per_hour`` × the
    ``min_rate_fraction``. A tank whose minimum detectable leak (z(alpha) + z(0.95)) × SE is
    above ``leak_litres_per_hour`` is inconclusive (not judged), as in the EPA SIR protocol."""
    out = Outcome()
    end = ctx.end_ms
    start = end - int((ctx.end - ctx.start).total_seconds() * 1000)
    target = ctx.number("leak_litres_per_hour")
    floor = target * ctx.option("min_rate_fraction", 0.5)
    for state in ctx.stations():
        for tank, model in sorted(state.tanks.items()):
            if not model.covers(start, end):
                continue  # not the window's days of data yet: inconclusive
            fit = fit_of(ctx, state.station, model, start, end)
            if fit is None or fit.n < ctx.option("min_readings", 200):
                continue
            i = len(model.nozzles)
            loss, se = float(fit.coef[i]), fit.se(i)
            z = t_quantile(1 - ctx.number("alpha"), fit.dof)
            mdl = (z + normal_quantile(0.95)) * se
            subject = f"tank:{tank}"
            out.score(state.station, subject, loss / se - z if se else 0.0)
            significant = loss > z * se and loss >= floor
            if not significant and mdl > target:
                continue  # inconclusive: could not have seen the target leak
            if not significant:
                out.clear(state.station, subject)
                continue
            out.fire(
                Finding(
                    station=state.station,
                    subject=subject,
                    comparison=Comparison(loss, 0.0, max(z * se, floor), "L/h", "measured > z·SE"),
                    window=(ctx.start, ctx.end),
                    values={
                        "loss_l_per_h": round(loss, 3),
                        "standard_error_l_per_h": round(se, 3),
                        "naive_standard_error_l_per_h": round(float(fit.naive_se[i]), 3),
                        "t_statistic": round(loss / se, 2) if se else None,
                        "alpha": ctx.number("alpha"),
                        "z": round(z, 3),
                        "min_detectable_l_per_h": round(mdl, 3),
                        "readings_used": fit.n,
                        "stretches": fit.stretches,
                        "hour_blocks": fit.blocks,
                        "meter_factors": {
                            str(n): round(float(fit.coef[j]), 5)
                            for j, n in enumerate(model.nozzles)
                        },
                    },
                )
            )
    return out


def unexplained_drops(ctx: RuleContext) -> Outcome:
    """Dispensing with no transaction: falls of the 20 °C volume between consecutive quiet
    readings that the sales between them do not explain, each beyond ``drop_z`` standard
    deviations of such a change (gauge noise of the two readings, meter uncertainty of the
    litres sold between, thermal drift over the time between) and ``drop_min_litres``; fires
    on ``min_drops`` of them in the window, or one beyond ``single_drop_z``."""
    out = Outcome()
    end = ctx.end_ms
    start = end - int((ctx.end - ctx.start).total_seconds() * 1000)
    minimum = ctx.number("min_litres")
    for state in ctx.stations():
        for tank, model in sorted(state.tanks.items()):
            subject = f"tank:{tank}"
            if model.quiet == 0:
                continue
            drops = [d for d in model.drops if start < d.t1 <= end]
            total = sum(d.litres for d in drops)
            # one drop must stand out on its own (z ≥ single_drop_z), or several together:
            # a lone 4.5σ change can be the tail of a gauge's noise, two cannot (in a day)
            strongest = max((d.litres / d.sigma for d in drops), default=0.0)
            # the score: the strongest drop against the single-drop threshold
            out.score(state.station, subject, strongest - ctx.option("single_drop_z", 6.0))
            convincing = strongest >= ctx.option("single_drop_z", 6.0) or len(drops) >= int(
                ctx.option("min_drops", 2)
            )
            if total < minimum or not drops or not convincing:
                out.clear(state.station, subject)
                continue
            p = model.params
            out.fire(
                Finding(
                    station=state.station,
                    subject=subject,
                    comparison=Comparison(total, 0.0, minimum, "L@20°C", "measured ≥ threshold"),
                    window=(ctx.start, ctx.end),
                    values={
                        "drops": len(drops),
                        "hidden_litres_l20": round(total, 2),
                        "gauge_noise_sd_l": round(model.gauge_sd, 2),
                        "drop_z": p.drop_z,
                        "alpha_per_pair": round(1 - _phi(p.drop_z), 9),
                        "events": [
                            {
                                "from": iso(d.t0),
                                "to": iso(d.t1),
                                "litres": round(d.litres, 2),
                                "sd": round(d.sigma, 2),
                                "z": round(d.litres / d.sigma, 1),
                                "metered_between_l20": round(d.sold, 2),
                                "from_rid": d.rid0,
                                "to_rid": d.rid1,
                            }
                            for d in drops[:100]
                        ],
                    },
                )
            )
    return out


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def strapping_ratio(ctx: RuleContext) -> Outcome:
    """Tank litres per metered litre, all nozzles together, over the window: a gauge table
    scaled to a false capacity is off by the same factor for every litre. Fires when the
    factor is off by more than ``deviation_percent`` and, beyond the meters' legal band,
    significant at ``alpha`` against its HAC standard error."""
    out = Outcome()
    end = ctx.end_ms
    start = end - int((ctx.end - ctx.start).total_seconds() * 1000)
    limit, min_sales = ctx.number("deviation_percent") / 100, ctx.number("min_sales_litres")
    mpe = ctx.option("meter_mpe_percent", 0.3) / 100
    z = normal_quantile(1 - ctx.number("alpha") / 2)
    for state in ctx.stations():
        fact = ctx.facts.stations.get(state.station)
        for tank, model in sorted(state.tanks.items()):
            sold = [
                sum(v for t, n, v in model.sales20 if n == nozzle and start < t <= end)
                for nozzle in model.nozzles
            ]
            total = sum(sold)
            if total < min_sales or not model.covers(start, end):
                continue
            fit = fit_of(ctx, state.station, model, start, end)
            if fit is None:
                continue
            w = [s / total for s in sold]
            p = len(model.nozzles)
            ratio = sum(w[i] * float(fit.coef[i]) for i in range(p))
            se = math.sqrt(
                max(sum(w[i] * w[j] * float(fit.cov[i, j]) for i in range(p) for j in range(p)), 0)
            )
            deviation = ratio - 1
            subject = f"tank:{tank}"
            if abs(deviation) <= limit or abs(deviation) - mpe <= z * se:
                out.clear(state.station, subject)
                continue
            declared = fact.tanks[tank].capacity_l if fact and tank in fact.tanks else None
            out.fire(
                Finding(
                    station=state.station,
                    subject=subject,
                    comparison=Comparison(
                        ratio, 1.0, limit * 100, "L/L", "|measured − 1| × 100 > threshold %"
                    ),
                    window=(ctx.start, ctx.end),
                    values={
                        "gauge_litres_per_metered_litre": round(ratio, 5),
                        "standard_error": round(se, 5),
                        "deviation_percent": round(100 * deviation, 3),
                        "alpha": ctx.number("alpha"),
                        "metered_sales_l20": round(total, 2),
                        "declared_capacity_l": declared,
                        "implied_real_capacity_l": round(declared / ratio, 1)
                        if declared and ratio > 0
                        else None,
                    },
                )
            )
    return out


def capacity_check(ctx: RuleContext) -> Outcome:
    """The gauge's table capacity (volume + ullage + water), its highest reading and the
    registry's strapping table against the declared capacity. Reads its own aggregated query
    (every 6 h): the running state does not carry the levels' other fields."""
    out = Outcome()
    tolerance = ctx.number("tolerance_percent")
    for tags, row in ctx.rows("levels"):
        station, tank = tags["station"], int(tags["tank"])
        fact = ctx.facts.stations.get(station)
        if fact is None or tank not in fact.tanks:
            continue
        declared = fact.tanks[tank].capacity_l
        gauge_capacity = sum(float(row.get(k) or 0.0) for k in ("volume", "ullage", "water_volume"))
        max_volume = float(row.get("max_volume") or 0.0)
        strapping = fact.tanks[tank].strapping
        table_max = float(strapping[-1][1]) if strapping else None
        measured = max(gauge_capacity, max_volume, table_max or 0.0)
        allowed = declared * (1 + tolerance / 100)
        low = declared * (1 - tolerance / 100)
        too_small = table_max is not None and table_max < low
        subject = f"tank:{tank}"
        if measured <= allowed and not too_small:
            out.clear(station, subject)
            continue
        out.fire(
            Finding(
                station=station,
                subject=subject,
                comparison=Comparison(
                    measured,
                    declared,
                    tolerance,
                    "L",
                    "|measured/expected − 1| × 100 > threshold %",
                ),
                window=(ctx.start, ctx.end),
                values={
                    "declared_capacity_l": declared,
                    "gauge_table_capacity_l": round(gauge_capacity, 1),
                    "max_gauged_volume_l": round(max_volume, 1),
                    "max_gauged_height_mm": row.get("max_height"),
                    "registry_strapping_max_l": table_max,
                },
            )
        )
    return out
