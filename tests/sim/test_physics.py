"""Station physics: temperature compensation, evaporation, mass balance, meters, customers."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from fuelwatch.sim.clock import DAY_MS, HOUR_MS
from fuelwatch.sim.customers import ArrivalProcess, DailyProfile
from fuelwatch.sim.events import AlarmEvent, DeliveryEvent, SaleEvent, WaybillEvent
from fuelwatch.sim.scenario import DEFAULT_PROFILE
from fuelwatch.sim.station import Station
from tests.sim.factory import run, scenario

QUIET_GAUGE = {"height_noise_mm": 0.0, "temperature_noise": 0.0}


def test_tc_volume_stays_put_while_the_gross_volume_expands():
    station = Station(scenario(gauge=QUIET_GAUGE, customers={"sales_per_day": 0.01}))
    t = station.now
    for number, beta in ((1, 0.0012), (2, 0.00083)):
        tank, gauge = station.tanks[number], station.gauges[number]
        tank.temperature = 10.0
        cold = gauge.read(t + 1)  # (readings are cached per instant)
        tank.temperature = 25.0
        warm = gauge.read(t + 2)
        expected = tank.v20 * beta * 15  # gross growth for +15 °C at constant mass
        assert warm.volume - cold.volume == pytest.approx(expected, rel=0.02)
        assert warm.tc_volume == pytest.approx(cold.tc_volume, abs=3.0)  # 0.1 mm steps
        assert warm.tc_volume == pytest.approx(tank.v20, abs=3.0)
        assert warm.height > cold.height


def test_product_temperature_relaxes_to_the_ground():
    sc = scenario(duration="8d", customers={"sales_per_day": 0.01})
    station = Station(sc)
    tank = station.tanks[1]
    tank.temperature = station.climate.ground(station.now) + 10
    station.advance_to(sc.start_ms + 7 * DAY_MS)  # ~4.7 time constants of 36 h
    assert abs(tank.temperature - station.climate.ground(station.now)) < 0.5


def test_evaporation_is_small_and_gasoline_only():
    station, _ = run(scenario(customers={"sales_per_day": 0.01}))
    gasoline, diesel = station.tanks[1].ledger, station.tanks[2].ledger
    assert gasoline.evaporated == pytest.approx(gasoline.opening * 1e-5 * 2, rel=0.05)
    assert diesel.evaporated == 0


def test_mass_balance():
    sc = scenario(duration="3d", tanks=[{**t, "initial_fill": 0.38} for t in scenario_tanks()])
    station, events = run(sc)
    sales = [e for e in events if isinstance(e, SaleEvent)]
    assert len(sales) > 500
    assert station.stats["deliveries"] >= 2
    for number, tank in station.tanks.items():
        ledger = tank.ledger
        # the tank's content is its ledger, to the microlitre
        assert tank.v20 == pytest.approx(ledger.book(), abs=1e-6)
        # what the nozzles drew is what their customers got
        nozzles = [n for n in station.nozzles.values() if n.tank == number]
        in_progress = sum(_flowed(n, station.now) for n in nozzles)
        true = sum(e.true_volume for e in sales if e.nozzle in {n.number for n in nozzles})
        assert ledger.dispensed_gross == pytest.approx(true + in_progress, abs=1e-6)
    # the gauge sees the same balance, within its noise and resolution
    first = Station(sc)
    opening = {n: g.read(sc.start_ms).tc_volume for n, g in first.gauges.items()}
    for number, gauge in station.gauges.items():
        ledger = station.tanks[number].ledger
        change = gauge.read(station.now).tc_volume - opening[number]
        truth = ledger.delivered - ledger.dispensed - ledger.evaporated
        assert change == pytest.approx(truth, abs=15.0)


def scenario_tanks() -> list[dict[str, object]]:
    from tests.sim.factory import BASE  # noqa: PLC0415

    return list(BASE["tanks"])


def _flowed(nozzle, now: int) -> float:
    f = nozzle.fuelling
    if f is None or not f.start:
        return 0.0
    return f.flow * ((f.end or now) - f.start) / 1000


def test_meters_register_within_the_legal_error():
    for seed in range(20):
        station = Station(scenario(seed=seed, meter_error_max=0.003))
        assert all(abs(n.meter_error) <= 0.003 for n in station.nozzles.values())
    station, events = run(scenario())
    sales = [e for e in events if isinstance(e, SaleEvent)]
    for sale in sales:
        error = station.nozzles[sale.nozzle].meter_error
        registered = sale.txn.volume
        # registered = true x (1 + e), to the 0.01 L the display shows
        assert registered == pytest.approx(sale.true_volume * (1 + error), abs=0.006)
        assert abs(registered / sale.true_volume - 1) <= 0.003 + 0.006 / registered
        assert sale.txn.totalizer_after - sale.txn.totalizer_before == pytest.approx(registered)
        minutes = (sale.txn.end - sale.txn.start) / 60_000
        assert 29.9 <= sale.true_volume / minutes <= 40.1  # L/min


def test_transactions_are_consistent():
    _, events = run(scenario())
    sales = [e.txn for e in events if isinstance(e, SaleEvent)]
    orders = [t.order_id for t in sales]
    assert len(orders) == len(set(orders))
    for txn in sales:
        # a preset sale stops at the round amount: the volume is then rounded to 0.01 L
        assert txn.amount == pytest.approx(txn.volume * txn.unit_price, abs=0.006 * txn.unit_price)
        assert txn.paid == txn.amount  # no discounts configured
        assert txn.start < txn.end
    by_nozzle: dict[int, list[float]] = {}
    for e in events:
        if isinstance(e, SaleEvent):
            by_nozzle.setdefault(e.nozzle, []).append(e.txn.totalizer_before)
            by_nozzle[e.nozzle].append(e.txn.totalizer_after)
    for totals in by_nozzle.values():  # totalizers never jump between two sales
        assert all(b == pytest.approx(a) for a, b in zip(totals[1::2], totals[2::2], strict=False))


def test_daily_profile_shape():
    profile = DailyProfile(DEFAULT_PROFILE, 1.0, 8 * 3600)
    arrivals = ArrivalProcess(500, profile, random.Random(1))
    start = 1_740_931_200_000  # 2025-03-03 00:00 +08:00, a Monday
    t, hours = start, Counter[int]()
    while t < start + 28 * DAY_MS:
        t = arrivals.next_after(t)
        hours[((t - start) // HOUR_MS) % 24] += 1
    days = 28
    assert sum(hours.values()) / days == pytest.approx(500, rel=0.04)
    night = (hours[2] + hours[3]) / 2
    morning, evening = hours[8], hours[18]
    assert night < 0.15 * morning
    assert night < 0.15 * evening
    assert hours[13] < morning
    assert hours[13] < evening


def test_weekends_are_busier():
    profile = DailyProfile(DEFAULT_PROFILE, 1.5, 8 * 3600)
    monday = 1_740_931_200_000 + 12 * HOUR_MS
    assert profile.factor(monday + 5 * DAY_MS) == pytest.approx(1.5 * profile.factor(monday))


def test_deliveries_are_detected_and_waybilled():
    sc = scenario(duration="3d", tanks=[{**t, "initial_fill": 0.38} for t in scenario_tanks()])
    station, events = run(sc)
    waybills = [e.waybill for e in events if isinstance(e, WaybillEvent)]
    detected = [e.delivery for e in events if isinstance(e, DeliveryEvent)]
    assert len(waybills) >= 2
    assert len(detected) == len(waybills)
    for waybill in waybills:
        tank = next(n for n, t in station.tanks.items() if t.product == waybill.product)
        found = [d for d in detected if d.tank == tank and d.start >= waybill.arrive]
        assert found, waybill
        d = found[0]
        rise = d.end_tc_volume - d.start_tc_volume
        # the rise is the delivery less what was sold while it unloaded and settled
        assert waybill.volume_20 * 0.97 < rise <= waybill.volume_20 + 10
        assert d.end_height > d.start_height
        assert d.product_code == sc.products[waybill.product].tls_code
        assert waybill.depart < waybill.arrive <= d.start


def test_gauge_alarms():
    tanks = scenario_tanks()
    sc = scenario(
        duration="2h",
        tanks=[
            {**tanks[0], "water_mm": 60, "initial_fill": 0.92},
            {**tanks[1], "initial_fill": 0.05},
        ],
        deliveries={"reorder_fraction": 0.01},
    )
    station, events = run(sc)
    raised = {(e.tank, e.alarm_type) for e in events if isinstance(e, AlarmEvent) and e.active}
    assert raised == {(1, 3), (1, 10), (1, 4), (2, 5), (2, 11)}
    snap = station.snapshot()
    assert {(a.tank, a.alarm_type) for a in snap.alarms} == raised


def test_snapshot_has_every_field():
    station, _ = run(scenario(duration="6h"))
    snap = station.snapshot()
    assert snap.now == station.now
    assert snap.reachable
    assert [t.tank for t in snap.tanks] == [1, 2]
    assert [t.product_code for t in snap.tanks] == ["1", "4"]
    for tank in snap.tanks:
        assert 0 < tank.volume < tank.volume + tank.ullage
        assert tank.tc_volume > tank.volume  # March: product colder than 20 °C
        assert 0 < tank.height < 2500
        assert tank.water == 0
    assert [n.nozzle for n in snap.nozzles] == [1, 2, 3, 4]
    assert all(n.last is not None for n in snap.nozzles)
    assert station.snapshot() is snap  # cached until time moves
    station.advance_to(station.now + 1000)
    assert station.snapshot() is not snap


def test_same_seed_same_station():
    def feed(seed: int) -> list[object]:
        _, events = run(scenario(seed=seed, duration="12h"))
        return events

    assert feed(4) == feed(4)
    assert feed(4) != feed(5)
