"""Issue 13 #3, #4, #5 and the password items of #9: lockout and refresh rotation hold under
concurrency, sessions end for access tokens too, passwords have a policy, logins do not tell
whether a user name exists. Every test runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from fuelwatch.cloud.accounts.service import (
    AccountError,
    AuthError,
    TokenPair,
    authenticate,
    issue_tokens,
    refresh_tokens,
    set_password,
)
from fuelwatch.cloud.store.models.accounts import User
from tests.api.conftest import ApiEnv

TOKEN = "/api/v1/auth/token"
GOOD = "Tank-Level 4711 ok"


def _give_password(api: ApiEnv, name: str, password: str = GOOD) -> None:
    with api.sessions.begin() as session:
        user = session.get(User, api.world.user_ids[name])
        assert user is not None
        set_password(session, user, password)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_concurrent_wrong_passwords_check_no_more_than_the_threshold(api: ApiEnv) -> None:
    _give_password(api, "viewer1")
    settings = api.settings.api
    start = threading.Barrier(20)

    def attempt(_: int) -> str:
        start.wait() if _ < 20 else None
        with api.sessions() as session:
            try:
                authenticate(session, "viewer1", "Wrong-guess 123", settings)
            except AuthError as exc:
                session.commit()
                return exc.reason
        return "ok"

    with ThreadPoolExecutor(20) as pool:
        reasons = Counter(pool.map(attempt, range(40)))
    threshold = settings.lockout_threshold
    # exactly `threshold` passwords were checked; every other guess met the lock
    assert reasons == {"bad_password": threshold - 1, "locked_now": 1, "locked": 40 - threshold}
    with api.sessions() as session, pytest.raises(AuthError) as caught:
        authenticate(session, "viewer1", GOOD, settings)
    assert caught.value.reason == "locked"


def test_concurrent_refreshes_with_one_token_yield_one_pair_and_end_the_session(
    api: ApiEnv,
) -> None:
    settings = api.settings.api
    with api.sessions.begin() as session:
        user = session.get(User, api.world.user_ids["officer1"])
        assert user is not None
        first = issue_tokens(session, user, settings)
    start = threading.Barrier(10)

    def refresh(_: int) -> TokenPair | str:
        start.wait()
        with api.sessions() as session:
            try:
                _, pair = refresh_tokens(session, first.refresh_token, settings)
            except AuthError as exc:
                session.commit()
                return exc.reason
            session.commit()
            return pair

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(refresh, range(10)))
    pairs = [r for r in results if isinstance(r, TokenPair)]
    assert len(pairs) == 1
    refused = Counter(r for r in results if isinstance(r, str))
    # the first loser detects the replay and revokes the family; later ones find it revoked
    assert refused["refresh_reuse"] >= 1, refused
    assert refused["refresh_reuse"] + refused["revoked_refresh"] == 9
    # the replay was detected: the one pair issued is dead, refresh and access token alike
    (pair,) = pairs
    r = api.client.post("/api/v1/auth/refresh", json={"refresh_token": pair.refresh_token})
    assert r.status_code == 401
    assert api.client.get("/api/v1/auth/me", headers=_bearer(pair.access_token)).status_code == 401
    assert api.client.get("/api/v1/auth/me", headers=_bearer(first.access_token)).status_code == 401


def test_logout_ends_the_access_token_too(api: ApiEnv) -> None:
    _give_password(api, "super1")
    tokens = api.client.post(TOKEN, data={"username": "super1", "password": GOOD}).json()
    headers = _bearer(tokens["access_token"])
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    r = api.client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=headers
    )
    assert r.status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_a_replayed_refresh_token_ends_the_sessions_access_tokens(api: ApiEnv) -> None:
    _give_password(api, "officer2")
    tokens = api.client.post(TOKEN, data={"username": "officer2", "password": GOOD}).json()
    refreshed = api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ).json()
    headers = _bearer(refreshed["access_token"])
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    replay = api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert replay.status_code == 401
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_a_locked_account_answers_like_an_unknown_name(api: ApiEnv) -> None:
    _give_password(api, "viewer1")
    answers = {}
    for name in ("viewer1", "no-such-user"):
        for _ in range(api.settings.api.lockout_threshold + 1):
            r = api.client.post(TOKEN, data={"username": name, "password": "Wrong-guess 123"})
        answers[name] = (r.status_code, r.json())
    assert answers["viewer1"] == answers["no-such-user"]


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-1A", "at least 12"),
        ("alllowercaseletters", "mix at least 3"),
        ("Super1-Pass-2026", "user name"),  # the user is super1
    ],
)
def test_the_password_policy(api: ApiEnv, password: str, rule: str) -> None:
    uid = api.world.user_ids["super1"]
    r = api.client.post(
        f"/api/v1/users/{uid}/password",
        json={"password": password},
        headers=api.as_user("secadmin"),
    )
    assert r.status_code == 422, r.text
    assert rule in r.text or r.json()["detail"][0]["type"] == "string_too_short"


def test_a_password_cannot_be_reused(api: ApiEnv) -> None:
    _give_password(api, "super1", "First-Pass 0001")
    _give_password(api, "super1", "Second-Pass 0002")
    with api.sessions.begin() as session:
        user = session.get(User, api.world.user_ids["super1"])
        assert user is not None
        with pytest.raises(AccountError, match="differ"):
            set_password(session, user, "First-Pass 0001")
