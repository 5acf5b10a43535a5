"""Rule tests: a shared clean station (built once) and a fresh env per fraud scenario."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fuelwatch.core.records import TransactionRecord
from tests.rules.world import Simulated, import_department, import_waybills, simulate
from tests.support.env import StackEnv
from tests.support.services import Broker, Influx

LOCAL = ZoneInfo("Asia/Shanghai")


@dataclass
class CleanWorld:
    env: StackEnv
    sim: Simulated


def add_clean_department_data(env: StackEnv, sim: Simulated) -> None:
    """What an honest station's departments hold: its waybills, a passed inspection, valid
    verifications and intact seals."""
    import_waybills(env, sim.waybills)
    day = sim.start.date()
    import_department(
        env,
        "inspections",
        [
            {
                "inspection_no": f"XJ-{sim.station}-1",
                "station": sim.station,
                "result": "pass",
                "inspected_at": (sim.start - timedelta(days=30)).isoformat(),
            }
        ],
    )
    import_department(
        env,
        "metrology",
        [
            {
                "record_type": "verification",
                "record_no": f"JD-{sim.station}-{n}",
                "station": sim.station,
                "nozzle_no": n,
                "dispenser_no": (n + 1) // 2,
                "result": "pass",
                "performed_at": (sim.start - timedelta(days=60)).isoformat(),
                "valid_until": (day + timedelta(days=300)).isoformat(),
            }
            for n in (1, 2, 3, 4)
        ]
        + [
            {
                "record_type": "seal",
                "record_no": f"QF-{sim.station}-1",
                "station": sim.station,
                "dispenser_no": 1,
                "seal_no": "S-1",
                "seal_state": "intact",
                "performed_at": (sim.start - timedelta(days=60)).isoformat(),
            }
        ],
    )


@pytest.fixture(scope="session")
def clean_world(
    tmp_path_factory: pytest.TempPathFactory, broker: Broker, influx: Influx
) -> Iterator[CleanWorld]:
    env = StackEnv(tmp_path_factory.mktemp("rules-clean"), broker, influx)
    # 4 days: the statistical rules judge a tank only when its data covers their 3-day window
    sim = simulate(env, "CLEAN1", duration="4d")
    add_clean_department_data(env, sim)
    first = sim.start.astimezone(LOCAL).date()
    sold = sum(
        t.volume
        for t in sim.of(TransactionRecord)
        if datetime.fromtimestamp(t.ts / 1000, LOCAL).date() == first
    )
    import_department(
        env, "tax_declarations", [declaration(sim.station, first, first, sold, "SB-C")]
    )
    yield CleanWorld(env, sim)
    env.close()


def declaration(station: str, first: date, last: date, volume: float, no: str) -> dict[str, object]:
    return {
        "station": station,
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        "declared_volume_l": round(volume, 1),
        "declared_revenue": round(volume * 7.4, 2),
        "declaration_no": no,
    }
