"""Role x scope: each role on its own station/district, another district, another station.

For lists the expectation is the exact set of stations returned (nothing leaks through a
list or a filter); for single rows and actions it is the status code: 403 when the role may
not do it at all, 404 when the row is outside the user's scope (as if it did not exist).
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ApiEnv
from tests.api.world import USERS

ALL = {"S1", "S2", "S3"}
D1 = {"S1", "S2"}
D2 = {"S3"}
SCOPE = {
    "admin": ALL,
    "secadmin": set(),
    "auditor": set(),
    "devmgr": ALL,
    "officer1": D1,
    "officer2": D2,
    "super1": D1,
    "viewer1": D1,
    "importer2": D2,
    "station1": {"S1"},
    "station3": {"S3"},
}
FORBIDDEN = 403

NO_DATA = {"secadmin", "auditor"}  # security and audit administrators see no station data
# list path -> (how to get station ids from the body, users the role forbids)
LISTS: dict[str, tuple[str, set[str]]] = {
    "/api/v1/stations": ("id", NO_DATA),
    "/api/v1/gateways": ("station", NO_DATA),
    "/api/v1/warnings": ("station", {"devmgr", "importer2"} | NO_DATA),
    "/api/v1/department-data/licences": ("station", {"devmgr"} | NO_DATA),
    "/api/v1/supervision/licences": ("station", {"importer2"} | NO_DATA),
}


def _stations(body: Any, key: str) -> set[str]:
    items = body["items"] if isinstance(body, dict) else body
    return {item[key] for item in items}


def _seed_licences(api: ApiEnv) -> None:
    rows = [
        {
            "station": s,
            "kind": "fuel_retail",
            "licence_no": f"L-{s}",
            "valid_from": "2025-01-01",
            "valid_until": "2030-01-01",
        }
        for s in sorted(ALL)
    ]
    r = api.client.post(
        "/api/v1/department-data/licences", json={"rows": rows}, headers=api.as_user("admin")
    )
    assert r.status_code == 200, r.text


def test_lists_show_exactly_the_scope(api: ApiEnv) -> None:
    _seed_licences(api)
    problems = []
    for user in USERS:
        headers = api.as_user(user)
        for path, (key, forbidden) in LISTS.items():
            r = api.client.get(path, headers=headers)
            if user in forbidden:
                if r.status_code != FORBIDDEN:
                    problems.append(f"{user} GET {path}: {r.status_code}, want 403")
                continue
            if r.status_code != 200:
                problems.append(f"{user} GET {path}: {r.status_code} {r.text[:200]}")
                continue
            want = SCOPE[user] if key != "station" or "gateways" not in path else set()
            got = _stations(r.json(), key)
            if got != want:
                problems.append(f"{user} GET {path}: stations {sorted(got)}, want {sorted(want)}")
            # a filter naming rows outside the scope finds nothing (no leak, no error)
            for station in sorted(ALL - SCOPE[user]):
                r = api.client.get(path, params={"station": station}, headers=headers)
                if "supervision" in path or path.endswith("/stations"):
                    r = api.client.get(
                        path,
                        params={"district": "d2" if station == "S3" else "d1"},
                        headers=headers,
                    )
                    leaked = _stations(r.json(), key) - SCOPE[user]
                else:
                    leaked = _stations(r.json(), key)
                if r.status_code != 200 or leaked:
                    problems.append(
                        f"{user} GET {path} filtered to {station}: {r.status_code} {leaked}"
                    )
    assert not problems, "\n".join(problems)


def test_single_rows_outside_scope_are_not_found(api: ApiEnv) -> None:
    problems = []
    for user in USERS:
        headers = api.as_user(user)
        for station in sorted(ALL):
            visible = station in SCOPE[user]
            checks = [(f"/api/v1/stations/{station}", NO_DATA, 200)]
            checks.append(
                (
                    f"/api/v1/warnings/{api.world.warnings[station]}",
                    {"devmgr", "importer2"} | NO_DATA,
                    200,
                )
            )
            checks.append((f"/api/v1/stations/{station}/tanks", NO_DATA, 200))
            for path, forbidden, ok in checks:
                want = FORBIDDEN if user in forbidden else (ok if visible else 404)
                r = api.client.get(path, headers=headers)
                if r.status_code != want:
                    problems.append(f"{user} GET {path}: {r.status_code}, want {want}")
    assert not problems, "\n".join(problems)


ACTIONS: list[tuple[str, str, dict[str, Any], set[str]]] = [
    # (method, path template, body, users whose role allows it)
    (
        "POST",
        "/api/v1/warnings/{w}/acknowledge",
        {"note": "seen"},
        {"admin", "officer1", "officer2", "super1"},
    ),
    ("POST", "/api/v1/warnings/{w}/escalate", {"note": "up"}, {"admin", "super1"}),
    (
        "POST",
        "/api/v1/warnings/{w}/comments",
        {"body": "hello"},
        {"admin", "officer1", "officer2", "super1", "station1", "station3"},
    ),
    ("PATCH", "/api/v1/stations/{s}", {"name": "renamed"}, {"admin", "devmgr"}),
    (
        "PUT",
        "/api/v1/stations/{s}/tanks/1",
        {"product": "92", "capacity_l": 30000},
        {"admin", "devmgr"},
    ),
]


def test_actions_by_role_and_scope(api: ApiEnv) -> None:
    problems = []
    for method, template, body, allowed in ACTIONS:
        for user in USERS:
            headers = api.as_user(user)
            for station in sorted(ALL):
                path = template.format(w=api.world.warnings[station], s=station)
                if user not in allowed:
                    want = FORBIDDEN
                elif station not in SCOPE[user]:
                    want = 404
                else:
                    want = 201 if method == "POST" and path.endswith("comments") else 200
                r = api.client.request(method, path, json=body, headers=headers)
                if r.status_code not in (want, 409 if want == 200 else want):
                    # 409: the warning was already acknowledged by an earlier allowed user
                    problems.append(f"{user} {method} {path}: {r.status_code}, want {want}")
    assert not problems, "\n".join(problems)


def test_admin_only_endpoints(api: ApiEnv) -> None:
    # separation of duties: accounts are the security admin's, the log the auditor's alone
    for user in USERS:
        for path, only in (("/api/v1/audit", "auditor"), ("/api/v1/users", "secadmin")):
            r = api.client.get(path, headers=api.as_user(user))
            want = 200 if user == only else FORBIDDEN
            assert r.status_code == want, (user, path, r.status_code)


def test_department_feeds_by_department_and_scope(api: ApiEnv) -> None:
    row = {
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        "declared_volume_l": 120000,
        "declared_revenue": 950000,
    }
    # commerce does not feed tax declarations
    r = api.client.post(
        "/api/v1/department-data/tax_declarations",
        json={"rows": [row | {"station": "S1"}]},
        headers=api.as_user("officer1"),
    )
    assert r.status_code == 403
    # the tax machine account (API key) feeds its own district only
    r = api.client.post(
        "/api/v1/department-data/tax_declarations",
        json={"rows": [row | {"station": "S3"}, row | {"station": "S1"}]},
        headers=api.as_user("importer2"),
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [{"row": 2, "field": "station", "message": "unknown station S1"}]
    r = api.client.post(
        "/api/v1/department-data/tax_declarations",
        json={"rows": [row | {"station": "S3"}]},
        headers=api.as_user("importer2"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 1


def test_sensitive_fields_are_masked_for_roles_without_the_need(api: ApiEnv) -> None:
    for user, masked in (("officer1", False), ("viewer1", True), ("station1", True)):
        station = api.client.get("/api/v1/stations/S1", headers=api.as_user(user)).json()
        assert (station["contact_phone"] == "139****5678") is masked, user
        assert (station["contact_name"] == "王**") is masked, user
        assert (station["contact_phone"] == "13912345678") is not masked, user
        warning = api.client.get(
            f"/api/v1/warnings/{api.world.warnings['S1']}", headers=api.as_user(user)
        ).json()
        record = warning["evidence"]["records"][0]
        assert (record["vehicle_plate"] == "津A***45") is masked, user
        assert (record["driver_phone"] == "137****1234") is masked, user
        assert warning["evidence"]["loss_l"] == 812.5
