"""Records to line protocol: escaping, types, and the point identity that dedupes."""

from __future__ import annotations

from fuelwatch.cloud.store.lineproto import point_time_ns, record_line, write_line
from fuelwatch.core.records import AlarmRecord, InventoryRecord, TransactionRecord


def test_inventory_line_tags_fields_and_time() -> None:
    r = InventoryRecord(
        rid=1_000_123,
        ts=1_763_900_000_000,
        tank=2,
        product="0",
        volume=100.0,
        height=12.5,
        status=3,
    )
    line = record_line(r, district="binhai", station="BH0001", device="atg1")
    assert line == (
        "tank_inventory,device=atg1,district=binhai,product=0,station=BH0001,tank=2 "
        "rid=1000123i,volume=100.0,height=12.5,status=3i "
        "1763900000000000123"
    )


def test_point_time_is_unique_per_record_and_stable() -> None:
    a = InventoryRecord(rid=5, ts=1000, tank=1, product="92", volume=1, height=1)
    b = a.model_copy(update={"rid": 6})
    assert point_time_ns(a) != point_time_ns(b)
    assert point_time_ns(a) == point_time_ns(a.model_copy())
    assert point_time_ns(a) // 1_000_000 == 1000


def test_strings_and_bools_are_escaped() -> None:
    r = AlarmRecord(rid=1, ts=1, code="device_fault", message='say "hi"\\ now\nok', active=False)
    line = record_line(r, district="d", station="s", device="dev 1")
    assert 'message="say \\"hi\\"\\\\ now\\nok"' in line
    assert "active=false" in line
    assert "device=dev\\ 1" in line


def test_write_line_skips_none_and_empty_tags() -> None:
    line = write_line("m", {"a": None, "b": "", "c": "x,y=z"}, {"f": None, "g": 1.5}, 9)
    assert line == "m,c=x\\,y\\=z g=1.5 9"


def test_transaction_ids_are_fields_not_tags() -> None:
    r = TransactionRecord(
        rid=1,
        ts=1,
        nozzle=3,
        product="95",
        order_id="A-1",
        unit_price=8.0,
        volume=10.0,
        amount=80.0,
        start=0,
        end=1,
    )
    tags, fields = record_line(r, district="d", station="s", device="p").split(" ")[:2]
    assert "order_id" not in tags
    assert 'order_id="A-1"' in fields
    assert "nozzle=3" in tags
