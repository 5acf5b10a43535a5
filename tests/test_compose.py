"""docker-compose.yml without Docker: every fuelwatch command parses in the real CLI, every
mounted repository file exists, every secret is in .env.example, every FUELWATCH_* variable
is a setting, and the services have restart policies and health checks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from fuelwatch.cli import main
from fuelwatch.cloud.alerts.settings import AlertSettings
from fuelwatch.cloud.common.settings import ApiSettings, CloudSettings, MqttEndpoint
from fuelwatch.cloud.grafana.sync.config import GrafanaSettings
from fuelwatch.gateway.settings import load_gateway_config

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OUR_IMAGES = {"fuelwatch:local", "fuelwatch-tools:local"}
OURS = sorted(name for name, s in SERVICES.items() if s.get("image") in OUR_IMAGES)
# Long-running services without a health check, and why.
NO_HEALTHCHECK = {"rules", "alerts"}  # issue 4 specifies no health endpoint for them yet
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[?-][^}]*)?\}")


def _resolve(args: list[str]) -> click.Command:
    """The command ``fuelwatch ARGS`` would run, its options parsed (nothing is run)."""
    command: click.Command = main
    rest = list(args)
    ctx = click.Context(main, info_name="fuelwatch")
    while isinstance(command, click.Group):
        assert rest, f"fuelwatch {' '.join(args)}: names a group, not a command"
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"fuelwatch {' '.join(args)}: no command {name!r}"
        ctx = click.Context(sub, info_name=name, parent=ctx)
        command = sub
    command.make_context(command.name or "", rest, parent=ctx.parent)  # raises on bad options
    return command


@pytest.mark.parametrize("service", OURS)
def test_service_command_exists_in_the_cli(service: str) -> None:
    _resolve(SERVICES[service]["command"])


def test_the_command_check_catches_mistakes() -> None:
    with pytest.raises(AssertionError, match="no command 'ingst'"):
        _resolve(["cloud", "ingst"])
    with pytest.raises(click.NoSuchOption):
        _resolve(["cloud", "ingest", "--clientid", "x"])
    with pytest.raises(click.MissingParameter):
        _resolve(["provision", "--district", "d"])


def _bind_mounts() -> list[tuple[str, str]]:
    out = []
    for name, s in SERVICES.items():
        for v in s.get("volumes", []):
            source = v.split(":", 1)[0]
            if source.startswith("./"):
                out.append((name, source))
    return out


@pytest.mark.parametrize(("service", "source"), _bind_mounts())
def test_mounted_files_exist(service: str, source: str) -> None:
    if source.startswith("./secrets/"):
        # made by the operator, never committed: docs/deploy.md must say how
        deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
        assert source.removeprefix("./") in deploy, f"{source} is not explained in deploy.md"
    else:
        assert (ROOT / source).exists(), f"{service} mounts {source}, which is not in the repo"


def test_every_secret_comes_from_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(VARIABLE.findall(text))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert used == example
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()


def _known_variables() -> set[str]:
    def names(model: type[BaseSettings], prefix: str) -> set[str]:
        out = set()
        for name, field in model.model_fields.items():
            out.add(prefix + name.upper())
            # A nested section (a retry policy) is NAME__FIELD; nested BaseSettings (mqtt, api)
            # read their own prefix instead.
            sub = field.annotation
            nested = isinstance(sub, type) and issubclass(sub, BaseModel)
            if nested and not issubclass(sub, BaseSettings):
                out |= {f"{prefix}{name.upper()}__{f.upper()}" for f in sub.model_fields}
        return out

    return (
        names(CloudSettings, "FUELWATCH_")
        | names(ApiSettings, "FUELWATCH_API_")
        | names(MqttEndpoint, "FUELWATCH_MQTT_")
        | names(GrafanaSettings, "FUELWATCH_GRAFANA_")
        | names(AlertSettings, "FUELWATCH_ALERTS_")
    )


@pytest.mark.parametrize("service", OURS)
def test_fuelwatch_variables_are_settings(service: str) -> None:
    env = SERVICES[service].get("environment", {})
    unknown = sorted(k for k in env if k.startswith("FUELWATCH_") and k not in _known_variables())
    assert unknown == []


def test_retry_variables_in_the_docs_are_the_settings() -> None:
    """docs/deploy.md lists every retry section of the cloud services, and only those."""
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(FUELWATCH_\w+_RETRY)__\*`", doc))
    sections = {v.removesuffix("__CAP") for v in _known_variables() if v.endswith("_RETRY__CAP")}
    assert documented == sections
    assert "FUELWATCH_ALERTS_WEBHOOK_RETRY__MAX_ATTEMPTS" in _known_variables()


def test_services_restart_and_report_health() -> None:
    for name, s in SERVICES.items():
        assert "restart" in s, f"{name} has no restart policy"
        if s["restart"] == "no":
            continue
        if name not in NO_HEALTHCHECK:
            assert "healthcheck" in s, f"{name} runs for good but has no health check"
        for dep, cond in s.get("depends_on", {}).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep}'s health"


def test_ingest_workers_have_stable_distinct_client_ids() -> None:
    workers = {n: s for n, s in SERVICES.items() if s.get("command", [])[:2] == ["cloud", "ingest"]}
    ids = [s["command"][s["command"].index("--client-id") + 1] for s in workers.values()]
    assert sorted(ids) == ["ingest-1", "ingest-2"]
    assert all("deploy" not in s for s in workers.values()), "replicas would get random ids"


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE["volumes"])
    for name, s in SERVICES.items():
        for v in s.get("volumes", []):
            source = v.split(":", 1)[0]
            if not source.startswith(("./", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_grafana_gets_the_provisioning_and_the_dashboards() -> None:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["grafana"]["volumes"]}
    assert mounts["/etc/grafana/provisioning/datasources"] == "./grafana/provisioning/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == "./grafana/provisioning/dashboards"
    assert mounts["/var/lib/grafana/dashboards"] == "./grafana/dashboards"
    env = SERVICES["grafana"]["environment"]
    datasources = (ROOT / "grafana/provisioning/datasources/fuelwatch.yaml").read_text()
    for var in re.findall(r"\$\{([A-Z_]+)\}", datasources):
        assert var in env, f"the datasources read ${var}, which Grafana's environment lacks"


def test_sim_gateway_config_is_valid() -> None:
    config = load_gateway_config(ROOT / "deploy" / "sim" / "gateway.yaml")
    provision = SERVICES["sim-provision"]["command"]
    assert config.station == provision[provision.index("--station") + 1]
    assert config.gateway_id == provision[provision.index("--gateway") + 1]
    out = Path(provision[provision.index("--out") + 1])
    assert config.signing_key == out / "signing.key"
    assert config.mqtt.password_file == out / "mqtt.password"


def test_dockerfile_copies_what_exists_and_extras_are_real() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for line in re.findall(r"^COPY (.+)$", dockerfile, flags=re.MULTILINE):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source
    # every link in src/ and fuelwatch/ must have its folder copied, or the image's package is
    # broken
    copied = set(re.findall(r"^COPY (\S+) \./\1$", dockerfile, flags=re.MULTILINE))
    for link in [*(ROOT / "src").iterdir(), *(ROOT / "fuelwatch").iterdir()]:
        if link.is_symlink():
            assert link.parent.name in copied, f"Dockerfile does not COPY {link.parent.name}"
            assert link.readlink().name in copied, f"Dockerfile does not COPY {link.readlink()}"
    default = re.search(r"^ARG EXTRAS=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert default is not None, "the Dockerfile declares no EXTRAS default"
    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    images = {"Dockerfile": default.group(1)} | {
        name: s["build"].get("args", {}).get("EXTRAS", default.group(1))
        for name, s in SERVICES.items()
        if isinstance(s.get("build"), dict)
    }
    for name, value in images.items():
        wanted = set(value.split(","))
        assert wanted <= extras, f"{name}: unknown extras {wanted - extras}"
        # every image runs server-side commands (the sim profile provisions its gateway too)
        assert "cloud" in wanted, f"{name}: an image without the [cloud] extra"
        # ingest must verify every algorithm a gateway may be provisioned with (SM2: [gm])
        assert "gm" in wanted, f"{name}: an image that cannot verify SM2 (国密) gateways"
    assert "-c constraints.txt" in dockerfile, "the image must install the pinned versions"


def test_grafana_sync_reads_the_mounted_config() -> None:
    s = SERVICES["grafana-sync"]
    target = s["environment"]["FUELWATCH_GRAFANA_SYNC_CONFIG"]
    assert any(v.split(":")[1] == target for v in s["volumes"])
