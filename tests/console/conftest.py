"""The console under test: ``fuelwatch cloud api`` as a subprocess (as the demo starts it) on a
seeded registry and a real InfluxDB, and one real headless Chromium from the OS package.

Chromium is Debian's ``/usr/bin/chromium`` (``./fw`` installs it), driven over CDP by
Playwright; no browser is ever downloaded. One app process and one browser serve the whole
package; each test opens its own browser contexts (own cookies) per user.

Every page a test opens is watched: a console error, an uncaught script error, or a request to
any origin but the app's own fails the test when its tab closes.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.stack.process import ManagedProcess, free_port
from tests.console.world import World, password_of, seed_influx, seed_registry, session_start
from tests.support.services import Influx

CHROMIUM = Path(os.environ.get("FUELWATCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
WALL = {"width": 1920, "height": 1080}


@dataclass
class ConsoleApp:
    url: str
    world: World
    sessions: sessionmaker[Session]
    root: Path
    influx_db: str
    process: ManagedProcess

    def api_token(self, user: str) -> dict[str, str]:
        """The API's own login (OAuth2 password flow) for checking what the console did."""
        resp = httpx.post(
            f"{self.url}/api/v1/auth/token",
            data={"username": user, "password": password_of(user)},
            timeout=30,
        )
        resp.raise_for_status()
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="package")
def console_app(tmp_path_factory: pytest.TempPathFactory, influx: Influx) -> Iterator[ConsoleApp]:
    root = tmp_path_factory.mktemp("console")
    registry = f"sqlite:///{root / 'registry.db'}"
    engine = make_engine(registry)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    world = seed_registry(sessions, session_start())
    db = f"console_{uuid.uuid4().hex[:8]}"
    seed_influx(influx.url, db, world)
    (root / "mosquitto.passwd").touch()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        "console",
        [sys.executable, "-m", "fuelwatch.cli", "cloud", "api", "--port", str(port)],
        log_file=root / "api.log",
        ready=lambda: _healthy(url),
        cwd=root,  # no stray .env from the checkout
        env={
            "FUELWATCH_ENVIRONMENT": "test",
            "FUELWATCH_REGISTRY_URL": registry,
            "FUELWATCH_INFLUX_URL": influx.url,
            "FUELWATCH_INFLUX_DB": db,
            "FUELWATCH_API_ATTACHMENTS_DIR": str(root / "attachments"),
            "FUELWATCH_API_MQTT_PASSWORD_FILE": str(root / "mosquitto.passwd"),
        },
    )
    process.start(timeout=60)
    yield ConsoleApp(url, world, sessions, root, db, process)
    process.stop()
    engine.dispose()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``$FUELWATCH_UI_SHOTS`` (``docs/ui`` refreshes the user guide's
    pictures), else a temporary folder."""
    target = os.environ.get("FUELWATCH_UI_SHOTS")
    folder = Path(target) if target else tmp_path_factory.mktemp("ui")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # Package scope, not session: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and the asyncio tests of other packages need it closed.
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: ./fw setup installs Debian's chromium")
    # launch() gives the browser a fresh temporary profile (user-data-dir) of its own
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@dataclass
class Tab:
    """One user's browser context and page, with everything it saw that it should not have."""

    app: ConsoleApp
    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def go(self, path: str) -> int:
        response = self.page.goto(self.app.url + path)
        assert response is not None
        self.page.wait_for_load_state("networkidle")  # parts a page loads after itself
        return response.status

    def login(self, user: str, password: str | None = None) -> None:
        self.go("/console/login")
        self.page.fill("#username", user)
        self.page.fill("#password", password or password_of(user))
        with self.page.expect_navigation():
            self.page.click("form[action='/console/login'] button[type=submit]")

    def expected_failure_seen(self) -> None:
        """The last navigation was meant to fail (404, 403): forget the browser's log line."""
        self.errors.clear()


def _watch(app: ConsoleApp, context: BrowserContext, page: Page, tab: Tab) -> None:
    def on_request(request: Any) -> None:
        url: str = request.url
        if not url.startswith((app.url + "/", "data:", "about:", "blob:")):
            tab.foreign.append(url)

    context.on("request", on_request)
    page.on(
        "console",
        lambda m: tab.errors.append(f"{m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: tab.errors.append(f"uncaught: {e}"))


@pytest.fixture
def open_tab(console_app: ConsoleApp, browser: Browser) -> Iterator[Callable[..., Tab]]:
    """open_tab(user=None, viewport=DESKTOP) -> a logged-in (or anonymous) tab."""
    tabs: list[Tab] = []

    def open_(user: str | None = None, viewport: dict[str, int] | None = None) -> Tab:
        context = browser.new_context(
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            accept_downloads=True,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        page = context.new_page()
        tab = Tab(console_app, context, page)
        _watch(console_app, context, page, tab)
        tabs.append(tab)
        if user is not None:
            tab.login(user)
            assert "/console/login" not in page.url, f"{user} could not log in"
        return tab

    yield open_
    for tab in tabs:
        tab.context.close()
    problems = [(t.errors, t.foreign) for t in tabs if t.errors or t.foreign]
    assert not problems, f"console errors / requests to other origins: {problems}"
