"""Decoded values -> records, without I/O: the dispenser state machine and tank alarms."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fuelwatch.core.devices.profile import load_profile
from fuelwatch.core.records import (
    AlarmRecord,
    InventoryRecord,
    NozzleEventRecord,
    TransactionRecord,
)
from fuelwatch.gateway.adapters.modbus.interpret import (
    DispenserTracker,
    ProductTable,
    TankGaugeReader,
)
from tests.devices.modbus.conftest import PROFILES, T0, kinds

LOG = logging.getLogger("test")
STATES = {0: "idle", 1: "lifted", 2: "fuelling"}


def tracker(bits: int = 32) -> DispenserTracker:
    return DispenserTracker(
        numbers=[7],
        products=ProductTable(codes={1: "92"}, by_number={}),
        states=STATES,
        seq_bits=bits,
        totalizer_interval_ms=60_000,
        log=LOG,
    )


def values(
    state: int = 0, seq: int = 5, current: float = 0.0, **last: Any
) -> dict[int, dict[str, Any]]:
    end = T0 + seq * 1000 * 600
    v: dict[str, Any] = {
        "state": state,
        "product": 1,
        "unit_price": 7.52,
        "current_volume": current,
        "volume_total": 1000.0 + seq,
        "amount_total": 7520.0 + seq,
        "last.seq": seq,
        "last.order_id": 880_000 + seq,
        "last.unit_price": 7.52,
        "last.volume": 30.25,
        "last.amount": 227.48,
        "last.paid": 227.0,
        "last.start": end - 60_000,
        "last.end": end,
        "last.totalizer_before": 970.0 + seq,
        "last.totalizer_after": 1000.0 + seq,
    }
    v.update({f"last.{k}": x for k, x in last.items()})
    return {1: v}


def test_lift_fuel_hang_sale() -> None:
    t = tracker()
    now = T0 + 10_000_000
    assert kinds(t.records(values(0, seq=5), now)) == ["totalizer"]  # first poll: learn only
    lift = t.records(values(1, seq=5), now + 1000)
    assert kinds(lift) == ["lift"]
    assert lift[0].ts == now + 1000
    assert kinds(t.records(values(2, seq=5, current=12.5), now + 2000)) == []
    assert kinds(t.records(values(2, seq=5, current=30.25), now + 3000)) == []
    done = t.records(values(0, seq=6), now + 4000)
    assert kinds(done) == ["hang", "txn#880006"]
    hang, txn = done
    assert isinstance(hang, NozzleEventRecord)
    assert isinstance(txn, TransactionRecord)
    assert hang.volume == 30.25
    assert hang.ts == txn.end
    assert txn.model_dump(exclude={"rid"}) == {
        "ts": txn.end,
        "gts": now + 4000,
        "nozzle": 7,
        "product": "92",
        "order_id": "880006",
        "unit_price": 7.52,
        "volume": 30.25,
        "amount": 227.48,
        "paid": 227.0,
        "start": T0 + 6 * 600_000 - 60_000,
        "end": T0 + 6 * 600_000,
        "totalizer_before": 976.0,
        "totalizer_after": 1006.0,
    }
    assert kinds(t.records(values(0, seq=6), now + 5000)) == []
    assert kinds(t.records(values(0, seq=6), now + 61_000)) == ["totalizer"]


def test_hang_seen_before_the_counter_moves() -> None:
    """Some collectors show the nozzle idle one poll before the sale is booked."""
    t = tracker()
    t.records(values(0, seq=5), T0)
    t.records(values(2, seq=5, current=20.0), T0 + 1000)  # lifted and fuelling in one go
    hang = t.records(values(0, seq=5), T0 + 2000)
    assert kinds(hang) == ["hang"]
    assert hang[0].volume == 20.0  # type: ignore[attr-defined]
    assert kinds(t.records(values(0, seq=6), T0 + 3000)) == ["txn#880006"]  # no second hang


def test_a_whole_sale_between_two_polls_gets_its_events() -> None:
    t = tracker()
    t.records(values(0, seq=5), T0)
    records = t.records(values(0, seq=6), T0 + 1000)
    assert kinds(records) == ["lift", "hang", "txn#880006"]
    lift, hang, txn = records
    assert isinstance(txn, TransactionRecord)
    assert (lift.ts, hang.ts) == (txn.start, txn.end)


def test_next_customer_lifts_before_the_poll() -> None:
    t = tracker()
    t.records(values(0, seq=5), T0)
    t.records(values(2, seq=5), T0 + 1000)
    assert kinds(t.records(values(1, seq=6), T0 + 2000)) == ["hang", "txn#880006", "lift"]


def test_counter_jump_reports_missed_transactions() -> None:
    t = tracker()
    t.records(values(0, seq=5), T0)
    records = t.records(values(0, seq=9), T0 + 1000)
    assert kinds(records) == ["alarm:transactions_missed:on", "lift", "hang", "txn#880009"]
    alarm = records[0]
    assert isinstance(alarm, AlarmRecord)
    assert alarm.nozzle == 7
    assert "from 5 to 9" in alarm.message
    assert "3 transaction(s) could not be read" in alarm.message
    assert t.missed == 3


def test_counter_wraps_around() -> None:
    t = tracker(bits=16)
    t.records(values(0, seq=65535), T0)
    assert kinds(t.records(values(0, seq=0), T0 + 1000)) == ["lift", "hang", "txn#880000"]
    assert kinds(t.records(values(0, seq=2), T0 + 2000))[0] == "alarm:transactions_missed:on"


def test_counter_going_back_is_a_reset_not_a_billion_missed_sales() -> None:
    t = tracker()
    t.records(values(0, seq=500), T0)
    records = t.records(values(0, seq=3), T0 + 1000)
    assert kinds(records) == ["alarm:transaction_counter_reset:on"]
    assert t.missed == 0
    assert kinds(t.records(values(0, seq=4), T0 + 2000)) == ["lift", "hang", "txn#880004"]


def test_a_sale_the_record_model_refuses_is_an_alarm_not_a_silent_loss() -> None:
    t = tracker()
    t.records(values(0, seq=5), T0)
    records = t.records(values(0, seq=6, volume=float("inf")), T0 + 1000)
    assert kinds(records) == ["alarm:invalid_transaction:on"]
    message = records[0].message  # type: ignore[attr-defined]
    assert "transaction #6 could not be recorded: volume" in message
    assert "last.volume=inf" in message
    records = t.records(values(0, seq=7, start=float("nan")), T0 + 2000)
    assert kinds(records) == ["alarm:invalid_transaction:on"]
    assert t.invalid == 2
    assert kinds(t.records(values(0, seq=8), T0 + 3000)) == ["lift", "hang", "txn#880008"]


def test_a_bad_nozzle_value_is_reported_once_until_it_is_good_again() -> None:
    t = tracker()
    t.records(values(0, seq=5), T0)
    bad = values(1, seq=5)
    bad[1]["volume_total"] = float("nan")
    records = t.records(bad, T0 + 1000)
    assert kinds(records) == ["alarm:invalid_reading:on"]
    assert "not a number: volume_total" in records[0].message  # type: ignore[attr-defined]
    assert kinds(t.records(bad, T0 + 2000)) == []
    assert kinds(t.records(values(1, seq=5), T0 + 3000)) == ["lift", "alarm:invalid_reading:off"]


def test_unknown_state_code_is_reported_once() -> None:
    t = tracker()
    t.records(values(0, seq=5), T0)
    assert kinds(t.records(values(9, seq=5), T0 + 1000)) == ["alarm:invalid_reading:on"]
    assert kinds(t.records(values(9, seq=5), T0 + 2000)) == []
    assert kinds(t.records(values(0, seq=5), T0 + 3000)) == ["alarm:invalid_reading:off"]


@pytest.fixture
def vr_reader() -> TankGaugeReader:
    profile = load_profile(PROFILES / "veeder_root_tls_modbus.yaml")
    return TankGaugeReader(
        profile,
        numbers=[3],
        products=ProductTable(codes=profile.products, by_number={}),
        log=LOG,
    )


def tank_values(**extra: Any) -> dict[int, dict[str, Any]]:
    return {1: {"product": 2, "volume": 1000.0, "height": 500.0, "temperature": 18.0, **extra}}


def test_tank_reading_and_alarm_transitions(vr_reader: TankGaugeReader) -> None:
    (inv,) = vr_reader.records(tank_values(), T0)
    assert isinstance(inv, InventoryRecord)
    assert (inv.tank, inv.product, inv.volume, inv.height) == (3, "95", 1000.0, 500.0)
    records = vr_reader.records(tank_values(**{"alarm:overfill": 1}), T0 + 1)
    assert kinds(records) == ["alarm:overfill:on", "InventoryRecord"]
    assert records[0].severity == "critical"  # type: ignore[attr-defined]
    assert records[0].tank == 3  # type: ignore[attr-defined]
    assert kinds(vr_reader.records(tank_values(**{"alarm:overfill": 1}), T0 + 2)) == [
        "InventoryRecord"
    ]
    assert kinds(vr_reader.records(tank_values(), T0 + 3)) == [
        "alarm:overfill:off",
        "InventoryRecord",
    ]


def test_tank_with_an_unknown_product_code(vr_reader: TankGaugeReader) -> None:
    records = vr_reader.records(tank_values(product=9), T0)
    assert kinds(records) == ["alarm:invalid_reading:on"]
    assert "product code 9 is not in the profile's products table" in records[0].message  # type: ignore[attr-defined]


def test_tank_nan_volume(vr_reader: TankGaugeReader) -> None:
    records = vr_reader.records(tank_values(volume=float("nan")), T0)
    assert kinds(records) == ["alarm:invalid_reading:on"]
    assert kinds(vr_reader.records(tank_values(), T0 + 1)) == [
        "alarm:invalid_reading:off",
        "InventoryRecord",
    ]
