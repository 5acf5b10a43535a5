"""A report's XLSX download has the rows and totals shown on screen (and the data's truth)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.console.conftest import ConsoleApp, Tab
from tests.console.world import DECLARED_L


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize("group_by", ["station", "product"])
def test_xlsx_download_matches_the_screen(
    console_app: ConsoleApp, open_tab: Callable[..., Tab], group_by: str, tmp_path: Path
) -> None:
    tab = open_tab("admin")
    tab.go(f"/console/reports?kind=sales&group_by={group_by}")
    header = tab.page.eval_on_selector_all("#report thead th", "els => els.map(e => e.textContent)")
    body = tab.page.eval_on_selector_all(
        "#report tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    totals = tab.page.eval_on_selector_all("#report tfoot td", "els => els.map(e => e.textContent)")
    with tab.page.expect_download() as download:
        tab.page.click("#dl-xlsx")
    name = download.value.suggested_filename
    assert name.startswith("fuelwatch-sales-")
    assert name.endswith(".xlsx")
    path = tmp_path / name
    download.value.save_as(path)
    sheet = load_workbook(path, read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == header
    assert len(rows) == len(body) + 2  # header, rows, totals
    volume, revenue, count = (header.index(k) for k in ("升数 (L)", "金额 (元)", "笔数"))
    for shown, saved in zip(body, rows[1:-1], strict=True):
        assert _number(shown[volume]) == pytest.approx(saved[volume], abs=0.005)
        assert _number(shown[count]) == saved[count]
    xlsx_totals = rows[-1]
    assert xlsx_totals[0] == "合计" == totals[0]
    for i in (volume, revenue, count):
        assert _number(totals[i]) == pytest.approx(xlsx_totals[i], abs=0.005)
    # and both are what the stations sold (S1's three days, S3's one sale)
    world = console_app.world
    sold = sum(world.sold.values()) + 33.0
    assert xlsx_totals[volume] == pytest.approx(sold, abs=0.01)
    assert xlsx_totals[revenue] == pytest.approx(sum(world.revenue.values()) + 250.8, abs=0.01)


def test_csv_download_has_the_same_totals(open_tab: Callable[..., Tab]) -> None:
    tab = open_tab("officer1")
    tab.go("/console/reports?kind=prices&group_by=station")
    totals = tab.page.eval_on_selector_all("#report tfoot td", "els => els.map(e => e.textContent)")
    with tab.page.expect_download() as download:
        tab.page.click("#dl-csv")
    path = download.value.path()
    assert path is not None
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert rows[-1][0] == "合计"
    assert _number(rows[-1][-1]) == _number(totals[-1])


def test_tax_comparison_puts_the_declaration_beside_the_metered_sales(
    open_tab: Callable[..., Tab],
) -> None:
    tab = open_tab("officer1")
    tab.go("/console/reports?kind=tax")
    [row] = tab.page.eval_on_selector_all(
        "#report tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    station, number, _, _, product, declared, measured, undeclared = row[:8]
    assert (station, number, product) == ("S1", "SB2026-001", "92")
    assert _number(declared) == DECLARED_L
    # two whole Beijing days of nozzle 1: 48 sales of 40 L a day
    assert _number(measured) == 2 * 48 * 40.0
    assert _number(undeclared) == pytest.approx((3840.0 - DECLARED_L) / 3840.0 * 100, abs=0.01)
