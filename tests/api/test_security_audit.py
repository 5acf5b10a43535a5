"""Issue 13 #8: separated administrators, audit rows with before/after values and a caller
even on unmatched paths, a hash chain that shows tampering (``fuelwatch audit verify``)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from sqlalchemy import Engine, select, text

from fuelwatch.cloud.accounts.audit_chain import verify_chain
from fuelwatch.cloud.store.models.audit import AuditEntry
from tests.api.conftest import ApiEnv


def _rows(api: ApiEnv, **params: Any) -> list[dict[str, Any]]:
    r = api.client.get(
        "/api/v1/audit", params={"limit": 200, **params}, headers=api.as_user("auditor")
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_a_change_is_audited_with_its_values_before_and_after(api: ApiEnv) -> None:
    r = api.client.patch(
        "/api/v1/stations/S1", json={"name": "renamed"}, headers=api.as_user("admin")
    )
    assert r.status_code == 200, r.text
    (row,) = [x for x in _rows(api) if x["method"] == "PATCH"]
    (change,) = row["detail"]["changes"]
    assert (change["op"], change["table"], change["key"]) == ("update", "stations", "S1")
    assert (change["before"]["name"], change["after"]["name"]) == ("station S1", "renamed")
    assert change["before"]["updated_at"] is None
    assert change["after"]["updated_at"] is not None


def test_account_changes_are_audited_without_secrets(api: ApiEnv) -> None:
    uid = api.world.user_ids["viewer1"]
    sec = api.as_user("secadmin")
    r = api.client.patch(f"/api/v1/users/{uid}", json={"role": "officer"}, headers=sec)
    assert r.status_code == 200, r.text
    r = api.client.post(
        f"/api/v1/users/{uid}/password", json={"password": "Fresh-Start 2026"}, headers=sec
    )
    assert r.status_code == 204, r.text
    rows = {x["method"]: x for x in _rows(api) if x["resource"] == "users"}
    (role_change,) = rows["PATCH"]["detail"]["changes"]
    assert (role_change["before"], role_change["after"]) == (
        {"role": "viewer"},
        {"role": "officer"},
    )
    (password_change,) = rows["POST"]["detail"]["changes"]
    assert password_change["after"]["password_hash"] == "<redacted>"
    assert "argon2" not in str(_rows(api))


def test_calls_to_unmatched_routes_name_the_caller(api: ApiEnv) -> None:
    assert api.client.get("/api/v1/no-such-thing", headers=api.as_user("admin")).status_code == 404
    assert api.client.delete("/api/v1/stations", headers=api.as_user("officer1")).status_code == 405
    got = {(x["path"], x["actor"]) for x in _rows(api)}
    assert ("/api/v1/no-such-thing", "admin") in got
    assert ("/api/v1/stations", "officer1") in got


def test_administrators_are_made_on_the_console_only(api: ApiEnv) -> None:
    sec = api.as_user("secadmin")
    for role in ("audit_admin", "system_admin", "security_admin"):
        r = api.client.post(
            "/api/v1/users",
            json={
                "username": f"new-{role}",
                "password": "Long-enough 2026",
                "department": "platform_admin",
                "role": role,
            },
            headers=sec,
        )
        assert r.status_code == 403, (role, r.text)
    auditor = api.world.user_ids["auditor"]
    for method, path, body in (
        ("POST", f"/api/v1/users/{auditor}/password", {"password": "Taken-Over 2026"}),
        ("PATCH", f"/api/v1/users/{auditor}", {"disabled": True}),
        ("PATCH", f"/api/v1/users/{api.world.user_ids['officer1']}", {"role": "audit_admin"}),
    ):
        r = api.client.request(method, path, json=body, headers=sec)
        assert r.status_code == 403, (path, r.text)


def _tamper(engine: Engine, statement: str) -> None:
    """What a database administrator could do past the triggers."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(statement))
        else:
            for trigger in ("audit_log_no_update", "audit_log_no_delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
            conn.execute(text(statement))


def _verify_cli(api: ApiEnv) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUELWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "fuelwatch.cli", "audit", "verify"],
        env=env | {"FUELWATCH_REGISTRY_URL": api.engine.url.render_as_string(False)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_hash_chain_shows_a_changed_or_deleted_row(api: ApiEnv) -> None:
    for station in ("S1", "S2", "S3"):
        api.client.get(f"/api/v1/stations/{station}", headers=api.as_user("admin"))
    with api.sessions() as session:
        report = verify_chain(session)
        ids = list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
    assert report.ok, report.broken
    assert report.rows == len(ids) == 3
    ok = _verify_cli(api)
    assert ok.returncode == 0, ok.stderr
    assert "audit chain intact: 3 row(s) verified" in ok.stdout

    _tamper(api.engine, f"UPDATE audit_log SET actor = 'someone' WHERE id = {ids[1]}")
    with api.sessions() as session:
        assert verify_chain(session).broken == [
            f"row {ids[1]}: content does not match its hash (changed)"
        ]
    bad = _verify_cli(api)
    assert bad.returncode == 1
    assert f"BROKEN row {ids[1]}" in bad.stderr

    _tamper(api.engine, f"DELETE FROM audit_log WHERE id = {ids[1]}")
    with api.sessions() as session:
        broken = verify_chain(session).broken
    assert broken == [
        f"row {ids[2]}: prev_hash does not match the row before it (a row was deleted or inserted)"
    ]
