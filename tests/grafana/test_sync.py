"""``fuelwatch grafana sync``: the planner on a real registry, the apply path over real HTTP
against ``GrafanaStub`` (a local stand-in, not Grafana: see grafana_stub.py)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cli import main
from fuelwatch.cloud.accounts.service import create_user
from fuelwatch.cloud.grafana.folders import FOLDERS
from fuelwatch.cloud.grafana.sync import GrafanaApi, GrafanaApiError, sync
from fuelwatch.cloud.grafana.sync.config import ContactPointConfig, SyncConfig, load_sync_config
from fuelwatch.cloud.grafana.sync.plan import plan
from fuelwatch.cloud.grafana.sync.state import GrafanaState, desired_state, team_name
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.cloud.store.models.accounts import User
from fuelwatch.cloud.store.models.registry import District, Station
from fuelwatch.core.config import ConfigError
from tests.grafana.grafana_stub import ADMIN, GrafanaStub, HttpTransport

CHANGED_HOOK = (
    "~ contact point tax-duty: POST https://duty.example/hook -> POST https://duty.example/v2"
)
HAS_GRAFANA_CLIENT = importlib.util.find_spec("grafana_client") is not None
CONFIG = SyncConfig(
    email_domain="gov.example",
    contact_points=[ContactPointConfig(name="tax-duty", url="https://duty.example/hook")],
)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path}/registry.db")
    upgrade(engine)
    made = make_sessionmaker(engine)
    with made.begin() as s:
        s.add_all([District(id="d1", name="一区"), Station(id="S1", district_id="d1")])
        s.flush()
        for username, department, role, extra in [
            ("zhang.com", "commerce", "officer", {"districts": ["d1"]}),
            ("li.tax", "tax", "supervisor", {"all_districts": True}),
            ("wang.mr", "market_regulation", "viewer", {"districts": ["d1"]}),
            ("zhao.ps", "public_security", "viewer", {"all_districts": True}),
            ("ops", "platform_admin", "system_admin", {}),
            ("feed.tax", "tax", "importer", {"districts": ["d1"]}),
            ("s1.portal", "station", "station", {"station": "S1"}),
        ]:
            create_user(s, username=username, department=department, role=role, **extra)
    yield made
    engine.dispose()


@pytest.fixture
def stub() -> Iterator[GrafanaStub]:
    with GrafanaStub() as g:
        # provisioning already made the overview folder (Grafana's default permissions)
        g.state.add_folder("fw-overview", "总览")
        yield g


@pytest.fixture
def api(stub: GrafanaStub) -> Iterator[GrafanaApi]:
    transport = HttpTransport(stub.url)
    yield GrafanaApi(transport)
    transport.close()


def _desired(sessions: sessionmaker[Session]) -> GrafanaState:
    with sessions() as s:
        return desired_state(s, CONFIG)


def test_desired_state_from_the_registry(sessions: sessionmaker[Session]) -> None:
    d = _desired(sessions)
    assert set(d.users) == {"zhang.com", "li.tax", "wang.mr", "zhao.ps", "ops"}
    assert d.users["li.tax"].email == "li.tax@gov.example"
    assert d.members[team_name("tax")] == {"li.tax"}  # the machine feed is no Grafana user
    assert d.members[team_name("commerce")] == {"zhang.com"}
    assert "fuelwatch-station" not in d.teams
    overview = d.permissions["fw-overview"]
    assert ("team", "fuelwatch-public_security", 1) in overview
    assert ("team", "fuelwatch-platform_admin", 4) in overview
    assert d.permissions["fw-tax"] == {
        ("team", "fuelwatch-tax", 1),
        ("team", "fuelwatch-platform_admin", 4),
    }


def test_plan_against_an_empty_grafana_creates_everything_in_order(
    sessions: sessionmaker[Session],
) -> None:
    changes = plan(_desired(sessions), GrafanaState())
    ops = [c.op for c in changes]
    first = {op: ops.index(op) for op in dict.fromkeys(ops)}
    assert first["create_team"] < first["create_user"] < first["add_member"]
    assert first["create_folder"] < first["set_permissions"]
    assert ops.count("create_folder") == len(FOLDERS)
    assert ops.count("create_user") == 5
    lines = [c.describe() for c in changes]
    assert "+ team fuelwatch-commerce" in lines
    assert "+ member li.tax: to fuelwatch-tax" in lines
    assert "+ contact point tax-duty: https://duty.example/hook" in lines


def test_dry_run_reads_only_and_shows_the_diff(
    sessions: sessionmaker[Session], api: GrafanaApi, stub: GrafanaStub
) -> None:
    changes = sync(sessions, api, CONFIG, dry_run=True)
    assert changes
    assert stub.state.writes() == []
    lines = [c.describe() for c in changes]
    # the provisioned folder exists: not created, but Grafana's default grants are replaced
    assert not any(line.startswith("+ folder fw-overview") for line in lines)
    perm = next(line for line in lines if line.startswith("~ permissions fw-overview"))
    assert "role Viewer View" in perm.split("->")[0]
    assert "role Viewer" not in perm.split("->")[1]


def test_sync_applies_then_has_nothing_to_do(
    sessions: sessionmaker[Session], api: GrafanaApi, stub: GrafanaStub
) -> None:
    made = sync(sessions, api, CONFIG, dry_run=False)
    s = stub.state
    teams = {t["name"]: tid for tid, t in s.teams.items()}
    logins = {u["login"]: uid for uid, u in s.users.items()}
    assert set(teams) == {
        team_name(d)
        for d in (
            "commerce",
            "tax",
            "market_regulation",
            "public_security",
            "emergency",
            "environment",
            "platform_admin",
        )
    }
    assert s.members[teams["fuelwatch-tax"]] == {logins["li.tax"]}
    assert s.users[logins["li.tax"]]["email"] == "li.tax@gov.example"
    assert set(s.folders) == {f.uid for f in FOLDERS}
    assert sorted(s.permissions["fw-tax"], key=lambda i: i["teamId"]) == sorted(
        [
            {"teamId": teams["fuelwatch-tax"], "permission": 1},
            {"teamId": teams["fuelwatch-platform_admin"], "permission": 4},
        ],
        key=lambda i: i["teamId"],
    )
    hooks = [c for c in s.contact_points.values() if c["type"] == "webhook"]
    assert [(h["name"], h["settings"]["url"]) for h in hooks] == [
        ("tax-duty", "https://duty.example/hook")
    ]
    writes = len(s.writes())
    assert writes == len(made)

    assert sync(sessions, api, CONFIG, dry_run=False) == []  # idempotent
    assert len(s.writes()) == writes


def test_registry_changes_reach_grafana(
    sessions: sessionmaker[Session], api: GrafanaApi, stub: GrafanaStub
) -> None:
    sync(sessions, api, CONFIG, dry_run=False)
    with sessions.begin() as s:
        s.scalars(select(User).where(User.username == "wang.mr")).one().disabled = True
        s.scalars(select(User).where(User.username == "zhao.ps")).one().department = "emergency"
    moved = SyncConfig(
        email_domain="gov.example",
        contact_points=[ContactPointConfig(name="tax-duty", url="https://duty.example/v2")],
    )
    changes = sync(sessions, api, moved, dry_run=False)
    assert sorted(c.describe() for c in changes) == sorted(
        [
            "- user wang.mr",
            "- member wang.mr: from fuelwatch-market_regulation",
            "+ member zhao.ps: to fuelwatch-emergency",
            "- member zhao.ps: from fuelwatch-public_security",
            CHANGED_HOOK,
        ]
    )
    wang = next(u for u in stub.state.users.values() if u["login"] == "wang.mr")
    assert wang["isDisabled"] is True
    assert sync(sessions, api, moved, dry_run=False) == []


def test_a_member_added_by_hand_to_a_fuelwatch_team_is_removed(
    sessions: sessionmaker[Session], api: GrafanaApi, stub: GrafanaStub
) -> None:
    sync(sessions, api, CONFIG, dry_run=False)
    tax = next(tid for tid, t in stub.state.teams.items() if t["name"] == "fuelwatch-tax")
    stub.state.members[tax].add(1)  # the Grafana admin
    assert [c.describe() for c in sync(sessions, api, CONFIG, dry_run=False)] == [
        "- member admin: from fuelwatch-tax"
    ]


def test_grafana_refusing_is_a_clear_error(
    sessions: sessionmaker[Session], stub: GrafanaStub
) -> None:
    transport = HttpTransport(stub.url, auth=("admin", "wrong"))
    with pytest.raises(GrafanaApiError, match="401"):
        sync(sessions, GrafanaApi(transport), CONFIG, dry_run=True)
    transport.close()


def test_sync_config_file(tmp_path: Path) -> None:
    path = tmp_path / "sync.yaml"
    path.write_text("contact_points:\n  - name: a\n    url: not-a-url\n")
    with pytest.raises(ConfigError, match="url"):
        load_sync_config(path)
    repo = load_sync_config(Path(__file__).resolve().parents[2] / "grafana" / "sync.yaml")
    assert isinstance(repo, SyncConfig)


def test_cli_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TOKEN", "USER", "PASSWORD"):
        monkeypatch.delenv(f"FUELWATCH_GRAFANA_{var}", raising=False)
    result = CliRunner().invoke(main, ["grafana", "sync", "--dry-run"])
    assert result.exit_code == 2
    assert "FUELWATCH_GRAFANA_USER" in result.output


@pytest.mark.skipif(HAS_GRAFANA_CLIENT, reason="the [grafana] extra is installed")
def test_cli_without_the_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUELWATCH_GRAFANA_TOKEN", "t")
    result = CliRunner().invoke(main, ["grafana", "sync", "--dry-run"])
    assert result.exit_code == 2
    assert "pip install 'fuelwatch[grafana]'" in result.output


@pytest.mark.skipif(not HAS_GRAFANA_CLIENT, reason="needs the [grafana] extra (grafana-client)")
def test_cli_sync_through_grafana_client_against_the_stub(
    sessions: sessionmaker[Session],
    stub: GrafanaStub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The production transport (grafana-client) end to end, with the CLI: dry run, apply,
    then nothing to do. Runs only where the optional extra is installed."""
    monkeypatch.setenv("FUELWATCH_GRAFANA_URL", stub.url)
    monkeypatch.setenv("FUELWATCH_GRAFANA_USER", ADMIN[0])
    monkeypatch.setenv("FUELWATCH_GRAFANA_PASSWORD", ADMIN[1])
    monkeypatch.delenv("FUELWATCH_GRAFANA_TOKEN", raising=False)
    url = str(sessions.kw["bind"].url)
    runner = CliRunner()
    dry = runner.invoke(main, ["grafana", "sync", "--registry-url", url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "+ team fuelwatch-tax" in dry.output
    assert stub.state.writes() == []
    done = runner.invoke(main, ["grafana", "sync", "--registry-url", url])
    assert done.exit_code == 0, done.output
    again = runner.invoke(main, ["grafana", "sync", "--registry-url", url])
    assert "in sync" in again.output, again.output
