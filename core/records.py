"""The records a station produces, one model per record kind.

These models are the data contract between gateway adapters, the wire envelope and the cloud
store (see docs/data-model.md). Units are SI as used in Chinese retail: litres, millimetres,
degrees Celsius, yuan (CNY). Times are integer milliseconds since the Unix epoch, UTC.

Every record carries:
- ``ts``: the device's own time for the observation (the gauge's or dispenser's clock);
- ``gts``: when the gateway read it (the gateway's clock), so the cloud can see device clock
  skew;
- ``rid``: the gateway-wide record id the spool assigns; unique per gateway forever, it makes
  every record's stored point identity deterministic, so a record delivered twice is stored
  once.

``TAGS`` lists the attributes stored as InfluxDB tags (bounded sets used to group and filter:
tank, nozzle, product, alarm code); everything else is a field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "RECORD_TYPES",
    "AlarmRecord",
    "BaseRecord",
    "DeliveryRecord",
    "GatewayStatusRecord",
    "InventoryRecord",
    "NozzleEventRecord",
    "PosDeliveryRecord",
    "PosInventoryRecord",
    "PosSaleRecord",
    "RecordKind",
    "TotalizerRecord",
    "TransactionRecord",
]


class RecordKind(StrEnum):
    INVENTORY = "inventory"
    TRANSACTION = "transaction"
    NOZZLE = "nozzle"
    TOTALIZER = "totalizer"
    DELIVERY = "delivery"
    ALARM = "alarm"
    STATUS = "status"
    POS_SALE = "pos_sale"
    POS_DELIVERY = "pos_delivery"
    POS_INVENTORY = "pos_inventory"


ProductCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9#_+-]{1,16}$")]
Millis = Annotated[int, Field(ge=0, le=4_102_444_800_000)]  # up to year 2100
TankNo = Annotated[int, Field(ge=1, le=99)]
NozzleNo = Annotated[int, Field(ge=1, le=999)]
Litres = Annotated[float, Field(allow_inf_nan=False)]
Money = Annotated[float, Field(allow_inf_nan=False)]
ShortText = Annotated[str, StringConstraints(max_length=128)]
LongText = Annotated[str, StringConstraints(max_length=1024)]


class BaseRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    KIND: ClassVar[RecordKind]
    MEASUREMENT: ClassVar[str]
    TAGS: ClassVar[tuple[str, ...]] = ()

    rid: Annotated[int, Field(ge=0)] = 0
    ts: Millis
    gts: Millis | None = None


class InventoryRecord(BaseRecord):
    """One automatic-tank-gauge reading of one tank (TLS-350 ``i201``)."""

    KIND = RecordKind.INVENTORY
    MEASUREMENT = "tank_inventory"
    TAGS = ("tank", "product")

    tank: TankNo
    product: ProductCode
    volume: Litres
    tc_volume: Litres | None = None  # temperature-compensated to 20 °C (GB/T 1885)
    ullage: Litres | None = None
    height: float  # product level, mm
    water: float | None = None  # water level, mm
    temperature: float | None = None  # °C
    water_volume: Litres | None = None
    status: int | None = None  # canonical status bits (core/devices/status.py)
    #: the reference temperature (°C) of ``tc_volume`` when the console compensates to
    #: another than 20 °C (15 °C, 60 °F = 15.56 °C); None: litres at 20 °C
    tc_reference: float | None = None


class TransactionRecord(BaseRecord):
    """A completed dispenser sale as the dispenser (or its tax-control module) reports it.

    ``ts`` is the end of fuelling.
    """

    KIND = RecordKind.TRANSACTION
    MEASUREMENT = "dispenser_transaction"
    TAGS = ("nozzle", "product")

    nozzle: NozzleNo
    product: ProductCode
    order_id: ShortText
    unit_price: Money  # CNY per litre
    volume: Litres
    amount: Money
    paid: Money | None = None
    start: Millis
    end: Millis
    totalizer_before: Litres | None = None
    totalizer_after: Litres | None = None


class NozzleEventRecord(BaseRecord):
    """Nozzle lifted or hung up. On ``hang`` the dispenser may report the volume just drawn."""

    KIND = RecordKind.NOZZLE
    MEASUREMENT = "nozzle_event"
    TAGS = ("nozzle", "product")

    nozzle: NozzleNo
    product: ProductCode | None = None
    event: Literal["lift", "hang"]
    volume: Litres | None = None


class TotalizerRecord(BaseRecord):
    """Electronic totalizer (泵码) of one nozzle, read periodically."""

    KIND = RecordKind.TOTALIZER
    MEASUREMENT = "totalizer"
    TAGS = ("nozzle", "product")

    nozzle: NozzleNo
    product: ProductCode | None = None
    volume_total: Litres
    amount_total: Money | None = None


class DeliveryRecord(BaseRecord):
    """A delivery into a tank as the tank gauge detected it (TLS-350 ``i202``). ``ts`` = end."""

    KIND = RecordKind.DELIVERY
    MEASUREMENT = "tank_delivery"
    TAGS = ("tank", "product")

    tank: TankNo
    product: ProductCode
    start: Millis
    end: Millis
    start_volume: Litres
    end_volume: Litres
    start_tc_volume: Litres | None = None
    end_tc_volume: Litres | None = None
    start_water: float | None = None
    end_water: float | None = None
    start_temperature: float | None = None
    end_temperature: float | None = None
    start_height: float | None = None
    end_height: float | None = None


class AlarmRecord(BaseRecord):
    """A device alarm raised (``active``) or cleared, from the device or from the adapter."""

    KIND = RecordKind.ALARM
    MEASUREMENT = "device_alarm"
    TAGS = ("code",)

    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,48}$")]
    active: bool = True
    severity: Literal["info", "warning", "critical"] = "warning"
    message: LongText = ""
    tank: TankNo | None = None
    nozzle: NozzleNo | None = None


class GatewayStatusRecord(BaseRecord):
    """Gateway health: birth (retained), periodic, and the MQTT Will for offline."""

    KIND = RecordKind.STATUS
    MEASUREMENT = "gateway_status"

    state: Literal["online", "offline"]
    boot: Millis
    version: ShortText = ""
    spool_backlog: int = 0
    spool_oldest: Millis | None = None
    spool_dropped: int = 0
    publish_errors: int = 0
    last_error: LongText = ""
    devices: LongText = ""  # "atg1=ok,disp1=fault"
    alarms: ShortText = ""  # e.g. "spool_full: oldest records dropped"; empty when none


class PosSaleRecord(BaseRecord):
    """A sale as the station's POS / management system (零管系统) declares it."""

    KIND = RecordKind.POS_SALE
    MEASUREMENT = "pos_sale"
    TAGS = ("nozzle", "product")

    order_id: ShortText
    nozzle: NozzleNo | None = None
    product: ProductCode
    unit_price: Money
    volume: Litres
    amount: Money
    paid: Money | None = None
    payment: ShortText = ""


class PosDeliveryRecord(BaseRecord):
    """A purchase / delivery receipt as the station declares it (进)."""

    KIND = RecordKind.POS_DELIVERY
    MEASUREMENT = "pos_delivery"
    TAGS = ("tank", "product")

    waybill_id: ShortText
    tank: TankNo | None = None
    product: ProductCode
    volume: Litres
    supplier: ShortText = ""
    vehicle: ShortText = ""


class PosInventoryRecord(BaseRecord):
    """Daily stock as the station declares it (存)."""

    KIND = RecordKind.POS_INVENTORY
    MEASUREMENT = "pos_inventory"
    TAGS = ("tank", "product")

    tank: TankNo | None = None
    product: ProductCode
    book_volume: Litres
    measured_volume: Litres | None = None


RECORD_TYPES: dict[RecordKind, type[BaseRecord]] = {
    cls.KIND: cls
    for cls in (
        InventoryRecord,
        TransactionRecord,
        NozzleEventRecord,
        TotalizerRecord,
        DeliveryRecord,
        AlarmRecord,
        GatewayStatusRecord,
        PosSaleRecord,
        PosDeliveryRecord,
        PosInventoryRecord,
    )
}
