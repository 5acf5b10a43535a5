"""Department data import: JSON, CSV and XLSX; one bad row rejects everything with a
report naming each bad row and field; a clean re-import updates instead of doubling."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.departments.importer import import_rows
from fuelwatch.cloud.store.models.accounts import User
from fuelwatch.cloud.store.models.departments import DepartmentImport, EWaybill, Licence
from tests.api.conftest import ApiEnv

BASE = "/api/v1/department-data"


def _waybill(n: int, **over: object) -> dict[str, object]:
    return {
        "waybill_no": f"YD{n:06d}",
        "station": "S1",
        "vehicle_plate": "津A12345",
        "driver_name": "赵六",
        "driver_phone": "13700001234",
        "product": "92",
        "volume_l": 20000,
        "departed_at": "2026-11-01T06:10:00+08:00",
        "arrived_at": "2026-11-01T08:40:00",
    } | over


def _count(api: ApiEnv, model: type) -> int:
    with api.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_json_import_with_bad_rows_is_rejected_whole_with_a_precise_report(api: ApiEnv) -> None:
    headers = api.as_user("officer1")
    rows = [
        _waybill(1),
        _waybill(2, volume_l=-5),
        _waybill(3, station="S3"),  # another district: as if unknown
        _waybill(4, arrived_at="yesterday"),
        _waybill(1),  # same waybill as row 1
        _waybill(6, departed_at="2026-11-02T00:00:00+08:00"),  # departs after it arrives
        _waybill(7, colour="red"),
    ]
    r = api.client.post(f"{BASE}/ewaybills", json={"rows": rows}, headers=headers)
    assert r.status_code == 422
    report = r.json()
    assert report["status"] == "rejected"
    assert report["rows"] == 7
    assert report["inserted"] == 0
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (2, "volume_l"),
        (3, "station"),
        (4, "arrived_at"),
        (5, "waybill_no"),
        (6, None),
        (7, "colour"),
    ]
    by_row = {e["row"]: e["message"] for e in report["errors"]}
    assert by_row[2] == "Input should be greater than 0"
    assert by_row[3] == "unknown station S3"
    assert by_row[5] == "same record as row 1"
    assert by_row[6] == "departed_at is after arrived_at"
    assert _count(api, EWaybill) == 0  # nothing half-imported
    with api.sessions() as session:
        attempt = session.scalars(select(DepartmentImport)).one()
        assert attempt.status == "rejected"
        assert len(attempt.errors) == 6

    good = [_waybill(1), _waybill(2)]
    r = api.client.post(f"{BASE}/ewaybills", json={"rows": good}, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["inserted"], r.json()["updated"]) == (2, 0)
    r = api.client.post(
        f"{BASE}/ewaybills", json={"rows": [_waybill(2, volume_l=19500)]}, headers=headers
    )
    assert (r.json()["inserted"], r.json()["updated"]) == (0, 1)
    assert _count(api, EWaybill) == 2
    listed = api.client.get(f"{BASE}/ewaybills", headers=headers).json()["items"]
    by_no = {w["waybill_no"]: w for w in listed}
    assert by_no["YD000002"]["volume_l"] == 19500
    # a time without a zone is China time, stored as UTC
    assert by_no["YD000001"]["arrived_at"].startswith("2026-11-01T00:40:00")
    assert by_no["YD000001"]["vehicle_plate"] == "津A12345"
    masked = api.client.get(f"{BASE}/ewaybills", headers=api.as_user("viewer1")).json()
    assert masked["items"][0]["vehicle_plate"] == "津A***45"
    assert masked["items"][0]["driver_name"] == "赵*"


def test_csv_upload_reports_sheet_rows_and_accepts_gbk(api: ApiEnv) -> None:
    headers = api.as_user("officer1")
    csv_text = (
        "station,kind,licence_no,holder,valid_from,valid_until\n"
        "S1,fuel_retail,L-1,滨海石化,2025-01-01,2028-01-01\n"
        "S2,fuel_retail,L-2,,2025-01-01,2024-01-01\n"
        "\n"
        "S2,firearms,L-3,,2025-01-01,2028-01-01\n"
    )
    r = api.client.post(
        f"{BASE}/licences/upload",
        files={"file": ("licences.csv", csv_text.encode("gb18030"), "text/csv")},
        headers=headers,
    )
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(3, None), (5, "kind")]
    assert errors[0]["message"] == "valid_until is before valid_from"
    assert _count(api, Licence) == 0

    fixed = csv_text.replace("2024-01-01", "2029-01-01").replace("firearms", "business")
    r = api.client.post(
        f"{BASE}/licences/upload",
        files={"file": ("licences.csv", fixed.encode(), "text/csv")},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 3
    holders = {
        x["licence_no"]: x["holder"]
        for x in api.client.get(f"{BASE}/licences", headers=headers).json()["items"]
    }
    assert holders["L-1"] == "滨海石化"


def test_file_header_problems_reject_before_any_row(api: ApiEnv) -> None:
    headers = api.as_user("officer1")
    r = api.client.post(
        f"{BASE}/inspections/upload",
        files={"file": ("x.csv", b"station,inspection_no,when,result\nS1,I-1,2026-01-01,pass\n")},
        headers=headers,
    )
    assert r.status_code == 422
    assert [(e["row"], e["message"]) for e in r.json()["errors"]] == [
        (1, "unknown column 'when'"),
        (1, "missing column 'inspected_at'"),
    ]
    r = api.client.post(
        f"{BASE}/inspections/upload", files={"file": ("x.csv", b"")}, headers=headers
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["message"] == "the file is empty"


def test_xlsx_upload(api: ApiEnv) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        [
            "station",
            "record_type",
            "record_no",
            "nozzle_no",
            "performed_at",
            "result",
            "seal_no",
            "seal_state",
        ]
    )
    sheet.append(["S1", "verification", "V-1", 3, "2026-10-01 09:00", "pass", None, None])
    sheet.append(["S1", "seal", "SEAL-1", 3, "2026-10-01 09:05", None, "QF-0091", "intact"])
    sheet.append(["S2", "seal", "SEAL-2", 4, "2026-10-01 09:10", None, "QF-0092", None])
    data = io.BytesIO()
    book.save(data)
    # metrology is market regulation's feed
    r = api.client.post(
        f"{BASE}/metrology/upload",
        files={"file": ("m.xlsx", data.getvalue())},
        headers=api.as_user("officer1"),
    )
    assert r.status_code == 403
    r = api.client.post(
        f"{BASE}/metrology/upload",
        files={"file": ("m.xlsx", data.getvalue())},
        headers=api.as_user("admin"),
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"row": 4, "field": None, "message": "a seal record needs seal_no and seal_state"}
    ]
    sheet.cell(row=4, column=8, value="broken")
    data = io.BytesIO()
    book.save(data)
    r = api.client.post(
        f"{BASE}/metrology/upload",
        files={"file": ("m.xlsx", data.getvalue())},
        headers=api.as_user("admin"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 3
    rows = api.client.get(f"{BASE}/metrology", headers=api.as_user("admin")).json()["items"]
    assert {r["record_no"]: r["nozzle_no"] for r in rows} == {"V-1": 3, "SEAL-1": 3, "SEAL-2": 4}
    imports = api.client.get(f"{BASE}/imports", headers=api.as_user("admin")).json()["items"]
    assert [(i["source"], i["status"]) for i in imports] == [
        ("xlsx", "committed"),
        ("xlsx", "rejected"),
    ]


def test_licence_status_view_finds_unlicensed_and_expiring_stations(api: ApiEnv) -> None:
    rows = [
        {
            "station": "S1",
            "kind": k,
            "licence_no": f"S1-{k}",
            "valid_from": "2025-01-01",
            "valid_until": "2099-01-01",
        }
        for k in ("hazardous_chemicals", "fuel_retail", "business")
    ]
    rows.append(
        {
            "station": "S2",
            "kind": "fuel_retail",
            "licence_no": "S2-old",
            "valid_from": "2020-01-01",
            "valid_until": "2021-01-01",
        }
    )
    r = api.client.post(f"{BASE}/licences", json={"rows": rows}, headers=api.as_user("admin"))
    assert r.status_code == 200, r.text
    view = api.client.get("/api/v1/supervision/licences", headers=api.as_user("officer1")).json()
    by_station = {s["station"]: s for s in view}
    assert set(by_station) == {"S1", "S2"}
    assert by_station["S1"]["unlicensed"] is False
    s2 = {x["kind"]: x["state"] for x in by_station["S2"]["licences"]}
    assert s2 == {"hazardous_chemicals": "missing", "fuel_retail": "expired", "business": "missing"}
    only = api.client.get(
        "/api/v1/supervision/licences", params={"only": "unlicensed"}, headers=api.as_user("admin")
    ).json()
    assert {s["station"] for s in only} == {"S2", "S3"}


def test_a_dry_run_reports_what_an_import_would_do_and_writes_nothing(api: ApiEnv) -> None:
    """The console's preview: the importer's own checks, nothing stored, not even the attempt."""
    headers = api.as_user("officer1")
    assert api.client.post(f"{BASE}/ewaybills", json={"rows": [_waybill(1)]}, headers=headers)
    with api.sessions() as session:
        user = session.get(User, api.world.user_ids["officer1"])
        assert user is not None
        officer = Principal.of(user)
        good = import_rows(
            session,
            dataset="ewaybills",
            rows=[(2, _waybill(1)), (3, _waybill(2))],
            principal=officer,
            source="xlsx",
            dry_run=True,
        )
        bad = import_rows(
            session,
            dataset="ewaybills",
            rows=[(2, _waybill(3)), (3, _waybill(4, station="S3"))],
            principal=officer,
            source="xlsx",
            dry_run=True,
        )
    assert (good.status, good.inserted, good.updated, good.errors) == ("valid", 1, 1, [])
    assert good.import_id is None
    assert bad.status == "rejected"
    assert [(e.row, e.field) for e in bad.errors] == [(3, "station")]
    assert _count(api, EWaybill) == 1
    assert _count(api, DepartmentImport) == 1  # the JSON import's attempt only
