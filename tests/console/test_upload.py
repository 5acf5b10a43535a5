"""Department data upload: a bad XLSX shows every bad row and writes nothing; a good one shows
its preview, then commits on request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select

from fuelwatch.cloud.store.models.departments import DepartmentImport, EWaybill
from tests.console.conftest import ConsoleApp, Tab

COLUMNS = ["waybill_no", "station", "vehicle_plate", "product", "volume_l", "arrived_at"]


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _counts(app: ConsoleApp) -> tuple[int, int]:
    with app.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(EWaybill)) or 0,
            session.scalar(select(func.count()).select_from(DepartmentImport)) or 0,
        )


def test_bad_xlsx_shows_row_errors_and_commits_nothing(
    console_app: ConsoleApp, open_tab: Callable[..., Tab], tmp_path: Path, shots: Path
) -> None:
    before = _counts(console_app)
    bad = _xlsx(
        tmp_path / "运单.xlsx",
        [
            ["YD101", "S1", "津A00001", "92", 20000, "2026-11-01 08:40"],  # row 2: fine
            ["YD102", "S9", "津A00002", "92", 20000, "2026-11-01 09:40"],  # 3: unknown station
            ["YD103", "S1", "津A00003", "92", -5, "2026-11-01 10:40"],  # 4: negative volume
            ["YD101", "S1", "津A00001", "92", 20000, "2026-11-01 08:40"],  # 5: row 2 again
            ["YD104", "S3", "津A00004", "92", 20000, "yesterday"],  # 6: S3 is not d1; bad time
        ],
    )
    tab = open_tab("officer1")
    tab.go("/console/data")
    tab.page.select_option("#dataset", "ewaybills")
    tab.page.set_input_files("#file", str(bad))
    with tab.page.expect_navigation():
        tab.page.click("#form-upload button[type=submit]")
    assert tab.page.locator("#result[role=alert]").is_visible()
    errors = tab.page.eval_on_selector_all(
        "#row-errors tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    by_row = {int(r[0]): (r[1], r[2]) for r in errors}
    assert set(by_row) == {3, 4, 5, 6}
    assert by_row[3][0] == "station"
    assert by_row[4][0] == "volume_l"
    assert "row 2" in by_row[5][1]
    flagged = tab.page.eval_on_selector_all(
        "#preview-rows tbody tr.row-error td:first-child", "els => els.map(e => +e.textContent)"
    )
    assert flagged == [3, 4, 5, 6]
    assert tab.page.locator("#form-commit").count() == 0
    tab.page.screenshot(path=str(shots / "data-errors-desktop.png"), full_page=True)
    assert _counts(console_app) == before  # not a data row, not even a rejected attempt


def test_good_xlsx_previews_then_commits(
    console_app: ConsoleApp, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    good = _xlsx(
        tmp_path / "good.xlsx",
        [
            ["YD201", "S1", "津A00011", "92", 20000, "2026-11-02 08:40"],
            ["YD202", "S2", "津A00012", "0", 15000, "2026-11-02 09:40"],
        ],
    )
    waybills, attempts = _counts(console_app)
    tab = open_tab("super1")
    tab.go("/console/data")
    tab.page.select_option("#dataset", "ewaybills")
    tab.page.set_input_files("#file", str(good))
    with tab.page.expect_navigation():
        tab.page.click("#form-upload button[type=submit]")
    assert "新增 2 条" in tab.page.locator("#result").inner_text()
    assert _counts(console_app) == (waybills, attempts)  # the preview wrote nothing
    with tab.page.expect_navigation():
        tab.page.click("#form-commit button[type=submit]")
    assert "已导入" in tab.page.locator("#result").inner_text()
    assert _counts(console_app) == (waybills + 2, attempts + 1)
