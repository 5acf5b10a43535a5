"""Administrators are kept on the server console (the API changes none of them): creating
one and resetting its password there, the way a locked-out auditor gets back in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fuelwatch.cloud.store.db import make_engine, upgrade


def _cli(url: str, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUELWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "fuelwatch.cli", "cloud", *args],
        env=env | {"FUELWATCH_REGISTRY_URL": url},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_auditor_is_made_and_reset_on_the_console(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/registry.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    made = _cli(
        url,
        *("create-user", "--username", "auditor", "--department", "platform_admin"),
        *("--role", "audit_admin"),
        stdin="Audit-Trail 2026\nAudit-Trail 2026\n",
    )
    assert made.returncode == 0, made.stderr
    assert "auditor (platform_admin/audit_admin) created" in made.stdout
    weak = _cli(url, "set-password", "--username", "auditor", stdin="short\nshort\n")
    assert weak.returncode != 0
    assert "at least 12" in weak.stderr
    again = _cli(
        url, "set-password", "--username", "auditor", stdin="Audit-Trail 2026\nAudit-Trail 2026\n"
    )
    assert again.returncode != 0
    assert "differ from the last" in again.stderr
    reset = _cli(
        url, "set-password", "--username", "auditor", stdin="New-Audit-Pass 7\nNew-Audit-Pass 7\n"
    )
    assert reset.returncode == 0, reset.stderr
    assert "password of auditor set" in reset.stdout
