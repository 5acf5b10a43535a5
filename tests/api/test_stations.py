"""Stations and their equipment: tanks with strapping tables, dispensers and nozzles, devices."""

from __future__ import annotations

from tests.api.conftest import ApiEnv


def test_station_tanks_and_dispensers(api: ApiEnv) -> None:
    h = api.as_user("devmgr")
    r = api.client.post(
        "/api/v1/stations",
        json={"id": "S9", "district": "d2", "name": "九号站", "latitude": 39.1, "longitude": 117.2},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert (
        api.client.post(
            "/api/v1/stations", json={"id": "S9", "district": "d2"}, headers=h
        ).status_code
        == 409
    )
    assert (
        api.client.post(
            "/api/v1/stations", json={"id": "S8", "district": "dz"}, headers=h
        ).status_code
        == 404
    )
    assert (
        api.client.post(
            "/api/v1/stations", json={"id": "a/b", "district": "d2"}, headers=h
        ).status_code
        == 422
    )

    tank = {
        "product": "92",
        "capacity_l": 30000,
        "strapping": [[0, 0], [1000, 12000], [2500, 30000]],
    }
    r = api.client.put("/api/v1/stations/S9/tanks/1", json=tank, headers=h)
    assert r.status_code == 200, r.text
    bad = tank | {"strapping": [[0, 0], [1000, 12000], [900, 13000]]}
    r = api.client.put("/api/v1/stations/S9/tanks/2", json=bad, headers=h)
    assert r.status_code == 422
    assert "row 2: height and volume must increase strictly" in r.text
    too_big = tank | {"capacity_l": 20000}
    r = api.client.put("/api/v1/stations/S9/tanks/2", json=too_big, headers=h)
    assert r.status_code == 422
    assert "more than the declared capacity" in r.text
    assert api.client.put("/api/v1/stations/S9/tanks/100", json=tank, headers=h).status_code == 422

    disp = {
        "model": "Tatsuno",
        "nozzles": [
            {"nozzle_no": 1, "product": "92", "tank_no": 1},
            {"nozzle_no": 2, "product": "95"},
        ],
    }
    assert (
        api.client.put("/api/v1/stations/S9/dispensers/1", json=disp, headers=h).status_code == 200
    )
    clash = {"nozzles": [{"nozzle_no": 2, "product": "92"}]}
    r = api.client.put("/api/v1/stations/S9/dispensers/2", json=clash, headers=h)
    assert r.status_code == 409
    # re-declaring a dispenser replaces its nozzles (numbers may be reused)
    disp["nozzles"] = [{"nozzle_no": 2, "product": "98"}]
    assert (
        api.client.put("/api/v1/stations/S9/dispensers/1", json=disp, headers=h).status_code == 200
    )
    listed = api.client.get("/api/v1/stations/S9/dispensers", headers=h).json()
    assert listed[0]["nozzles"] == [{"nozzle_no": 2, "product": "98", "tank_no": None}]
    assert api.client.delete("/api/v1/stations/S9/tanks/1", headers=h).status_code == 204
    assert api.client.get("/api/v1/stations/S9/tanks", headers=h).json() == []


def test_devices_are_validated_against_the_gateway_adapters(api: ApiEnv) -> None:
    h = api.as_user("admin")
    from fuelwatch.cloud.store.registry import register_gateway  # noqa: PLC0415

    with api.sessions.begin() as session:
        register_gateway(session, gateway="gw-S1", station="S1")
    types = api.client.get("/api/v1/device-types", headers=h).json()
    assert "simulated_tank_gauge" in {t["type"] for t in types}
    r = api.client.put(
        "/api/v1/gateways/gw-S1/devices/atg1",
        json={"type": "simulated_tank_gauge", "settings": {"tanks": 200}},
        headers=h,
    )
    assert r.status_code == 422
    assert "tanks" in r.text
    r = api.client.put(
        "/api/v1/gateways/gw-S1/devices/atg1", json={"type": "no_such_adapter"}, headers=h
    )
    assert r.status_code == 422
    r = api.client.put(
        "/api/v1/gateways/gw-S1/devices/atg1",
        json={"type": "simulated_tank_gauge", "settings": {"tanks": 3}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    config = api.client.get("/api/v1/gateways/gw-S1/config", headers=h).json()
    assert config["devices"] == [{"type": "simulated_tank_gauge", "id": "atg1", "tanks": 3}]
    assert config["mqtt"]["username"] == "S1"
    # a station user sees its gateway; another station's user does not
    assert (
        api.client.get("/api/v1/gateways/gw-S1", headers=api.as_user("station1")).status_code == 200
    )
    assert (
        api.client.get("/api/v1/gateways/gw-S1", headers=api.as_user("station3")).status_code == 404
    )
