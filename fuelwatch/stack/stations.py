"""The demo's simulated stations: their scenario, the devices their gateway reads, and the
``fuelwatch sim run`` process that serves those devices' protocols on loopback ports."""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from fuelwatch.stack.process import ManagedProcess

PRODUCTS = {
    "92": {"kind": "gasoline", "tls_code": "1", "price": 7.52, "price_max": 7.90},
    "95": {"kind": "gasoline", "tls_code": "2", "price": 8.03, "price_max": 8.43},
    "98": {"kind": "gasoline", "tls_code": "3", "price": 8.91, "price_max": 9.36},
    "0": {"kind": "diesel", "tls_code": "4", "price": 7.21, "price_max": 7.58},
}
TANK_PRODUCTS = ("92", "92", "95", "95", "98", "0")  # 6 tanks
NOZZLE_TANKS = (1, 3, 2, 4, 1, 3, 2, 4, 5, 6, 6, 1)  # 12 nozzles on 6 dispensers


@dataclass(frozen=True, slots=True)
class StationPorts:
    tls350: int
    modbus: int  # dispenser collector for nozzles 1-6
    modbus2: int  # and for nozzles 7-12 (one collector holds at most 8)
    pos: int


def station_ports(index: int, base: int = 18100) -> StationPorts:
    port = base + 10 * index
    return StationPorts(port + 1, port + 2, port + 3, port + 4)


#: the demo's fraud: a tampered totalizer (泵码篡改) on station 1, nozzle 1, 90 s after start
FRAUD = {"kind": "totalizer_jump", "nozzle": 1, "litres": 500, "at": "45s"}
#: the rule engine starts when the stations have this much data: its first round judges them
RULES_AFTER_S = 240.0


def station_scenario(
    *, station: str, district: str, index: int, fraud: bool = False
) -> dict[str, Any]:
    """A 6-tank, 12-nozzle station starting now, running for 30 days in real time."""
    start = datetime.now(tz=UTC).replace(microsecond=0)
    return {
        **({"injections": [FRAUD]} if fraud else {}),
        "station": {"id": station.lower(), "name": f"演示加油站 {station}", "district": district},
        "seed": 100 + index,
        "start": start.isoformat(),
        "duration": "30d",
        "speed": 1,
        "products": PRODUCTS,
        "tanks": [
            {
                "tank": i + 1,
                "product": p,
                "diameter_mm": 2500,
                "length_mm": 5800,
                "head_depth_mm": 450,
                "initial_fill": 0.5 + 0.05 * i,
            }
            for i, p in enumerate(TANK_PRODUCTS)
        ],
        "dispensers": [
            {
                "dispenser": d + 1,
                "nozzles": [
                    {"nozzle": 2 * d + k + 1, "tank": NOZZLE_TANKS[2 * d + k]} for k in (0, 1)
                ],
            }
            for d in range(6)
        ],
        "customers": {
            "sales_per_day": 1500,
            "product_mix": {"92": 0.45, "95": 0.3, "98": 0.05, "0": 0.2},
        },
    }


def station_devices(ports: StationPorts) -> list[dict[str, Any]]:
    """What the station's gateway reads: the same protocols as real station equipment."""
    nozzle_products = {n + 1: TANK_PRODUCTS[t - 1] for n, t in enumerate(NOZZLE_TANKS)}
    return [
        {
            "type": "tls350",
            "id": "atg1",
            "poll_interval": 10.0,
            "transport": {"kind": "tcp", "host": "127.0.0.1", "port": ports.tls350},
            "products": {v["tls_code"]: k for k, v in PRODUCTS.items()},
        },
        *(
            {
                "type": "modbus",
                "id": f"disp{k + 1}",
                "poll_interval": 1.0,
                "profile": "taxcontrol_dispenser_collector.yaml",
                "nozzles": 6,
                "numbers": list(range(6 * k + 1, 6 * k + 7)),
                "products": {n: p for n, p in nozzle_products.items() if 6 * k < n <= 6 * k + 6},
                "transport": {"kind": "tcp", "host": "127.0.0.1", "port": port},
            }
            for k, port in enumerate((ports.modbus, ports.modbus2))
        ),
        {"type": "pos_push", "id": "pos", "host": "127.0.0.1", "port": ports.pos},
    ]


def simulator_process(
    cli: list[str],
    state: Path,
    logs: Path,
    station: str,
    district: str,
    index: int,
    run_tag: str,
    ports: StationPorts | None = None,
    *,
    fraud: bool = False,
) -> ManagedProcess:
    """``fuelwatch sim run`` for one station, serving the protocols its gateway reads."""
    folder = state / "sim" / station
    folder.mkdir(parents=True, exist_ok=True)
    scenario = folder / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            station_scenario(station=station, district=district, index=index, fraud=fraud),
            allow_unicode=True,
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    ports = ports or station_ports(index)
    ready = functools.partial(port_open, ports.modbus)
    return ManagedProcess(
        f"sim-{station}",
        [
            *cli,
            "sim",
            "run",
            str(scenario),
            "--out",
            str(folder / run_tag),
            "--speed",
            "1",
            "--serve",
            f"tls350:port={ports.tls350}",
            "--serve",
            f"modbus:port={ports.modbus},first=1,count=6",
            "--serve",
            f"modbus:port={ports.modbus2},first=7,count=6",
            "--serve",
            f"pos:url=http://127.0.0.1:{ports.pos}",
        ],
        log_file=logs / f"sim-{station}.log",
        ready=ready,
        env={"PYTHONUNBUFFERED": "1"},
    )


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # like the servers themselves: connections in TIME_WAIT from a last run don't count
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_open(port: int) -> bool:
    return not port_free(port)
