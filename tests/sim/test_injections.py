"""Each injection kind changes exactly what it should, and labels what it did."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from fuelwatch.core.records import (
    InventoryRecord,
    NozzleEventRecord,
    PosSaleRecord,
    TotalizerRecord,
    TransactionRecord,
)
from fuelwatch.sim.clock import HOUR_MS
from fuelwatch.sim.events import DeliveryEvent, PosPush, SaleEvent, WaybillEvent
from fuelwatch.sim.labels import Label
from fuelwatch.sim.offline import gateway_records
from fuelwatch.sim.station import Station
from tests.sim.factory import BASE, run, scenario

LOW_TANKS = [{**t, "initial_fill": 0.38} for t in BASE["tanks"]]  # deliveries on day one


DEVICE_OF = {
    InventoryRecord: "gauge",
    TransactionRecord: "dispenser",
    NozzleEventRecord: "dispenser",
    TotalizerRecord: "dispenser",
}


def labels(station: Station, kind: str) -> list[Label]:
    return [lb for lb in station.labels.labels() if lb.kind == kind]


def sales(events: list[object]) -> list[SaleEvent]:
    return [e for e in events if isinstance(e, SaleEvent)]


def pos_rows(events: list[object], endpoint: str) -> list[dict[str, object]]:
    return [r for e in events if isinstance(e, PosPush) and e.endpoint == endpoint for r in e.rows]


def hours(sc, n: float) -> int:
    return sc.start_ms + int(n * HOUR_MS)


def test_clean_scenario_has_no_labels():
    station, events = run(scenario())
    assert station.labels.labels() == []
    assert len(pos_rows(events, "sales")) == len(sales(events))


def test_over_registration():
    sc = scenario(
        injections=[
            {"kind": "over_registration", "nozzle": 3, "percent": 3, "hours": "07:00-11:00",
             "windows": [{"start": "0d", "end": "2d"}]},
        ]
    )  # fmt: skip
    station, events = run(sc)
    found = labels(station, "over_registration")
    assert [(lb.start, lb.end) for lb in found] == [
        (hours(sc, 7), hours(sc, 11)),
        (hours(sc, 31), hours(sc, 35)),
    ]
    assert all(lb.nozzle == 3 and lb.magnitude == 3 and lb.unit == "%" for lb in found)
    cheated = {o for lb in found for o in lb.order_ids}
    assert len(cheated) > 10
    for sale in sales(events):
        error = station.nozzles[sale.nozzle].meter_error
        boost = 1.03 if sale.txn.order_id in cheated else 1.0
        registered = sale.true_volume * (1 + error) * boost
        assert sale.txn.volume == pytest.approx(registered, abs=0.006)
        if sale.txn.order_id in cheated:
            assert sale.nozzle == 3
            assert any(lb.start <= sale.txn.start <= lb.end + 60_000 for lb in found)
    # transactions and the totalizer show more than the tank lost
    nozzle3 = [s for s in sales(events) if s.nozzle == 3]
    registered = sum(s.txn.volume for s in nozzle3)
    assert nozzle3[-1].txn.totalizer_after - nozzle3[0].txn.totalizer_before == pytest.approx(
        registered
    )
    excess = sum(lb.effect["excess_litres"] for lb in found)
    cheated_litres = sum(s.txn.volume for s in nozzle3 if s.txn.order_id in cheated)
    assert excess == pytest.approx(cheated_litres * 0.03 / 1.03, rel=0.01)


def test_offbook_bypass_draws_from_the_tank_and_nothing_else():
    clean_station, clean = run(scenario())
    sc = scenario(
        injections=[
            {"kind": "offbook_bypass", "tank": 2, "sales_per_day": 60,
             "windows": [{"start": "2h", "end": "26h"}]},
        ]
    )  # fmt: skip
    station, events = run(sc)
    [label] = labels(station, "offbook_bypass")
    assert (label.start, label.end, label.tank) == (hours(sc, 2), hours(sc, 26), 2)
    assert label.effect["sales"] == station.stats["hidden_sales"] > 30
    ledger = station.tanks[2].ledger
    # the label counts gross litres at the (cold) product temperature, the ledger litres at 20 °C
    assert label.effect["litres"] == pytest.approx(
        ledger.bypassed * station.tanks[2].expansion(), rel=0.01
    )
    assert clean_station.tanks[2].ledger.bypassed == 0
    assert [s.txn for s in sales(events)] == [s.txn for s in sales(clean)]  # no record of them
    assert pos_rows(events, "sales") == pos_rows(clean, "sales")


def test_pos_omission_leaves_sales_out_of_the_push_only():
    clean_station, clean = run(scenario())
    sc = scenario(
        injections=[
            {"kind": "pos_omission", "share": 0.3, "windows": [{"start": "0d", "end": "1d"}]}
        ]
    )
    station, events = run(sc)
    [label] = labels(station, "pos_omission")
    omitted = set(label.order_ids)
    assert [s.txn for s in sales(events)] == [s.txn for s in sales(clean)]
    pushed = {r["order_id"] for r in pos_rows(events, "sales")}
    everything = {s.txn.order_id for s in sales(events)}
    assert pushed == everything - omitted
    in_window = [s for s in sales(events) if s.at < hours(sc, 24)]
    assert 0.2 < len(omitted) / len(in_window) < 0.4
    assert all(s.txn.order_id not in omitted for s in sales(events) if s.at >= hours(sc, 24))
    assert label.effect["litres"] == pytest.approx(
        sum(s.txn.volume for s in sales(events) if s.txn.order_id in omitted)
    )
    # the POS book keeps the omitted sales as stock
    book, clean_book = (
        station.pos.book[1] + station.pos.book[2],
        clean_station.pos.book[1] + (clean_station.pos.book[2]),
    )
    assert book - clean_book == pytest.approx(label.effect["litres"], abs=0.01)


def test_totalizer_jump_and_rollback():
    sc = scenario(
        injections=[
            {"kind": "totalizer_jump", "nozzle": 1, "litres": 500, "at": "12h"},
            {"kind": "totalizer_rollback", "nozzle": 2, "litres": 300, "at": "12h"},
        ]
    )
    station, events = run(sc)
    for nozzle, shift, kind in ((1, 500.0, "totalizer_jump"), (2, -300.0, "totalizer_rollback")):
        txns = [s.txn for s in sales(events) if s.nozzle == nozzle]
        gaps = [b.totalizer_before - a.totalizer_after for a, b in itertools.pairwise(txns)]
        moved = [g for g in gaps if abs(g) > 1e-6]
        assert moved == [pytest.approx(shift)]
        [label] = labels(station, kind)
        assert (label.start, label.end, label.nozzle) == (hours(sc, 12), hours(sc, 12), nozzle)
        assert label.effect["after"] - label.effect["before"] == pytest.approx(shift)
    assert all(s.txn.volume > 0 for s in sales(events))


def test_unregistered_delivery():
    sc = scenario(
        injections=[{"kind": "unregistered_delivery", "tank": 1, "litres": 5000, "at": "10h"}]
    )
    station, events = run(sc)
    waybills = [e.waybill for e in events if isinstance(e, WaybillEvent)]
    detected = [e.delivery for e in events if isinstance(e, DeliveryEvent) and e.delivery.tank == 1]
    on_paper = sum(w.volume_20 for w in waybills if w.product == "92")
    assert len(detected) == len([w for w in waybills if w.product == "92"]) + 1
    assert station.tanks[1].ledger.delivered == pytest.approx(on_paper + 5000)
    assert len(pos_rows(events, "deliveries")) == len(waybills)
    [label] = labels(station, "unregistered_delivery")
    assert label.tank == 1
    assert label.start == hours(sc, 10)
    assert label.end > label.start
    assert label.effect["litres_20"] == 5000
    unregistered = next(d for d in detected if d.start <= label.start + 1 <= d.end)
    sold_meanwhile = sum(
        s.true_volume
        for s in sales(events)
        if s.nozzle in (1, 3) and unregistered.start <= s.txn.end <= unregistered.end
    )
    rise = unregistered.end_tc_volume - unregistered.start_tc_volume
    assert rise == pytest.approx(5000 - sold_meanwhile, abs=60)


def test_delivery_mismatch():
    sc = scenario(
        tanks=LOW_TANKS,
        injections=[
            {"kind": "delivery_mismatch", "tank": 1, "percent": -2,
             "windows": [{"start": "0d", "end": "2d"}]}
        ],
    )  # fmt: skip
    station, events = run(sc)
    waybills = [
        e.waybill for e in events if isinstance(e, WaybillEvent) and e.waybill.product == "92"
    ]
    found = labels(station, "delivery_mismatch")
    assert waybills
    assert {lb.effect["waybill_id"] for lb in found} == {w.waybill_id for w in waybills}
    assert station.tanks[1].ledger.delivered == pytest.approx(
        sum(w.volume_20 for w in waybills) * 0.98
    )
    declared = {r["waybill_id"]: r["volume"] for r in pos_rows(events, "deliveries")}
    assert all(declared[w.waybill_id] == w.volume_20 for w in waybills)
    diesel = [e.waybill for e in events if isinstance(e, WaybillEvent) and e.waybill.product == "0"]
    assert station.tanks[2].ledger.delivered == pytest.approx(sum(w.volume_20 for w in diesel))


@pytest.mark.parametrize("table", ["declared", "real"])
def test_declared_capacity(table):
    sc = scenario(
        duration="1h",
        gauge={"height_noise_mm": 0.0},
        injections=[
            {"kind": "declared_capacity", "tank": 2, "declared_litres": 25000, "gauge_table": table}
        ],
    )
    station, _ = run(sc)
    real = station.tanks[2].geometry.capacity
    registry = {t["tank"]: t["capacity"] for t in station.registry()["tanks"]}
    assert registry == {1: round(real, 1), 2: 25000}
    reading, truth = station.gauges[2].read(station.now), station.tanks[2].gross
    factor = 25000 / real if table == "declared" else 1.0
    assert station.gauges[2].capacity == pytest.approx(real * factor)
    assert reading.volume == pytest.approx(truth * factor, abs=5)
    assert station.gauges[1].read(station.now).volume == pytest.approx(
        station.tanks[1].gross, abs=5
    )
    [label] = labels(station, "declared_capacity")
    assert (label.start, label.end) == (sc.start_ms, sc.end_ms)
    assert label.effect["declared"] == 25000
    assert label.magnitude == pytest.approx(25000 - real, abs=0.1)


def test_leak():
    sc = scenario(
        injections=[
            {"kind": "leak", "tank": 1, "litres_per_hour": 2.0,
             "windows": [{"start": "6h", "end": "30h"}]}
        ]
    )  # fmt: skip
    station, _ = run(sc)
    tank = station.tanks[1]
    assert tank.ledger.leaked * tank.expansion() == pytest.approx(48.0, rel=0.01)
    assert station.tanks[2].ledger.leaked == 0
    assert tank.leak == 0  # stopped at the window's end
    [label] = labels(station, "leak")
    assert (label.start, label.end, label.magnitude) == (hours(sc, 6), hours(sc, 30), 2.0)
    assert label.effect["litres"] == pytest.approx(48.0)


def test_gateway_unplugged_stops_the_feed():
    sc = scenario(
        injections=[{"kind": "gateway_unplugged", "windows": [{"start": "10h", "end": "14h"}]}]
    )
    down, up = hours(sc, 10), hours(sc, 14)
    station = Station(sc)
    lost: Counter[str] = Counter()
    feed = [r for _, r in gateway_records(station, until_ms=hours(sc, 12), lost=lost)]
    assert not station.snapshot().reachable
    feed += [r for _, r in gateway_records(station, lost=lost)]
    assert station.snapshot().reachable
    assert not [r for r in feed if r.gts is not None and down <= r.gts < up]
    inventory = [r for r in feed if isinstance(r, InventoryRecord)]
    assert max(r.gts for r in inventory if r.gts < down) == down - 60_000
    assert min(r.gts for r in inventory if r.gts >= down) == up
    assert lost["SaleEvent"] > 0
    assert lost["NozzleEvent"] > 0
    txns = [r for r in feed if isinstance(r, TransactionRecord)]
    assert not [t for t in txns if down <= t.ts < up]
    # the POS kept its rows and pushed them when the gateway came back
    late = [r for r in feed if isinstance(r, PosSaleRecord) and down <= r.ts < up - 60_000]
    assert late
    assert {r.gts for r in late} == {up}
    [label] = labels(station, "gateway_unplugged")
    assert (label.start, label.end, label.magnitude) == (down, up, 4 * 3600)


@pytest.mark.parametrize("device", ["gauge", "dispenser"])
def test_clock_skew(device):
    sc = scenario(
        injections=[
            {"kind": "clock_skew", "device": device, "offset_seconds": 600,
             "windows": [{"start": "10h", "end": "20h"}]}
        ]
    )  # fmt: skip
    start, end = hours(sc, 10), hours(sc, 20)
    station = Station(sc)
    feed = [r for _, r in gateway_records(station)]
    assert {r.KIND.value for r in feed} >= {"inventory", "transaction", "nozzle", "totalizer"}
    for record in feed:
        assert record.gts is not None
        offset = record.ts - record.gts
        source = DEVICE_OF.get(type(record), "pos")
        if source == device and start <= record.gts < end:
            assert 600_000 - 30_000 <= offset <= 600_000
        elif source == "pos":
            assert -60_000 <= offset <= 0  # the POS pushes once a minute
        else:
            # a transaction ends (ts) a few seconds before the nozzle hangs (gts)
            assert -30_000 <= offset <= 0
    [label] = labels(station, "clock_skew")
    assert (label.device, label.magnitude, label.start, label.end) == (device, 600, start, end)


def test_price_out_of_range():
    sc = scenario(
        injections=[
            {"kind": "price_out_of_range", "product": "92", "price": 8.5,
             "windows": [{"start": "10h", "end": "20h"}]}
        ]
    )  # fmt: skip
    station, events = run(sc)
    [label] = labels(station, "price_out_of_range")
    high = {s.txn.order_id for s in sales(events) if s.txn.unit_price == 8.5}
    assert high == set(label.order_ids)
    assert high
    for sale in sales(events):
        if sale.txn.order_id in high:
            assert sale.product == "92"
            assert hours(sc, 10) <= sale.txn.start <= hours(sc, 20) + 120_000
        else:
            assert sale.txn.unit_price == sc.products[sale.product].price
    pushed = {r["order_id"]: r["unit_price"] for r in pos_rows(events, "sales")}
    assert all(pushed[o] == 8.5 for o in high)
