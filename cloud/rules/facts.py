"""Registry facts the rules fuse with measurements: stations, tanks, nozzles, loaded once a run."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fuelwatch.cloud.store.models.registry import Dispenser, Station

__all__ = ["Facts", "NozzleFact", "StationFact", "TankFact", "load_facts"]


@dataclass(frozen=True, slots=True)
class TankFact:
    tank: int
    product: str
    capacity_l: float
    strapping: list[list[float]]


@dataclass(frozen=True, slots=True)
class NozzleFact:
    nozzle: int
    dispenser: int
    product: str
    tank: int | None


@dataclass(slots=True)
class StationFact:
    id: str
    district: str
    tanks: dict[int, TankFact] = field(default_factory=dict)
    nozzles: dict[int, NozzleFact] = field(default_factory=dict)

    def nozzles_of(self, tank: int) -> list[int]:
        return sorted(n.nozzle for n in self.nozzles.values() if n.tank == tank)


@dataclass(slots=True)
class Facts:
    stations: dict[str, StationFact] = field(default_factory=dict)

    def station_filter(self, stations: list[str] | None = None) -> str:
        """An InfluxQL condition that keeps the (given) registered stations' points."""
        chosen = sorted(self.stations if stations is None else stations)
        if not chosen:
            return "station = ''"
        alternatives = "|".join(_regex_escape(s) for s in chosen)
        return f"station =~ /^({alternatives})$/"


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if not c.isalnum() and c not in "_-" else c for c in text)


def load_facts(session: Session) -> Facts:
    stations = session.scalars(
        select(Station).options(
            selectinload(Station.tanks),
            selectinload(Station.dispensers).selectinload(Dispenser.nozzles),
        )
    )
    facts = Facts()
    for s in stations:
        fact = StationFact(id=s.id, district=s.district_id)
        for t in s.tanks:
            fact.tanks[t.tank_no] = TankFact(t.tank_no, t.product, t.capacity_l, list(t.strapping))
        for d in s.dispensers:
            for n in d.nozzles:
                fact.nozzles[n.nozzle_no] = NozzleFact(
                    n.nozzle_no, d.dispenser_no, n.product, n.tank_no
                )
        facts.stations[s.id] = fact
    return facts
