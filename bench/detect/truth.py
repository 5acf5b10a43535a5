"""Ground truth for scoring: the simulator's labels as trials, with what they really did.

``trials`` turns one station's labels (``labels.jsonl`` rows) into ``score.Trial``: the
subjects an alarm may name (the tank, nozzle and product involved), whether the period had
any effect at all (a cheat on a nozzle nobody used is not a trial), and the realised
magnitude where the labels let us measure it (hidden litres over the litres the tank's
nozzles registered in the same hours).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.detect.score import HOUR_MS, StationPeriod, Trial

__all__ = ["Layout", "MeteredHours", "station_period", "trials"]

#: tank -> hour index (ms // HOUR_MS) -> litres registered by the tank's nozzles
MeteredHours = Mapping[int, Mapping[int, float]]


class Layout:
    """Which nozzle draws from which tank, and each tank's product."""

    def __init__(self, nozzle_tank: Mapping[int, int], tank_product: Mapping[int, str]) -> None:
        self.nozzle_tank = dict(nozzle_tank)
        self.tank_product = dict(tank_product)

    def subjects(self, label: Mapping[str, Any]) -> frozenset[str]:
        out: set[str] = set()
        nozzle, tank, product = label.get("nozzle"), label.get("tank"), label.get("product")
        if nozzle is not None:
            out.add(f"nozzle:{nozzle}")
            tank = tank if tank is not None else self.nozzle_tank.get(int(nozzle))
        if tank is not None:
            out.add(f"tank:{tank}")
            product = product if product is not None else self.tank_product.get(int(tank))
        if product is not None and label["kind"] != "pos_omission":
            out.add(f"product:{product}")
        return frozenset(out)


def _metered(hours: MeteredHours, tanks: Sequence[int], start_ms: int, end_ms: int) -> float:
    first, last = start_ms // HOUR_MS, -(-end_ms // HOUR_MS)
    return sum(hours.get(t, {}).get(h, 0.0) for t in tanks for h in range(first, last))


def _number(effect: Mapping[str, Any], key: str) -> float:
    value = effect.get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0


def _detectable(label: Mapping[str, Any]) -> bool:
    kind, effect = label["kind"], label.get("effect") or {}
    if kind in ("over_registration", "pos_omission", "price_out_of_range"):
        return bool(label.get("order_ids"))
    if kind == "offbook_bypass":
        return _number(effect, "sales") > 0
    return True


def _realized(label: Mapping[str, Any], layout: Layout, hours: MeteredHours) -> float | None:
    kind, effect = label["kind"], label.get("effect") or {}
    if kind == "over_registration":
        honest = _number(effect, "litres") - _number(effect, "excess_litres")
        return 100 * _number(effect, "excess_litres") / honest if honest > 0 else None
    if kind == "offbook_bypass":
        sold = _metered(hours, [int(label["tank"])], label["start"], label["end"])
        return 100 * _number(effect, "litres") / sold if sold > 0 else None
    if kind == "pos_omission":
        sold = _metered(hours, list(layout.tank_product), label["start"], label["end"])
        return 100 * _number(effect, "litres") / sold if sold > 0 else None
    if kind == "unregistered_delivery":
        return _number(effect, "litres_20") or None
    return None


def trials(
    station: str,
    labels: Sequence[Mapping[str, Any]],
    layout: Layout,
    hours: MeteredHours,
    nominal: Mapping[int, tuple[float, str]] | None = None,
) -> list[Trial]:
    """``nominal``: injection index -> (magnitude, unit) to use in the table instead of the
    simulator's parameter (hidden sales are tabled as % of throughput, not sales a day)."""
    out = []
    for label in labels:
        magnitude, unit = (nominal or {}).get(
            int(label["injection"]), (float(label["magnitude"]), str(label["unit"]))
        )
        out.append(
            Trial(
                station=station,
                kind=str(label["kind"]),
                magnitude=float(magnitude),
                unit=unit,
                # hidden sales are a Poisson draw: a day may pass before the first one, which no
                # one can see; the clock starts when the first litre is hidden
                start_ms=int((label.get("effect") or {}).get("first_ms") or label["start"]),
                end_ms=int(label["end"]),
                subjects=layout.subjects(label),
                detectable=_detectable(label),
                realized=_realized(label, layout, hours),
            )
        )
    return out


def station_period(
    station: str,
    *,
    start_ms: int,
    end_ms: int,
    labels: Sequence[Mapping[str, Any]],
    tanks: Sequence[int],
) -> StationPeriod:
    first = min((int(lb["start"]) for lb in labels), default=end_ms)
    return StationPeriod(
        station=station,
        start_ms=start_ms,
        end_ms=end_ms,
        clean_until_ms=max(start_ms, min(first, end_ms)),
        tanks=tuple(tanks),
    )
