"""The offline fast path: a station stepped as fast as the CPU allows, as gateway records.

``gateway_records`` yields what a gateway attached to the station would put in its spool
(``(device id, record)``, ``rid`` left 0 for the spool to assign), in the order it would
read them, with simulated times: ``ts`` on the device's clock, ``gts`` on the gateway's. A
benchmark pushes these through the real spool -> publisher -> broker -> ingest, tens of
station-months at a time, without any protocol server or wall-clock pacing.

What the gateway sees:
- an ``InventoryRecord`` per tank every ``feed.inventory_interval`` and a
  ``TotalizerRecord`` per nozzle every ``feed.totalizer_interval``;
- nozzle lift/hang, transactions, gauge-detected deliveries and alarm changes as they happen;
- the POS pushes (sales, declared deliveries, daily stock) when the POS sends them.

During a ``gateway_unplugged`` outage the gateway is off: polled readings, nozzle events and
transactions of that time are lost (devices keep only their latest state); what devices
store themselves (the gauge's delivery history and alarms, the POS backlog) arrives when the
outage ends, stamped with that ``gts``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Literal

from fuelwatch.core.records import (
    AlarmRecord,
    BaseRecord,
    DeliveryRecord,
    InventoryRecord,
    NozzleEventRecord,
    PosDeliveryRecord,
    PosInventoryRecord,
    PosSaleRecord,
    TotalizerRecord,
    TransactionRecord,
)
from fuelwatch.sim.events import (
    AlarmEvent,
    DeliveryEvent,
    NozzleEvent,
    PosPush,
    SaleEvent,
    StationEvent,
)
from fuelwatch.sim.gauge import ALARM_CODES
from fuelwatch.sim.station import Station

__all__ = ["DEVICES", "gateway_records"]

DEVICES = {"gauge": "atg1", "dispenser": "dispensers", "pos": "pos"}
POS_MODELS: dict[str, type[BaseRecord]] = {
    "sales": PosSaleRecord,
    "deliveries": PosDeliveryRecord,
    "inventory": PosInventoryRecord,
}
Severity = Literal["info", "warning", "critical"]
ALARM_SEVERITY: dict[int, Severity] = {2: "critical", 3: "critical", 4: "critical", 6: "critical"}


def gateway_records(
    station: Station,
    *,
    until_ms: int | None = None,
    lost: Counter[str] | None = None,
    on_events: Callable[[list[StationEvent]], None] | None = None,
) -> Iterator[tuple[str, BaseRecord]]:
    """Run ``station`` to ``until_ms`` (default: the scenario's end), yielding its feed.

    ``lost`` (if given) counts, by event type, what an outage kept from the gateway;
    ``on_events`` sees every event the station reported (waybills included).
    """
    sc, faults = station.scenario, station.faults
    end = sc.end_ms if until_ms is None else until_ms
    inventory_ms = int(sc.feed.inventory_interval.total_seconds() * 1000)
    totalizer_ms = int(sc.feed.totalizer_interval.total_seconds() * 1000)
    next_inventory = next_totalizer = station.now
    held: list[tuple[int, StationEvent]] = []  # (release time, event) stored through an outage
    while True:
        t = min(next_inventory, next_totalizer, end)
        station.advance_to(t)
        if t == sc.end_ms:
            station.flush_pos()
        events = station.drain()
        if on_events is not None:
            on_events(events)
        for event in events:
            if not faults.outage(event.at):
                yield from _records(event, event.at)
            elif isinstance(event, DeliveryEvent | AlarmEvent | PosPush):
                held.append((faults.outage_end(event.at) or event.at, event))
            elif lost is not None:
                lost[type(event).__name__] += 1
        down = faults.outage(t)
        if held and not down:
            for release, event in sorted(held, key=lambda h: (h[0], h[1].at)):
                yield from _records(event, release)
            held.clear()
        if t == next_inventory:
            next_inventory += inventory_ms
            if not down:
                yield from _inventory(station, t)
        if t == next_totalizer:
            next_totalizer += totalizer_ms
            if not down:
                yield from _totalizers(station, t)
        if t >= end:
            break


def _inventory(station: Station, t: int) -> Iterator[tuple[str, BaseRecord]]:
    ts = t + station.offset("gauge")
    for gauge in station.gauges.values():
        r = gauge.read(t)
        yield (
            DEVICES["gauge"],
            InventoryRecord(
                ts=ts,
                gts=t,
                tank=r.tank,
                product=r.product,
                volume=r.volume,
                tc_volume=r.tc_volume,
                ullage=r.ullage,
                height=r.height,
                water=r.water,
                temperature=r.temperature,
                water_volume=r.water_volume,
                status=r.status_bits,
            ),
        )


def _totalizers(station: Station, t: int) -> Iterator[tuple[str, BaseRecord]]:
    ts = t + station.offset("dispenser")
    for nozzle in station.nozzles.values():
        snap = nozzle.snapshot(t)
        yield (
            DEVICES["dispenser"],
            TotalizerRecord(
                ts=ts,
                gts=t,
                nozzle=snap.nozzle,
                product=snap.product,
                volume_total=snap.volume_total,
                amount_total=snap.amount_total,
            ),
        )


def _records(event: StationEvent, gts: int) -> Iterator[tuple[str, BaseRecord]]:
    match event:
        case NozzleEvent():
            yield (
                DEVICES["dispenser"],
                NozzleEventRecord(
                    ts=event.ts,
                    gts=gts,
                    nozzle=event.nozzle,
                    product=event.product,
                    event=event.event,
                    volume=event.volume,
                ),
            )
        case SaleEvent(txn=txn):
            yield (
                DEVICES["dispenser"],
                TransactionRecord(
                    ts=txn.end,
                    gts=gts,
                    nozzle=event.nozzle,
                    product=event.product,
                    order_id=txn.order_id,
                    unit_price=txn.unit_price,
                    volume=txn.volume,
                    amount=txn.amount,
                    paid=txn.paid,
                    start=txn.start,
                    end=txn.end,
                    totalizer_before=txn.totalizer_before,
                    totalizer_after=txn.totalizer_after,
                ),
            )
        case DeliveryEvent(delivery=d):
            yield (
                DEVICES["gauge"],
                DeliveryRecord(
                    ts=d.end,
                    gts=gts,
                    tank=d.tank,
                    product=event.product,
                    start=d.start,
                    end=d.end,
                    start_volume=d.start_volume,
                    end_volume=d.end_volume,
                    start_tc_volume=d.start_tc_volume,
                    end_tc_volume=d.end_tc_volume,
                    start_water=d.start_water,
                    end_water=d.end_water,
                    start_temperature=d.start_temperature,
                    end_temperature=d.end_temperature,
                    start_height=d.start_height,
                    end_height=d.end_height,
                ),
            )
        case AlarmEvent():
            code = ALARM_CODES.get(event.alarm_type, f"tls_alarm_{event.alarm_type}")
            yield (
                DEVICES["gauge"],
                AlarmRecord(
                    ts=event.ts,
                    gts=gts,
                    code=code,
                    active=event.active,
                    severity=ALARM_SEVERITY.get(event.alarm_type, "warning"),
                    message=f"tank {event.tank} {code.replace('_', ' ')}",
                    tank=event.tank,
                ),
            )
        case PosPush():
            model = POS_MODELS[event.endpoint]
            for row in event.rows:
                yield DEVICES["pos"], model.model_validate(_with_gts(row, gts))
        case _:
            return


def _with_gts(row: dict[str, Any], gts: int) -> dict[str, Any]:
    return {**row, "gts": gts}
