"""Issue 13 #9: masking by data class with default deny. The probe saw ``plate_no`` leak
while ``plate`` was masked; evidence pushed over MQTT and webhooks must not leak a personal
field because its key is new."""

from __future__ import annotations

import pytest

from fuelwatch.cloud.common.masking import WITHHELD, DataClass, classify, mask_evidence
from fuelwatch.cloud.warnings.outbox import evidence_summary


@pytest.mark.parametrize(
    ("key", "data_class"),
    [
        ("plate", DataClass.VEHICLE_PLATE),
        ("plate_no", DataClass.VEHICLE_PLATE),
        ("vehicle", DataClass.VEHICLE_PLATE),
        ("driver", DataClass.PERSON_NAME),
        ("driverName", None),  # one word: not recognised, so default deny applies below
        ("contact_name", DataClass.PERSON_NAME),
        ("driver_mobile", DataClass.PHONE),
        ("tel", DataClass.PHONE),
        ("payment_ref", DataClass.PAYMENT_REFERENCE),
        ("card_no", DataClass.PAYMENT_REFERENCE),
        ("id_card_no", DataClass.IDENTITY_NUMBER),
        ("driver_id_no", DataClass.IDENTITY_NUMBER),
        ("home_address", DataClass.ADDRESS),
        ("loss_l", None),
        ("name", None),
    ],
)
def test_fields_are_classified_by_their_words(key: str, data_class: DataClass | None) -> None:
    assert classify(key) is data_class


def test_evidence_is_masked_by_class_and_unknown_strings_are_withheld() -> None:
    evidence = {
        "window": ["2026-11-01T00:00:00Z", "2026-11-01T06:00:00Z"],
        "loss_l": 812.5,
        "product": "92",
        "plate_no": "津A12345",
        "driverName": "王小明",
        "customer_remark": "张三 13912345678",
        "records": [{"vehicle_plate": "津B67890", "driver_phone": "13700001234", "litres": 40}],
    }
    masked = mask_evidence(evidence)
    assert masked["window"] == evidence["window"]
    assert (masked["loss_l"], masked["product"]) == (812.5, "92")
    assert masked["plate_no"] == "津A***45"
    assert masked["driverName"] == WITHHELD
    assert masked["customer_remark"] == WITHHELD
    assert masked["records"] == [
        {"vehicle_plate": "津B***90", "driver_phone": "137****1234", "litres": 40}
    ]


def test_alerts_pushed_out_carry_no_personal_data() -> None:
    summary = evidence_summary(
        {"plate_no": "津A12345", "note_by_driver": "call me 13912345678", "value": 500.0}
    )
    assert "津A12345" not in str(summary)
    assert "13912345678" not in str(summary)
    assert summary["value"] == 500.0
