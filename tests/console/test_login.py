"""Each role logs in to the console, lands on its start page and sees (and reaches) only its
menu; a wrong password and logging out behave as in the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from fuelwatch.cloud.store.models.accounts import RefreshToken
from tests.console.conftest import ConsoleApp, Tab
from tests.console.world import password_of

#: user -> (start page, the menu's links, a page the role may not open)
ROLES: dict[str, tuple[str, list[str], str]] = {
    "admin": (
        "/console/stations",
        [
            "/console/stations",
            "/console/warnings",
            "/console/data",
            "/console/reports",
            "/console/wall",
            "/console/gateways",
            "/console/gateways/provision",
        ],
        "",
    ),
    "devmgr": (
        "/console/gateways",
        ["/console/stations", "/console/gateways", "/console/gateways/provision"],
        "/console/warnings",
    ),
    "super1": (
        "/console/stations",
        [
            "/console/stations",
            "/console/warnings",
            "/console/data",
            "/console/reports",
            "/console/wall",
        ],
        "/console/gateways",
    ),
    "officer1": (
        "/console/stations",
        [
            "/console/stations",
            "/console/warnings",
            "/console/data",
            "/console/reports",
            "/console/wall",
        ],
        "/console/gateways/provision",
    ),
    "viewer1": (
        "/console/stations",
        ["/console/stations", "/console/warnings", "/console/reports", "/console/wall"],
        "/console/data",
    ),
    "importer1": ("/console/data", ["/console/data"], "/console/warnings"),
    "station1": (
        "/console/stations/S1",
        ["/console/stations/S1", "/console/warnings"],
        "/console/data",
    ),
}


@pytest.mark.parametrize("user", list(ROLES))
def test_each_role_logs_in_to_its_own_menu(user: str, open_tab: Callable[..., Tab]) -> None:
    home, menu, forbidden = ROLES[user]
    tab = open_tab(user)
    assert tab.page.url == tab.app.url + home
    links = tab.page.eval_on_selector_all(
        "nav .nav a", "els => els.map(e => e.getAttribute('href'))"
    )
    assert links == menu
    assert tab.page.locator(".who .user").inner_text() == user
    for href in menu:
        assert tab.go(href) == 200, href
    if forbidden:
        assert tab.go(forbidden) == 403
        assert "无权" in tab.page.locator("h1").inner_text()
        tab.expected_failure_seen()


def test_wrong_password_and_anonymous_pages(open_tab: Callable[..., Tab]) -> None:
    tab = open_tab()
    assert tab.go("/console/warnings") == 200  # the login page, remembering where to go
    assert "/console/login?next=%2Fconsole%2Fwarnings" in tab.page.url
    tab.page.fill("#username", "officer1")
    tab.page.fill("#password", "not-the-password")
    with tab.page.expect_navigation():
        tab.page.click("form[action='/console/login'] button[type=submit]")
    assert tab.page.locator("[role=alert]").is_visible()
    tab.expected_failure_seen()  # the 401 of the failed login
    before = {c["name"]: c["value"] for c in tab.context.cookies()}["fw_csrf"]
    tab.page.fill("#password", password_of("officer1"))
    with tab.page.expect_navigation():
        tab.page.click("form[action='/console/login'] button[type=submit]")
    assert tab.page.url == tab.app.url + "/console/warnings"
    after = {c["name"]: c["value"] for c in tab.context.cookies()}["fw_csrf"]
    assert after != before  # a CSRF seed planted before the login is useless after it


def test_logout_revokes_the_session(console_app: ConsoleApp, open_tab: Callable[..., Tab]) -> None:
    tab = open_tab("viewer1")
    cookies = {c["name"]: c for c in tab.context.cookies()}
    assert cookies["fw_access"]["httpOnly"]
    assert cookies["fw_refresh"]["httpOnly"]
    assert cookies["fw_access"]["sameSite"] == "Strict"
    with tab.page.expect_navigation():
        tab.page.click("form[action='/console/logout'] button")
    assert tab.page.url.endswith("/console/login")
    with console_app.sessions() as session:
        latest = session.scalars(
            select(RefreshToken)
            .where(RefreshToken.user_id == console_app.world.user_ids["viewer1"])
            .order_by(RefreshToken.issued_at.desc())
        ).first()
        assert latest is not None
        assert latest.revoked_at is not None
    tab.go("/console/stations")
    assert "/console/login" in tab.page.url


def test_a_form_without_its_csrf_token_is_refused(
    console_app: ConsoleApp, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab("officer1")
    warning = console_app.world.warnings["S1"]
    # a form another site could make: the right cookies ride along, the token does not
    status = tab.page.evaluate(
        """async (url) => (await fetch(url,
              {method: 'POST', body: new URLSearchParams({body: 'x'})})).status""",
        f"/console/warnings/{warning}/comment",
    )
    assert status == 403
    tab.expected_failure_seen()
