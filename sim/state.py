"""What a simulated station looks like from the outside, at one instant of simulated time.

Protocol servers (TLS-350 over TCP/serial, Modbus TCP/RTU per firmware profile) read a
``StationView`` and encode it; they never change it. The station model advances the state on
its own simulated clock. Units: litres, millimetres, degrees Celsius, yuan; times are
milliseconds since the Unix epoch on the *simulated* clock (devices report their own clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "AlarmSnapshot",
    "DeliverySnapshot",
    "NozzleSnapshot",
    "StationSnapshot",
    "StationView",
    "TankSnapshot",
    "TransactionSnapshot",
]


@dataclass(frozen=True, slots=True)
class TankSnapshot:
    """What the tank gauge measures now (already including gauge noise and resolution)."""

    tank: int
    product: str  # product code as the station uses it: "92", "95", "98", "0" (0# diesel)
    product_code: str  # the one-character TLS-350 product code, e.g. "1"
    volume: float  # gross observed volume, L
    tc_volume: float  # volume corrected to 20 °C, L
    ullage: float  # L
    height: float  # product level, mm
    water: float  # water level, mm
    temperature: float  # °C
    water_volume: float  # L
    status_bits: int = 0  # TLS-350 4-hex-digit status field


@dataclass(frozen=True, slots=True)
class DeliverySnapshot:
    """A delivery the gauge detected (TLS-350 i202)."""

    tank: int
    product_code: str
    start: int  # ms
    end: int  # ms
    start_volume: float
    start_tc_volume: float
    start_water: float
    start_temperature: float
    end_volume: float
    end_tc_volume: float
    end_water: float
    end_temperature: float
    start_height: float
    end_height: float


@dataclass(frozen=True, slots=True)
class AlarmSnapshot:
    """An active gauge alarm (TLS-350 i205): category 2 = tank, type per the manual."""

    tank: int
    alarm_type: int  # 02 leak, 03 high water, 04 overfill, 05 low product, 06 sudden loss, ...
    since: int  # ms


@dataclass(frozen=True, slots=True)
class TransactionSnapshot:
    seq: int  # per-nozzle transaction counter, increments by one per completed sale
    order_id: str
    unit_price: float
    volume: float  # as the dispenser *registered* it (a tampered meter over-registers)
    amount: float
    paid: float
    start: int  # ms
    end: int  # ms
    totalizer_before: float
    totalizer_after: float


@dataclass(frozen=True, slots=True)
class NozzleSnapshot:
    dispenser: int  # dispenser (pump) number
    nozzle: int  # station-wide nozzle number
    product: str
    unit_price: float
    state: Literal["idle", "lifted", "fuelling"]
    current_volume: float  # on the display during fuelling, L
    volume_total: float  # electronic volume totalizer (泵码), L
    amount_total: float  # money totalizer, yuan
    last: TransactionSnapshot | None = None


@dataclass(frozen=True, slots=True)
class StationSnapshot:
    now: int
    tanks: list[TankSnapshot] = field(default_factory=list)
    deliveries: dict[int, list[DeliverySnapshot]] = field(
        default_factory=dict
    )  # by tank, newest last
    alarms: list[AlarmSnapshot] = field(default_factory=list)
    nozzles: list[NozzleSnapshot] = field(default_factory=list)
    # False while the station's devices are unreachable (a simulated gateway outage): a
    # protocol server should then not answer (drop or refuse the connection).
    reachable: bool = True


class StationView(Protocol):
    """Read access to a running simulated station."""

    def snapshot(self) -> StationSnapshot:
        """The state now (simulated time). Cheap; servers call it per request."""
        ...
