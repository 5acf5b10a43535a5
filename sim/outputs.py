"""The files a simulation run leaves in its output folder.

- ``station.json``: the station as registered (declared capacities, nozzles, price ranges);
- ``waybills.jsonl``: the e-waybills of registered deliveries (department data, written as
  they are issued);
- ``labels.jsonl``: ground truth of every injection (docs/simulator.md, "Labels");
- ``summary.json``: totals, per-tank ledger (true litres at 20 °C), timing;
- ``records.jsonl`` (offline runs, on request): the gateway feed, one record per line.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import IO, Any

from fuelwatch.sim.events import StationEvent, WaybillEvent
from fuelwatch.sim.labels import write_labels
from fuelwatch.sim.station import Station

__all__ = ["RunOutputs", "summarize"]

MONTH_S = 30 * 86_400


class RunOutputs:
    def __init__(self, out_dir: Path, station: Station) -> None:
        self.dir = out_dir
        self.station = station
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json(out_dir / "station.json", station.registry())
        self._waybills: IO[str] = (out_dir / "waybills.jsonl").open("w", encoding="utf-8")

    def on_events(self, events: list[StationEvent]) -> None:
        wrote = False
        for event in events:
            if isinstance(event, WaybillEvent):
                line = json.dumps(event.waybill.to_json(), ensure_ascii=False)
                self._waybills.write(line + "\n")
                wrote = True
        if wrote:
            self._waybills.flush()

    def finish(self, *, wall_seconds: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        self._waybills.close()
        write_labels(self.dir / "labels.jsonl", self.station.labels.labels())
        summary = summarize(self.station, wall_seconds=wall_seconds)
        summary.update(extra or {})
        _write_json(self.dir / "summary.json", summary)
        return summary


def summarize(station: Station, *, wall_seconds: float) -> dict[str, Any]:
    sc, stats = station.scenario, station.stats
    simulated_s = (station.now - sc.start_ms) / 1000
    kinds = Counter(label.kind for label in station.labels.labels())
    return {
        "station": sc.station.id,
        "seed": sc.seed,
        "start": sc.start_ms,
        "end": station.now,
        "simulated_days": round(simulated_s / 86_400, 4),
        "wall_seconds": round(wall_seconds, 3),
        "wall_seconds_per_station_month": (
            round(wall_seconds * MONTH_S / simulated_s, 3) if simulated_s else None
        ),
        "sales": stats["sales"],
        "sales_litres": round(station.totals["sales_litres"], 2),
        "sales_amount": round(station.totals["sales_amount"], 2),
        "true_litres": round(station.totals["true_litres"], 2),
        "pos_declared_sales": station.pos.declared_sales,
        "pos_omitted_sales": stats["pos_omitted"],
        "hidden_sales": stats["hidden_sales"],
        "customers_drove_on": stats["customers_drove_on"],
        "deliveries": stats["deliveries"],
        "waybills": len(station.waybills),
        "alarms_raised": stats["alarms_raised"],
        "labels": dict(sorted(kinds.items())),
        "tanks": [
            {
                "tank": number,
                "product": tank.product,
                "capacity": round(tank.geometry.capacity, 1),
                "gauge_capacity": round(station.gauges[number].capacity, 1),
                "v20": round(tank.v20, 3),
                "temperature": round(tank.temperature, 3),
                "ledger": {k: round(v, 3) for k, v in _fields(tank.ledger).items()},
            }
            for number, tank in station.tanks.items()
        ],
        "nozzles": [
            {
                "nozzle": n.number,
                "tank": n.tank,
                "product": n.product,
                "meter_error": round(n.meter_error, 6),
                "volume_total": n.volume_total_cl / 100,
                "amount_total": n.amount_total_fen / 100,
            }
            for n in station.nozzles.values()
        ],
    }


def _fields(obj: Any) -> dict[str, float]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
