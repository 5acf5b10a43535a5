"""Issue 13 #1: station ids and platform MQTT accounts cannot collide, whatever the role.

The probe created station ``fuelwatch-cloud`` as a district device manager, provisioned a
gateway for it with ``rotate_mqtt_password`` and so took over the cloud service account (and
the CA signed ``CN=fuelwatch-cloud`` for the TLS listener). Every door is checked here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from fuelwatch.cloud.api.app import create_app
from fuelwatch.cloud.common.settings import MqttEndpoint
from fuelwatch.cloud.provisioning.alert_readers import AlertReaderError, set_alert_reader
from fuelwatch.cloud.provisioning.passwords import PasswordFile
from fuelwatch.cloud.provisioning.pki import CertificateAuthority
from fuelwatch.cloud.store.models.registry import Station
from fuelwatch.cloud.store.registry import ensure_station
from fuelwatch.core.wire import TopicError
from tests.api.conftest import ApiEnv, make_settings
from tests.api.world import T0

RESERVED = ["fuelwatch-cloud", "FUELWATCH-cloud", "Fuelwatch-Reader-tax", "fuelwatch-x"]


@pytest.mark.parametrize("station_id", RESERVED)
def test_device_manager_cannot_create_a_station_named_like_a_platform_account(
    api: ApiEnv, station_id: str
) -> None:
    r = api.client.post(
        "/api/v1/stations",
        json={"id": station_id, "district": "d1"},
        headers=api.as_user("devmgr"),
    )
    assert r.status_code == 422, r.text
    with api.sessions() as session:
        assert session.get(Station, station_id) is None


def test_provisioning_refuses_a_reserved_station_left_from_before(
    api: ApiEnv, tmp_path: Path
) -> None:
    # A registry from before the fix may hold such a station: the broker must stay untouched.
    passwd = tmp_path / "passwd"
    accounts = PasswordFile(passwd)
    accounts.set("fuelwatch-cloud", "the-real-cloud-password")
    accounts.save()
    before = passwd.read_bytes()
    with api.sessions.begin() as session:
        session.add(Station(id="fuelwatch-cloud", district_id="d1", name="x", created_at=T0))
    settings = make_settings(str(api.engine.url), tmp_path, mqtt_password_file=passwd)
    with TestClient(create_app(settings, engine=api.engine)) as client:
        headers = api.as_user("devmgr")
        r = client.post(
            "/api/v1/stations/fuelwatch-cloud/gateways",
            json={"gateway": "gw-evil", "rotate_mqtt_password": True},
            headers=headers,
        )
        assert r.status_code == 422, r.text
        r = client.post("/api/v1/stations/fuelwatch-cloud/mqtt-password", headers=headers)
        assert r.status_code == 422, r.text
    assert passwd.read_bytes() == before


def _ca() -> CertificateAuthority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return CertificateAuthority(cert.public_bytes(serialization.Encoding.PEM), key_pem)


@pytest.mark.parametrize("cn", RESERVED)
def test_the_ca_signs_no_platform_account(cn: str) -> None:
    ca = _ca()
    with pytest.raises(TopicError, match="reserved"):
        ca.issue(cn)
    assert ca.issue("BH0001").cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_registry_refuses_reserved_station_ids(api: ApiEnv) -> None:
    with api.sessions.begin() as session, pytest.raises(TopicError, match="reserved"):
        ensure_station(session, district="d1", station="fuelwatch-cloud")


@pytest.mark.parametrize("user", ["tax-binhai", "fuelwatch-cloud", "fuelwatch-reader-"])
def test_alert_readers_live_in_their_own_namespace(tmp_path: Path, user: str) -> None:
    acl = tmp_path / "acl"
    acl.write_text("user fuelwatch-cloud\ntopic read fuel/v1/#\n", encoding="utf-8")
    with pytest.raises(AlertReaderError):
        set_alert_reader(acl, user, ["d1"])
    set_alert_reader(acl, "fuelwatch-reader-tax-binhai", ["d1"])
    assert "user fuelwatch-reader-tax-binhai" in acl.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["BH0001", "fuelwatch-reader-x", "fuelwatch-bridge-x"])
def test_the_cloud_service_account_must_be_a_service_name(name: str) -> None:
    with pytest.raises(ValueError, match="account"):
        MqttEndpoint(username=name)
    assert MqttEndpoint(username="fuelwatch-cloud").username == "fuelwatch-cloud"
