"""A warning's whole life across both portals: the regulator asks for rectification, the
station replies with an attachment, the regulator closes it; the API tells the same story."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.console.conftest import ConsoleApp, Tab


def test_rectification_reply_close(
    console_app: ConsoleApp, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    warning = console_app.world.warnings["S1"]
    photo = tmp_path / "进油单据.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)

    officer = open_tab("officer1")
    officer.go(f"/console/warnings/{warning}")
    assert "待处理" in officer.page.locator("#h-sum + dl").inner_text()
    officer.page.fill("#rect-note", "请说明1号罐液位异常下降原因并提供进油单据")
    officer.page.fill("#rect-due", "2030-01-31")
    with officer.page.expect_navigation():
        officer.page.click("#form-rectify button[type=submit]")
    assert officer.page.locator("[role=status]").is_visible()
    assert "待整改" in officer.page.locator("#h-sum + dl").inner_text()
    # the station's reply form is the station's, not the regulator's
    assert officer.page.locator("#form-respond").count() == 0

    station = open_tab("station1")
    station.go("/console/warnings")
    station.page.click(f"a[href='/console/warnings/{warning}'] >> nth=0")
    station.page.wait_for_url(f"**/console/warnings/{warning}")
    assert (
        "请说明1号罐液位异常下降原因" in station.page.locator("#h-sum").locator("..").inner_text()
    )
    assert station.page.locator("#form-close").count() == 0  # stations do not close warnings
    station.page.fill("#respond-note", "已补录9月进油单据，液位下降为计量误差")
    station.page.set_input_files("#respond-files", str(photo))
    with station.page.expect_navigation():
        station.page.click("#form-respond button[type=submit]")
    assert "站点已反馈" in station.page.locator("#h-sum + dl").inner_text()
    link = station.page.locator("ol.timeline a", has_text="进油单据.png")
    assert link.count() == 1

    officer.go(f"/console/warnings/{warning}")
    assert "站点已反馈" in officer.page.locator("#h-sum + dl").inner_text()
    with officer.page.expect_download() as download:
        officer.page.click("ol.timeline a:has-text('进油单据.png')")
    saved = download.value.path()
    assert saved is not None
    assert Path(saved).read_bytes() == photo.read_bytes()
    officer.page.fill("#close-res", "站点已提供补录的进油单据，核实无误")
    with officer.page.expect_navigation():
        officer.page.click("#form-close button[type=submit]")
    assert "已办结" in officer.page.locator("#h-sum + dl").inner_text()
    assert (
        officer.page.locator("#actions").count() == 0
        or officer.page.locator("#form-close").count() == 0
    )

    # the API, asked with its own login, has the same history
    detail = httpx.get(
        f"{console_app.url}/api/v1/warnings/{warning}",
        headers=console_app.api_token("super1"),
        timeout=30,
    ).json()
    assert detail["state"] == "closed"
    assert detail["resolution"] == "站点已提供补录的进油单据，核实无误"
    actions = [(e["action"], e["actor"]) for e in detail["events"]]
    assert actions[-3:] == [
        ("request_rectification", "officer1"),
        ("respond", "station1"),
        ("close", "officer1"),
    ]
    assert detail["rectification_due"].startswith("2030-01-31T15:59:59")  # 23:59:59 in Beijing
    [attachment] = detail["attachments"]
    assert attachment["filename"] == "进油单据.png"
    assert attachment["uploaded_by"] == "station1"
    assert attachment["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    audit = httpx.get(
        f"{console_app.url}/api/v1/audit",
        params={"resource_id": str(warning), "actor": "station1"},
        headers=console_app.api_token("auditor"),  # the audit log is the auditor's alone
        timeout=30,
    ).json()
    assert any(e["action"] == "warning.respond" for e in audit["items"])
