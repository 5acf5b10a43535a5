"""One station's page shows the station's own numbers: tanks, sales by day, the rule's
reconciliation with the day outside its band, waybills against declared deliveries, and the
transactions with their totalizers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.console.conftest import ConsoleApp, Tab
from tests.console.world import LOSS_L


def _cells(tab: Tab, selector: str) -> list[list[str]]:
    return tab.page.eval_on_selector_all(
        selector, "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )


def test_station_page_numbers(console_app: ConsoleApp, open_tab: Callable[..., Tab]) -> None:
    tab = open_tab("super1")
    assert tab.go("/console/stations/S1?days=7") == 200
    tanks = _cells(tab, "section[aria-labelledby=h-tanks] tbody tr")
    assert [row[:3] for row in tanks] == [["1", "92", "30,000"], ["2", "0", "30,000"]]

    sales = _cells(tab, "section[aria-labelledby=h-sales] tbody tr")
    sold = {p: sum(float(r[2].replace(",", "")) for r in sales if r[1] == p) for p in ("92", "0")}
    assert sold == pytest.approx(console_app.world.sold, abs=0.05)

    # the reconciliation arrives after the page, from the rule's own detector
    assert tab.page.locator("#recon").get_attribute("data-loaded") == "true"
    assert tab.page.locator("#recon figure.chart").count() == 2  # one chart per tank
    recon = _cells(tab, "#recon tbody tr")
    over = [r for r in recon if r[0] == "1" and float(r[4].replace(",", "")) < -LOSS_L / 2]
    assert len(over) == 1  # the day tank 1 lost 300 L
    assert tab.page.locator("#recon tbody tr.row-error").count() == 1
    assert tab.page.locator("#recon circle.over").count() == 1

    bills = {
        r[0]: r for r in _cells(tab, "section[aria-labelledby=h-deliv] table >> nth=0 >> tbody tr")
    }
    assert bills["YD001"][4:7] == ["8,000", "7,960", "-40"]
    assert bills["YD002"][5] == "未申报"

    txns = _cells(tab, "section[aria-labelledby=h-txn] tbody tr")
    assert txns
    for row in txns:
        before, after = float(row[7].replace(",", "")), float(row[8].replace(",", ""))
        assert after - before == pytest.approx(float(row[5]))


def test_reconciliation_works_without_script(open_tab: Callable[..., Tab]) -> None:
    tab = open_tab("officer1")
    assert tab.go("/console/stations/S1/reconciliation?days=3") == 200
    assert tab.page.locator("#recon figure.chart").count() == 2
    assert tab.page.locator("#recon circle.over").count() == 1
