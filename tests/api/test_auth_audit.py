"""Logging in, tokens, lockout, API keys, settings guards, and the append-only audit log."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fuelwatch.cloud.accounts.service import set_password
from fuelwatch.cloud.common.settings import ApiSettings, CloudSettings
from fuelwatch.cloud.store.models.accounts import User
from tests.api.conftest import ApiEnv

TOKEN = "/api/v1/auth/token"


def _give_password(api: ApiEnv, name: str, password: str) -> None:
    with api.sessions.begin() as session:
        user = session.get(User, api.world.user_ids[name])
        assert user is not None
        set_password(session, user, password)


def _login(api: ApiEnv, name: str, password: str) -> tuple[int, dict[str, object]]:
    r = api.client.post(TOKEN, data={"username": name, "password": password})
    return r.status_code, r.json()


def test_password_login_refresh_rotation_and_reuse(api: ApiEnv) -> None:
    _give_password(api, "officer1", "correct horse battery")
    code, tokens = _login(api, "officer1", "correct horse battery")
    assert code == 200
    assert tokens["token_type"] == "bearer"
    me = api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert me["username"] == "officer1"
    assert me["districts"] == ["d1"]
    assert "warning.handle" in me["permissions"]
    with api.sessions() as session:
        user = session.get(User, api.world.user_ids["officer1"])
        assert user is not None
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")

    first = tokens["refresh_token"]
    r = api.client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200
    second = r.json()["refresh_token"]
    # the spent token again: refused, and its whole family is revoked
    assert api.client.post("/api/v1/auth/refresh", json={"refresh_token": first}).status_code == 401
    assert (
        api.client.post("/api/v1/auth/refresh", json={"refresh_token": second}).status_code == 401
    )
    # an access token is not a refresh token, and a refresh token is not an access token
    assert (
        api.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}
        ).status_code
        == 401
    )
    assert (
        api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second}"}).status_code
        == 401
    )


def test_lockout_after_repeated_failures(api: ApiEnv) -> None:
    _give_password(api, "viewer1", "The right passw0rd")
    threshold = api.settings.api.lockout_threshold
    for _ in range(threshold):
        assert _login(api, "viewer1", "wrong password!")[0] == 401
    code, body = _login(api, "viewer1", "The right passw0rd")
    assert code == 401
    assert "locked" in str(body["detail"])
    # the security administrator unlocks
    r = api.client.patch(
        f"/api/v1/users/{api.world.user_ids['viewer1']}",
        json={"unlock": True},
        headers=api.as_user("secadmin"),
    )
    assert r.status_code == 200
    assert _login(api, "viewer1", "The right passw0rd")[0] == 200
    # unknown user names and machine accounts get the same answer as a wrong password
    assert _login(api, "nobody", "whatever-password")[1] == _login(api, "viewer1", "nope")[1]
    assert _login(api, "importer2", "whatever-password")[0] == 401


def test_password_change_ends_old_sessions(api: ApiEnv) -> None:
    _give_password(api, "super1", "first password 1")
    _, tokens = _login(api, "super1", "first password 1")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = api.client.post(
        "/api/v1/auth/password",
        json={"current_password": "first password 1", "new_password": "second password 2"},
        headers=headers,
    )
    assert r.status_code == 204
    assert (
        api.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 401
    )
    assert _login(api, "super1", "second password 2")[0] == 200


def test_api_keys_for_machine_clients(api: ApiEnv) -> None:
    admin = api.as_user("secadmin")
    uid = api.world.user_ids["importer2"]
    r = api.client.post(f"/api/v1/users/{uid}/api-keys", json={"name": "nightly"}, headers=admin)
    assert r.status_code == 201
    key = r.json()
    assert key["api_key"].startswith("fwk_")
    headers = {"X-API-Key": key["api_key"]}
    me = api.client.get("/api/v1/auth/me", headers=headers).json()
    assert me["username"] == "importer2"
    assert me["via"] == f"api_key:{key['key_id']}"
    listed = api.client.get(f"/api/v1/users/{uid}/api-keys", headers=admin).json()
    assert "api_key" not in listed[0]
    assert (
        api.client.post(f"/api/v1/api-keys/{key['key_id']}/revoke", headers=admin).status_code
        == 200
    )
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401
    tampered = key["api_key"][:-2] + ("aa" if not key["api_key"].endswith("aa") else "bb")
    assert api.client.get("/api/v1/auth/me", headers={"X-API-Key": tampered}).status_code == 401


def test_default_jwt_secret_is_refused_outside_local_and_test() -> None:
    with pytest.raises(ValidationError, match="FUELWATCH_API_JWT_SECRET"):
        CloudSettings(
            _env_file=None,  # type: ignore[call-arg]
            environment="production",
            mqtt={"password": secrets.token_urlsafe(18)},
        )
    CloudSettings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        mqtt={"password": secrets.token_urlsafe(18)},
        api=ApiSettings(jwt_secret=secrets.token_urlsafe(32)),
    )
    with pytest.raises(ValidationError):
        ApiSettings(jwt_secret="short")


def test_audit_log_records_reads_and_changes_and_is_append_only(api: ApiEnv) -> None:
    officer = api.as_user("officer1")
    api.client.get("/api/v1/stations/S1", headers=officer)
    api.client.get("/api/v1/stations/S3", headers=officer)  # out of scope: 404, still audited
    w = api.world.warnings["S1"]
    api.client.post(f"/api/v1/warnings/{w}/acknowledge", json={"note": "ok"}, headers=officer)
    api.client.post(TOKEN, data={"username": "officer1", "password": "wrong-wrong"})
    api.client.get("/api/v1/stations")  # anonymous

    admin = api.as_user("auditor")
    rows = api.client.get("/api/v1/audit", params={"limit": 50}, headers=admin).json()["items"]
    seen = [(r["actor"], r["method"], r["path"], r["status"], r["action"]) for r in rows]
    assert ("officer1", "GET", "/api/v1/stations/S1", 200, "read") in seen
    assert ("officer1", "GET", "/api/v1/stations/S3", 404, "read") in seen
    assert (
        "officer1",
        "POST",
        f"/api/v1/warnings/{w}/acknowledge",
        200,
        "warning.acknowledge",
    ) in seen
    assert ("officer1", "POST", TOKEN, 401, "login") in seen
    assert ("anonymous", "GET", "/api/v1/stations", 401, "read") in seen
    ack = next(r for r in rows if r["action"] == "warning.acknowledge")
    assert ack["station_id"] == "S1"
    assert ack["resource"] == "warnings"
    assert ack["resource_id"] == str(w)
    assert ack["client_ip"]
    login = next(r for r in rows if r["action"] == "login")
    assert login["detail"]["auth"] == "no_password"
    # filtered by station: only rows about S1
    by_station = api.client.get("/api/v1/audit", params={"station": "S1"}, headers=admin).json()
    assert by_station["total"] >= 2
    assert {r["station_id"] for r in by_station["items"]} == {"S1"}

    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), api.engine.begin() as conn:
            conn.execute(text(statement))
