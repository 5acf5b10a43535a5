"""Every page of the console, as the role that uses it, on a desktop and on a phone: it loads,
logs no console error, asks no other origin for anything, is keyboard-reachable, and is
photographed for the user guide (docs/ui.md).

Screenshots go to the ``shots`` folder (conftest.py): taking them is part of the test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fuelwatch.cloud.warnings.service import Action, transition, upsert_warning
from tests.console.conftest import DESKTOP, PHONE, WALL, ConsoleApp, Tab

#: (picture name, user, path); ``{S1}`` is the S1 warning's id
PAGES = [
    ("login", None, "/console/login"),
    ("stations", "officer1", "/console/stations"),
    ("station", "officer1", "/console/stations/S1"),
    ("warnings", "officer1", "/console/warnings"),
    ("warning", "officer1", "/console/warnings/{S2}"),
    ("data", "officer1", "/console/data"),
    ("reports", "officer1", "/console/reports?kind=sales&group_by=product&period=1d"),
    ("reports-tax", "admin", "/console/reports?kind=tax"),
    ("wall", "admin", "/console/wall"),
    ("station-portal", "station1", "/console/stations/S1"),
    ("station-warning", "station1", "/console/warnings/{rectify}"),
    ("gateways", "devmgr", "/console/gateways"),
    ("provision", "devmgr", "/console/gateways/provision"),
]


@pytest.fixture(scope="module")
def waiting_for_station(console_app: ConsoleApp) -> int:
    """A warning of S1 whose rectification the station has yet to answer (its reply form)."""
    with console_app.sessions.begin() as session:
        found = upsert_warning(
            session,
            rule_id="delivery.unregistered",
            category="unregistered_delivery",
            severity="critical",
            station="S1",
            subject="tank:2",
            title_zh="S1 2号罐疑似私自收油",
            title_en="S1 tank 2: delivery without a waybill",
            message_zh="2号罐液位上升 6,000 L，无对应电子运单",
            message_en="tank 2 rose 6,000 L with no e-waybill",
            evidence={
                "comparison": {
                    "measured": 6000.0,
                    "expected": 0.0,
                    "threshold": 40.0,
                    "unit": "L",
                    "test": "measured − expected > threshold",
                }
            },
            seen_at=console_app.world.now,
        )
        transition(
            session,
            found.warning,
            Action.REQUEST_RECTIFICATION,
            actor="officer1",
            note="请于3日内提供该次进油的电子运单和收油记录",
        )
        return found.warning.id


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_loads_cleanly(
    console_app: ConsoleApp,
    open_tab: Callable[..., Tab],
    shots: Path,
    waiting_for_station: int,
    size: str,
) -> None:
    tabs: dict[str, Tab] = {}
    timings = []
    for name, user, path in PAGES:
        viewport = PHONE if size == "phone" else WALL if name == "wall" else DESKTOP
        key = f"{user}:{name == 'wall'}"
        if key not in tabs:
            tabs[key] = open_tab(user, viewport)
        tab = tabs[key]
        url = path.format(**console_app.world.warnings, rectify=waiting_for_station)
        assert tab.go(url) == 200, url
        timings.append(
            (
                name,
                tab.page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; }"
                ),
            )
        )
        tab.page.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=name != "wall")
        # keyboard: the first Tab lands on the skip link, which leads to the page's content
        # (the login page puts the cursor in its first field instead)
        tab.page.keyboard.press("Tab")
        focused = tab.page.evaluate(
            "() => document.activeElement.className || document.activeElement.id"
        )
        assert focused == ("password" if name == "login" else "skip"), name
        # nothing sticks out sideways on a phone: wide tables scroll inside their own box
        overflow = tab.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} is {overflow} px wider than the {size} screen"
    for name, ms in timings:
        print(f"{size:8} {name:16} {ms:7.0f} ms")


def test_english_switch(open_tab: Callable[..., Tab]) -> None:
    tab = open_tab("officer1")
    tab.go("/console/warnings")
    assert tab.page.locator("html").get_attribute("lang") == "zh-CN"
    with tab.page.expect_navigation():
        tab.page.click("a.lang")
    assert tab.page.url.endswith("/console/warnings")
    assert tab.page.locator("html").get_attribute("lang") == "en"
    assert tab.page.locator("h1").inner_text() == "Warning inbox"
    with tab.page.expect_navigation():
        tab.page.click("a.lang")
    assert tab.page.locator("h1").inner_text() == "预警收件箱"
