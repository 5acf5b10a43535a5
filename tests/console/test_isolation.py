"""A station user sees only its own station: other stations' pages, warnings, attachments and
actions answer 404 from the server, whatever URL is typed, and lists leave them out."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from fuelwatch.cloud.store.models.warnings import Warning_
from tests.console.conftest import ConsoleApp, Tab


def test_station_user_cannot_see_or_reach_another_station(
    console_app: ConsoleApp, open_tab: Callable[..., Tab]
) -> None:
    world = console_app.world
    tab = open_tab("station1")
    own, other = world.warnings["S1"], world.warnings["S3"]

    for path in (
        "/console/stations/S3",
        "/console/stations/S2",
        f"/console/warnings/{other}",
        f"/console/warnings/{other}/attachments/1",
    ):
        assert tab.go(path) == 404, path
        assert "找不到" in tab.page.locator("h1").inner_text()
        assert "S3" not in tab.page.locator("main").inner_text() or path.endswith("S3")
        tab.expected_failure_seen()

    # an action posted straight at another station's warning, with a valid CSRF token
    tab.go(f"/console/warnings/{own}")
    token = tab.page.locator("#form-comment input[name=csrf]").input_value()
    status = tab.page.evaluate(
        """async ([url, token]) => (await fetch(url, {method: 'POST',
              body: new URLSearchParams({csrf: token, body: 'hello'})})).status""",
        [f"/console/warnings/{other}/comment", token],
    )
    assert status == 404
    tab.expected_failure_seen()

    # lists: the station list is its own page, the inbox has only its own warnings
    tab.go("/console/stations")
    assert tab.page.url.endswith("/console/stations/S1")
    tab.go("/console/warnings?state=all")
    ids = tab.page.eval_on_selector_all(
        "main table tbody a[href^='/console/warnings/']",
        "els => els.map(e => e.getAttribute('href'))",
    )
    with console_app.sessions() as session:
        mine = {
            f"/console/warnings/{i}"
            for i in session.scalars(select(Warning_.id).where(Warning_.station_id == "S1"))
        }
    assert f"/console/warnings/{own}" in ids
    assert set(ids) <= mine
    # the station's own page shows its data and nothing of S3's
    tab.go("/console/stations/S1")
    assert "S3-secret" not in tab.page.content()
    tab.go("/console/reports?kind=sales&group_by=station")
    stations = tab.page.eval_on_selector_all(
        "#report tbody tr td:first-child", "els => els.map(e => e.textContent)"
    )
    assert set(stations) == {"S1"}

    # the other station's user is just as confined
    other_tab = open_tab("station3")
    assert other_tab.go("/console/stations/S1") == 404
    other_tab.expected_failure_seen()
    assert other_tab.go(f"/console/warnings/{own}") == 404
    other_tab.expected_failure_seen()
