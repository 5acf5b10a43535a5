"""The dashboard files: made by the code, valid for the SDK's models, wired to provisioning."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from fuelwatch.cli import main
from fuelwatch.cloud.grafana.dashboards import DASHBOARDS, differences
from fuelwatch.cloud.grafana.folders import DATASOURCES, FOLDERS
from tests.grafana.runner import DASHBOARD_DIR, ROOT, dashboard_files, panels

PROVISIONING = ROOT / "grafana" / "provisioning"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_committed_files_are_what_the_code_makes() -> None:
    assert differences(DASHBOARD_DIR) == [], "run: fuelwatch grafana build"
    assert {p.relative_to(DASHBOARD_DIR) for p in dashboard_files()} == {d.path for d in DASHBOARDS}


def test_build_check_reports_a_stale_file(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "dashboards"
    assert runner.invoke(main, ["grafana", "build", "--out", str(out)]).exit_code == 0
    ok = runner.invoke(main, ["grafana", "build", "--out", str(out), "--check"])
    assert ok.exit_code == 0, ok.output
    target = out / DASHBOARDS[0].path
    target.write_text(target.read_text(encoding="utf-8").replace("总览", "总 览"))
    (out / "old.json").write_text("{}")
    stale = runner.invoke(main, ["grafana", "build", "--out", str(out), "--check"])
    assert stale.exit_code == 2
    assert str(DASHBOARDS[0].path) in stale.output
    assert "old.json" in stale.output


def _dropped(original: Any, decoded: Any, path: str = "") -> list[str]:
    """Where ``decoded`` lost or changed something of ``original`` (defaults it adds are ok)."""
    if isinstance(original, dict) and isinstance(decoded, dict):
        out: list[str] = []
        for key, value in original.items():
            if key not in decoded:
                out.append(f"{path}/{key} dropped")
            else:
                out += _dropped(value, decoded[key], f"{path}/{key}")
        return out
    if isinstance(original, list) and isinstance(decoded, list):
        if len(original) != len(decoded):
            return [f"{path}: {len(original)} items became {len(decoded)}"]
        return [
            x
            for i, (a, b) in enumerate(zip(original, decoded, strict=True))
            for x in _dropped(a, b, f"{path}[{i}]")
        ]
    return [] if original == decoded else [f"{path}: {original!r} became {decoded!r}"]


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_dashboard_fits_the_sdk_schema(path: Path) -> None:
    """Decoded with the SDK's typed models (panel options by panel type), nothing is lost:
    an option the schema does not know, or a misspelt key, would be dropped."""
    plugins.register_default_plugins()
    original = _load(path)
    decoded = json.loads(json.dumps(Dashboard.from_json(original), cls=JSONEncoder))
    assert _dropped(original, decoded) == []


def test_the_schema_check_catches_an_unknown_option() -> None:
    plugins.register_default_plugins()
    original = _load(dashboard_files()[0])
    next(p for p in original["panels"] if p["type"] == "timeseries").setdefault("options", {})[
        "legnd"
    ] = {}
    decoded = json.loads(json.dumps(Dashboard.from_json(original), cls=JSONEncoder))
    assert any("legnd dropped" in d for d in _dropped(original, decoded))


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_panels_are_labelled_and_wired(path: Path) -> None:
    board = _load(path)
    uids = {d.uid for d in DATASOURCES.values()} | {"__expr__"}
    assert CJK.search(board["title"])
    assert re.search(r"[A-Za-z]{4}", board["description"])
    for panel in panels(board):
        title = panel["title"]
        assert CJK.search(title), f"{title}: titles are Chinese"
        description = panel.get("description", "")
        assert len(re.findall(r"[A-Za-z]{3,}", description)) >= 8, f"{title}: no English text"
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, f"{title} has no query"
        assert len(refs) == len(set(refs)), f"{title}: refIds repeat"
        used: set[str] = set()
        for t in panel["targets"]:
            assert t["datasource"]["uid"] in uids, f"{title}: unknown datasource"
            if t["datasource"]["uid"] == "__expr__":
                named = set(re.findall(r"\$([A-Z])", t["expression"]))
                assert named <= set(refs), f"{title}: {t['expression']} names a missing query"
                used |= named
        hidden = {t["refId"] for t in panel["targets"] if t.get("hide")}
        assert hidden <= used, f"{title}: hidden queries {hidden - used} feed nothing"


def test_dashboard_uids_are_unique() -> None:
    uids = [_load(p)["uid"] for p in dashboard_files()]
    assert len(uids) == len(set(uids))


def test_each_dashboard_folder_has_a_provider_with_the_sync_uid() -> None:
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "fuelwatch.yaml").read_text())[
        "providers"
    ]
    by_uid = {p["folderUid"]: p for p in providers}
    assert set(by_uid) == {f.uid for f in FOLDERS}
    for f in FOLDERS:
        provider = by_uid[f.uid]
        assert provider["folder"] == f.title
        assert provider["options"]["path"] == f"/var/lib/grafana/dashboards/{f.directory}"
        assert (DASHBOARD_DIR / f.directory).is_dir(), f"no dashboards for folder {f.title}"


def test_datasources_are_provisioned_with_the_uids_the_queries_use() -> None:
    provisioned = yaml.safe_load((PROVISIONING / "datasources" / "fuelwatch.yaml").read_text())
    got = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    assert got == {d.uid: d.type for d in DATASOURCES.values()}
    influx = next(d for d in provisioned["datasources"] if d["type"] == "influxdb")
    assert influx["jsonData"]["httpMode"] == "GET"


def test_docs_list_every_dashboard_and_panel() -> None:
    doc = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    missing = [
        f"{board['title']} / {panel['title']}"
        for board in map(_load, dashboard_files())
        for panel in panels(board)
        if panel["title"] not in doc
    ] + [board["title"] for board in map(_load, dashboard_files()) if board["title"] not in doc]
    assert missing == []
