"""One station's simulated month into its gateway's spool, and what the registry must know.

``simulate_to_spool`` runs in a worker process: the simulator's offline feed
(``fuelwatch.sim.offline.gateway_records``) goes into the real gateway spool, exactly as the
gateway's adapters would put it there; the gateway process (``fuelwatch gateway run``) then
signs and publishes it. It returns what scoring and the department feeds need: labels,
e-waybills, the POS's daily sales (the tax declarations) and the litres each tank's nozzles
registered per hour.

The request bodies for the registry (tanks with strapping, dispensers, licences,
verifications, inspections, e-waybills, declarations) are built here too, as the API takes
them; ``bench/detection.py`` posts them through the management API.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fuelwatch.core.records import BaseRecord, PosSaleRecord, TransactionRecord
from fuelwatch.gateway.spool import Spool
from fuelwatch.sim.events import StationEvent, WaybillEvent
from fuelwatch.sim.offline import gateway_records
from fuelwatch.sim.scenario import parse_scenario
from fuelwatch.sim.station import Station

__all__ = [
    "department_rows",
    "dispenser_bodies",
    "simulate_to_spool",
    "static_rows",
    "tank_bodies",
]

LOCAL = ZoneInfo("Asia/Shanghai")
HOUR_MS = 3_600_000
BATCH = 2000


def _batches(
    feed: Iterator[tuple[str, BaseRecord]], size: int
) -> Iterator[dict[str, list[BaseRecord]]]:
    """Consecutive records grouped by device (per-device order kept), ``size`` at a time."""
    groups: dict[str, list[BaseRecord]] = defaultdict(list)
    n = 0
    for device, record in feed:
        groups[device].append(record)
        n += 1
        if n >= size:
            yield groups
            groups, n = defaultdict(list), 0
    if n:
        yield groups


async def _fill(
    station: Station, spool_path: Path, district: str, on_record: Any, on_events: Any
) -> Counter[str]:
    lost: Counter[str] = Counter()
    async with Spool(
        spool_path, district=district, station=station.scenario.station.id, synchronous="normal"
    ) as spool:
        feed = gateway_records(station, lost=lost, on_events=on_events)
        for groups in _batches(on_record(feed), BATCH):
            await asyncio.gather(*(spool.put(device, recs) for device, recs in groups.items()))
    return lost


def simulate_to_spool(scenario: dict[str, Any], spool_path: str) -> dict[str, Any]:
    """Run one station to its end into the spool at ``spool_path``; JSON-able results."""
    t0 = time.perf_counter()
    sc = parse_scenario(scenario)
    station = Station(sc)
    nozzle_tank = {n.number: n.tank for n in station.nozzles.values()}
    waybills: list[dict[str, Any]] = []
    pos_days: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    metered: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    kinds: Counter[str] = Counter()

    def on_events(events: list[StationEvent]) -> None:
        waybills.extend(e.waybill.to_json() for e in events if isinstance(e, WaybillEvent))

    def on_record(
        feed: Iterator[tuple[str, BaseRecord]],
    ) -> Iterator[tuple[str, BaseRecord]]:
        for device, record in feed:
            kinds[record.KIND] += 1
            if isinstance(record, TransactionRecord):
                tank = nozzle_tank[record.nozzle]
                metered[tank][record.ts // HOUR_MS] += record.volume
            elif isinstance(record, PosSaleRecord):
                day = datetime.fromtimestamp(record.ts / 1000, LOCAL).date().isoformat()
                pos_days[day][0] += record.volume
                pos_days[day][1] += record.amount
                pos_days[day][2] += 1
            yield device, record

    lost = asyncio.run(_fill(station, Path(spool_path), sc.station.district, on_record, on_events))
    return {
        "station": sc.station.id,
        "records": sum(kinds.values()),
        "kinds": dict(kinds),
        "lost": dict(lost),
        "labels": [label.to_json() for label in station.labels.labels()],
        "waybills": waybills,
        "pos_days": {d: [round(v, 2) for v in vals] for d, vals in sorted(pos_days.items())},
        "metered": {t: dict(hours) for t, hours in metered.items()},
        "start_ms": sc.start_ms,
        "end_ms": sc.end_ms,
        "wall_s": time.perf_counter() - t0,
    }


def tank_bodies(station: Station) -> dict[int, dict[str, Any]]:
    """PUT /stations/{id}/tanks/{n}: declared capacity and the strapping table on record.

    The table on record is the one the gauge is programmed with; a station that declares a
    smaller capacity than its gauge table reaches has (as in the real fraud) a certificate
    scaled to the declared capacity.
    """
    tanks: list[dict[str, Any]] = station.registry()["tanks"]  # type: ignore[assignment]
    declared = {t["tank"]: t for t in tanks}
    out = {}
    for number, gauge in station.gauges.items():
        capacity = float(declared[number]["capacity"])
        heights, volumes = gauge.table.heights, gauge.table.volumes
        scale = min(1.0, capacity / volumes[-1]) if volumes[-1] > capacity * 1.05 else 1.0
        rows, last_v = [], -1.0
        for h, raw in zip(heights, volumes, strict=True):
            v = round(raw * scale, 2)
            if v > last_v:
                rows.append([round(h, 1), v])
                last_v = v
        out[number] = {
            "product": gauge.product_code,
            "capacity_l": capacity,
            "strapping": rows,
        }
    return out


def dispenser_bodies(station: Station) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for n in station.nozzles.values():
        body = out.setdefault(
            n.dispenser,
            {
                "model": "Tatsuno SUNNY",
                "serial_no": f"SN-{station.scenario.station.id}-{n.dispenser}",
                "tax_control_no": f"TC-{station.scenario.station.id}-{n.dispenser}",
                "nozzles": [],
            },
        )
        body["nozzles"].append({"nozzle_no": n.number, "product": n.product, "tank_no": n.tank})
    return out


def static_rows(station: str, start: datetime, nozzles: dict[int, int]) -> dict[str, list[Any]]:
    """What the departments know before the run: valid licences, nozzles verified a month
    earlier (valid six months), a passed inspection three weeks earlier."""
    local = start.astimezone(LOCAL)
    year_ago, far = local.date() - timedelta(days=365), local.date() + timedelta(days=700)
    verified = local - timedelta(days=30)
    return {
        "licences": [
            {
                "station": station,
                "kind": kind,
                "licence_no": f"{kind[:3].upper()}-{station}",
                "holder": f"检测基准站 {station}",
                "valid_from": year_ago.isoformat(),
                "valid_until": far.isoformat(),
            }
            for kind in ("hazardous_chemicals", "fuel_retail", "business")
        ],
        "metrology": [
            {
                "station": station,
                "record_type": "verification",
                "record_no": f"JD-{station}-{nozzle}",
                "dispenser_no": dispenser,
                "nozzle_no": nozzle,
                "performed_at": verified.isoformat(),
                "valid_until": (verified.date() + timedelta(days=180)).isoformat(),
                "result": "pass",
                "error_percent": 0.1,
            }
            for nozzle, dispenser in sorted(nozzles.items())
        ],
        "inspections": [
            {
                "station": station,
                "inspection_no": f"XJ-{station}-1",
                "inspected_at": (local - timedelta(days=21)).isoformat(),
                "inspector_name": "李四",
                "result": "pass",
            }
        ],
    }


def department_rows(result: dict[str, Any]) -> dict[str, list[Any]]:
    """After the run: the e-waybills the depot issued (none for an unregistered delivery;
    the waybill volume for a mismatched one) and a tax declaration per whole local day of
    what the station's POS recorded (so a POS that omits sales under-declares)."""
    station = result["station"]
    first = datetime.fromtimestamp(result["start_ms"] / 1000, LOCAL).date()
    last = datetime.fromtimestamp(result["end_ms"] / 1000, LOCAL).date()
    declarations = [
        {
            "station": station,
            "period_start": day,
            "period_end": day,
            "declared_volume_l": round(volume, 1),
            "declared_revenue": round(amount, 2),
            "declaration_no": f"SB-{station}-{day.replace('-', '')}",
        }
        for day, (volume, amount, _n) in result["pos_days"].items()
        if first <= date.fromisoformat(day) < last
    ]
    waybills = [
        {
            "waybill_no": w["waybill_id"],
            "station": station,
            "vehicle_plate": w["vehicle"],
            "carrier": w["supplier"],
            "origin": "大港油库",
            "product": w["product"],
            "volume_l": w["volume_20"],
            "departed_at": datetime.fromtimestamp(w["depart"] / 1000, UTC).isoformat(),
            "arrived_at": datetime.fromtimestamp(w["arrive"] / 1000, UTC).isoformat(),
        }
        for w in result["waybills"]
    ]
    return {"ewaybills": waybills, "tax_declarations": declarations}
