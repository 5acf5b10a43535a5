"""Issue 13 #2: production refuses placeholder, short and guessable secrets at start.

The probe started the API with ``.env.example``'s JWT placeholder (and MQTT ``change-me``),
forged a token with the placeholder and listed every user.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from fuelwatch.cloud.common.secrets import SecretRule, estimated_bits, secret_problems
from fuelwatch.cloud.common.settings import ApiSettings, CloudSettings, MqttEndpoint

ROOT = Path(__file__).resolve().parents[2]


def _example(name: str) -> str:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    match = re.search(rf"^{name}=(.*)$", text, re.MULTILINE)
    assert match, name
    return match.group(1)


def _settings(**kw: object) -> CloudSettings:
    return CloudSettings(_env_file=None, environment="production", **kw)  # type: ignore[call-arg, arg-type]


STRONG_JWT = secrets.token_urlsafe(32)
STRONG_MQTT = secrets.token_urlsafe(18)


def test_the_env_example_placeholders_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(
            api=ApiSettings(jwt_secret=_example("API_JWT_SECRET")),
            mqtt=MqttEndpoint(password=_example("MQTT_CLOUD_PASSWORD")),
        )
    text = str(caught.value)
    assert "FUELWATCH_API_JWT_SECRET is a placeholder" in text
    assert "FUELWATCH_MQTT_PASSWORD is a placeholder" in text


@pytest.mark.parametrize(
    ("jwt", "expect"),
    [
        ("a" * 40, "guessable"),
        ("abcd1234" * 5, "guessable"),
        ("Fuelwatch2026!" * 3, "guessable"),
    ],
)
def test_short_or_low_entropy_jwt_secrets_are_refused(jwt: str, expect: str) -> None:
    with pytest.raises(ValidationError, match=f"FUELWATCH_API_JWT_SECRET is {expect}"):
        _settings(api=ApiSettings(jwt_secret=jwt), mqtt=MqttEndpoint(password=STRONG_MQTT))


def test_a_short_mqtt_password_is_refused() -> None:
    with pytest.raises(ValidationError, match="FUELWATCH_MQTT_PASSWORD is too short"):
        _settings(api=ApiSettings(jwt_secret=STRONG_JWT), mqtt=MqttEndpoint(password="k7Qz-9xW"))


def test_weak_database_passwords_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(
            api=ApiSettings(jwt_secret=STRONG_JWT),
            mqtt=MqttEndpoint(password=STRONG_MQTT),
            registry_url="postgresql+psycopg://fuelwatch:change-me@db/fuelwatch",
            influx_password="short1",
        )
    problems = [e["msg"] for e in caught.value.errors()]
    assert any("FUELWATCH_REGISTRY_URL is a placeholder" in p for p in problems)
    assert any("FUELWATCH_INFLUX_PASSWORD is too short" in p for p in problems)


def test_random_secrets_pass() -> None:
    settings = _settings(
        api=ApiSettings(jwt_secret=STRONG_JWT),
        mqtt=MqttEndpoint(password=STRONG_MQTT),
        registry_url=f"postgresql+psycopg://fuelwatch:{secrets.token_urlsafe(16)}@db/fuelwatch",
    )
    assert settings.environment == "production"
    assert secret_problems(STRONG_JWT, SecretRule("X", 32, 128)) == []
    assert estimated_bits("a" * 64) == 0.0


def test_the_api_command_stops_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUELWATCH_")} | {
        "FUELWATCH_ENVIRONMENT": "production",
        "FUELWATCH_API_JWT_SECRET": _example("API_JWT_SECRET"),
        "FUELWATCH_MQTT_PASSWORD": "change-me",
        "FUELWATCH_REGISTRY_URL": f"sqlite:///{tmp_path}/r.db",
    }
    done = subprocess.run(
        [sys.executable, "-m", "fuelwatch.cli", "cloud", "api", "--port", "9"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "FUELWATCH_API_JWT_SECRET is a placeholder" in done.stderr
    assert _example("API_JWT_SECRET") not in done.stderr  # the secret is never echoed
