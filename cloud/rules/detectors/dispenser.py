"""加油机 over-registration: each nozzle's meter factor, with its confidence interval.

For each tank the running model (cloud/rules/state/tank.py) fits, over the quiet readings of
the window, each stretch between deliveries with its own level::

    tc(t) = level[stretch] − Σ_n k_n · metered_n(t) − r · t

``k_n`` is the tank litres lost per litre nozzle n registered; a nozzle registering x % more
than it delivers has ``k_n = 1 / (1 + x)``. The standard errors are HAC (the tank's quiet-period
noise, correlated over hours), so the interval is honest about thermal drift.

A clean meter sits anywhere within the legal maximum permissible error (±0.30 %, JJG 443), so a
nozzle is judged against that band, not against zero:

- **above the legal limit**: the lower confidence bound of its over-registration exceeds
  ``legal_mpe_percent``;
- **changed**: against the same nozzle's own baseline (the ``baseline_days`` before the
  window), the over-registration rose by more than ``change_percent`` beyond its confidence
  bound — a K-factor changed behind an intact seal.

A bypass (hidden draws) makes the tank lose more per metered litre: it raises the factors
(under-registration) and the steady loss, so it is not blamed on the nozzles as over-
registration; its draws are reported as unexplained drops.
"""

from __future__ import annotations

import math

from fuelwatch.cloud.rules.context import (
    MAX_RECORDS,
    Comparison,
    Finding,
    Outcome,
    RawRecord,
    RuleContext,
)
from fuelwatch.cloud.rules.detectors.wetstock import fit_of
from fuelwatch.cloud.rules.state.points import Sale
from fuelwatch.cloud.rules.state.regression import t_quantile
from fuelwatch.cloud.rules.state.tank import HOUR_MS

__all__ = ["over_registration"]


def over_registration(ctx: RuleContext) -> Outcome:
    out = Outcome()
    end = ctx.end_ms
    span = int((ctx.end - ctx.start).total_seconds() * 1000)
    start = end - span
    mpe = ctx.number("legal_mpe_percent")
    change = ctx.number("change_percent")
    min_sales = ctx.number("min_sales_litres")
    alpha = ctx.number("alpha")
    base_from = start - int(ctx.option("baseline_days", 14) * 24 * HOUR_MS)
    for state in ctx.stations():
        for tank, model in sorted(state.tanks.items()):
            if not model.covers(start, end):
                continue  # not 3 days of data yet: inconclusive
            fit = fit_of(ctx, state.station, model, start, end)
            if fit is None:
                continue
            base = (
                fit_of(ctx, state.station, model, base_from, start)
                if model.covers(base_from, start)
                else None
            )
            z = t_quantile(1 - alpha, fit.dof)
            for i, nozzle in enumerate(model.nozzles):
                sold = sum(v for t, n, v in model.sales20 if n == nozzle and start < t <= end)
                subject = f"nozzle:{nozzle}"
                if sold < min_sales:
                    continue
                k, se = float(fit.coef[i]), fit.se(i)
                if k <= 0:
                    continue
                over, over_se = 100 * (1 / k - 1), 100 * se / (k * k)
                above = over - z * over_se > mpe
                delta = delta_se = None
                if base is not None and float(base.coef[i]) > 0:
                    kb, seb = float(base.coef[i]), base.se(i)
                    base_over, base_se = 100 * (1 / kb - 1), 100 * seb / (kb * kb)
                    delta = over - base_over
                    delta_se = math.sqrt(over_se**2 + base_se**2)
                score = (over - mpe) / over_se - z if over_se else 0.0
                if delta is not None and delta_se:
                    score = max(score, (delta - change) / delta_se - z)
                out.score(state.station, subject, score)
                changed = (
                    delta is not None
                    and delta_se is not None
                    and delta - z * delta_se > change
                    and over > 0
                )
                if not above and not changed:
                    out.clear(state.station, subject)
                    continue
                sales = [s for s in state.sales if s.nozzle == nozzle and start < s.t <= end]
                metered = sum(s.volume for s in sales)
                out.fire(
                    Finding(
                        station=state.station,
                        subject=subject,
                        comparison=Comparison(
                            over,
                            0.0,
                            mpe,
                            "%",
                            "lower bound > legal MPE"
                            if above
                            else "rise over own baseline: lower bound > change threshold",
                        ),
                        window=(ctx.start, ctx.end),
                        values={
                            "tank": tank,
                            "kind": "above_legal_limit" if above else "changed",
                            "tank_litres_per_registered_litre": round(k, 5),
                            "over_registration_percent": round(over, 3),
                            "standard_error_percent": round(over_se, 3),
                            "confidence_lower_percent": round(over - z * over_se, 3),
                            "baseline_over_registration_percent": round(over - delta, 3)
                            if delta is not None
                            else None,
                            "change_percent": round(delta, 3) if delta is not None else None,
                            "change_standard_error_percent": round(delta_se, 3)
                            if delta_se is not None
                            else None,
                            "alpha": alpha,
                            "z": round(z, 3),
                            "legal_mpe_percent": mpe,
                            "metered_litres": round(metered, 2),
                            "excess_litres_estimate": round(metered * (1 - k), 2),
                            "readings_used": fit.n,
                            "hour_blocks": fit.blocks,
                            "gauge_residual_sd_l": round(fit.residual_sd, 2),
                            "loss_l_per_h": round(float(fit.coef[len(model.nozzles)]), 3),
                            "records_total": len(sales),
                        },
                        records=[_record(s) for s in sales[:MAX_RECORDS]],
                    )
                )
    return out


def _record(s: Sale) -> RawRecord:
    return RawRecord(
        "dispenser_transaction",
        s.t,
        s.rid,
        {"order_id": s.order_id, "nozzle": s.nozzle, "volume": s.volume, "amount": s.amount},
    )
