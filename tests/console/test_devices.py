"""A device manager provisions a station's gateway on the console and gets its bundle: the
ZIP holds the gateway's config and secrets, and the registry and the gateway list agree."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

from tests.console.conftest import ConsoleApp, Tab


def test_provision_downloads_the_bundle(
    console_app: ConsoleApp, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab("devmgr")
    tab.go("/console/gateways/provision")
    tab.page.select_option("#p-station", "S3")
    tab.page.fill("#p-gateway", "gw-S3")
    tab.page.fill("#p-desc", "站房机柜")
    with tab.page.expect_download() as download:
        tab.page.click("#form-provision button[type=submit]")
    assert download.value.suggested_filename == "gw-S3-bundle.zip"
    path = tmp_path / "bundle.zip"
    download.value.save_as(path)
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
        names = sorted(z.namelist())
        assert names == [
            "gw-S3/NOTES.txt",
            "gw-S3/gateway.yaml",
            "gw-S3/mqtt.password",
            "gw-S3/signing.key",
        ]
        config = yaml.safe_load(z.read("gw-S3/gateway.yaml"))
        assert z.getinfo("gw-S3/signing.key").external_attr >> 16 == 0o600
        password = z.read("gw-S3/mqtt.password").decode()
    assert config["station"] == "S3"
    assert config["district"] == "d2"
    # the broker's password file got the station's account
    assert (console_app.root / "mosquitto.passwd").read_text().startswith("S3:")
    assert password

    gateway = httpx.get(
        f"{console_app.url}/api/v1/gateways/gw-S3",
        headers=console_app.api_token("admin"),
        timeout=30,
    ).json()
    assert gateway["station"] == "S3"
    assert gateway["description"] == "站房机柜"
    [key] = gateway["keys"]

    tab.go("/console/gateways")
    row = tab.page.locator("tr", has_text="gw-S3")
    assert key["kid"][:12] in row.inner_text()

    # a second gateway id that exists already: the form says why, nothing is downloaded
    tab.go("/console/gateways/provision")
    tab.page.select_option("#p-station", "S3")
    tab.page.fill("#p-gateway", "gw-S3")
    with tab.page.expect_navigation():
        tab.page.click("#form-provision button[type=submit]")
    assert "gw-S3 exists" in tab.page.locator("[role=alert]").inner_text()
    tab.expected_failure_seen()  # the form came back with 409
