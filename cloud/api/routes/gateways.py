"""Gateways: provisioning (identity + MQTT credential + config bundle), signing keys,
devices. Key registration and revocation reach ingest within its key-cache refresh (5 s)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import select

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.deps import (
    Offset,
    Page,
    SessionDep,
    StateDep,
    allow,
    not_found,
    visible_station,
)
from fuelwatch.cloud.common.settings import ApiSettings
from fuelwatch.cloud.provisioning.pki import CertificateAuthority, PkiError
from fuelwatch.cloud.provisioning.service import MqttAccounts, gateway_config, render_config
from fuelwatch.cloud.store.db import paginate
from fuelwatch.cloud.store.models.registry import Device, Gateway, GatewayKey, Station
from fuelwatch.cloud.store.registry import RegistryError, register_gateway, register_key, revoke_key
from fuelwatch.core.devices.catalogue import DEVICE_TYPES, DeviceConfig
from fuelwatch.core.devices.modbus import DEFAULT_PROFILE_DIR
from fuelwatch.core.timeutil import utcnow
from fuelwatch.core.wire import Algorithm, generate_private_key_pem, public_key_pem
from fuelwatch.core.wire.accounts import validate_station_id
from fuelwatch.core.wire.signing import KeyError_

router = APIRouter(tags=["gateways"])
Reader = Annotated[Principal, Depends(allow(Permission.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(allow(Permission.REGISTRY_WRITE))]
Provisioner = Annotated[Principal, Depends(allow(Permission.GATEWAY_PROVISION))]
SEGMENT = r"^[A-Za-z0-9_-]{1,64}$"


class ProvisionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"gateway": "gw-BH0001", "alg": "ed25519", "credential": "tls_password"},
                {
                    "gateway": "gw-BH0001-b",
                    "public_key_pem": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----",
                    "credential": "certificate",
                },
            ]
        }
    )

    gateway: str = Field(pattern=SEGMENT, description="gateway id (a topic segment)")
    alg: Algorithm = Algorithm.ED25519
    public_key_pem: str | None = Field(
        default=None,
        max_length=4096,
        description="the gateway's own public key; omit to have one made (returned once)",
    )
    credential: Literal["tls_password", "certificate", "password"] = Field(
        default="tls_password",
        description="tls_password (default): TLS to the broker, then the station's password; "
        "certificate: TLS with a client certificate from the project CA; password: plain "
        "MQTT, only for a broker on a trusted network",
    )
    mqtt_password: str | None = Field(
        default=None,
        max_length=256,
        description="the station's current MQTT password, when it already has gateways",
    )
    rotate_mqtt_password: bool = Field(
        default=False,
        description="give the station a new MQTT password (its other gateways need it)",
    )
    csr_pem: str | None = Field(
        default=None, max_length=8192, description="certificate request (credential=certificate)"
    )
    description: str = Field(default="", max_length=256)


class BundleOut(BaseModel):
    gateway: str
    station: str
    district: str
    kid: str
    credential: str
    mqtt_username: str
    files: dict[str, str] = Field(
        description="the bundle folder: file name -> content. Secrets appear only here, once."
    )
    broker_reloaded: bool = Field(description="the broker was signalled to reload accounts")
    notes: list[str] = Field(default_factory=list)


class KeyIn(BaseModel):
    alg: Algorithm = Algorithm.ED25519
    public_key_pem: str | None = Field(default=None, max_length=4096)
    revoke_others: bool = Field(
        default=False, description="rotate: revoke the gateway's other keys"
    )


class KeyOut(BaseModel):
    kid: str
    alg: str
    created_at: datetime
    revoked_at: datetime | None
    public_key_pem: str


class KeyCreated(KeyOut):
    private_key_pem: str | None = Field(description="when made here: shown once")


class DeviceIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"type": "simulated_tank_gauge", "settings": {"tanks": 4, "poll_interval": 5}}
            ]
        }
    )

    type: str = Field(max_length=64, description="adapter type (GET /device-types)")
    profile: str | None = Field(
        default=None, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$", description="device profile"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="the adapter's own settings (serial port, host ...)"
    )


class DeviceOut(DeviceIn):
    device_id: str
    gateway: str


class GatewayOut(BaseModel):
    id: str
    station: str
    district: str
    credential: str
    description: str
    created_at: datetime
    keys: list[KeyOut]
    devices: list[DeviceOut]


class PasswordOut(BaseModel):
    station: str
    mqtt_password: str = Field(description="shown once")
    broker_reloaded: bool


class DeviceTypeOut(BaseModel):
    type: str
    summary: str
    settings_schema: dict[str, Any]


def _key_out(key: GatewayKey) -> KeyOut:
    return KeyOut(
        kid=key.kid,
        alg=key.alg,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        public_key_pem=key.public_key_pem,
    )


def _device_out(d: Device) -> DeviceOut:
    return DeviceOut(
        device_id=d.device_id,
        gateway=d.gateway_id,
        type=d.type,
        profile=d.profile,
        settings=d.settings,
    )


def _gateway_out(gw: Gateway) -> GatewayOut:
    return GatewayOut(
        id=gw.id,
        station=gw.station_id,
        district=gw.station.district_id,
        credential=gw.credential,
        description=gw.description,
        created_at=gw.created_at,
        keys=[_key_out(k) for k in sorted(gw.keys, key=lambda k: k.created_at)],
        devices=[_device_out(d) for d in gw.devices],
    )


def _visible_gateway(session: SessionDep, principal: Principal, gateway_id: str) -> Gateway:
    gw = session.get(Gateway, gateway_id)
    if gw is None or not principal.sees(station=gw.station_id, district=gw.station.district_id):
        raise not_found(f"gateway {gateway_id}")
    return gw


def _accounts(api: ApiSettings) -> MqttAccounts:
    if api.mqtt_password_file is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the broker's password file is not configured (FUELWATCH_API_MQTT_PASSWORD_FILE)",
        )
    return MqttAccounts(api.mqtt_password_file, pid_file=api.broker_pid_file)


def _authority(api: ApiSettings) -> CertificateAuthority:
    if api.ca_cert_file is None or api.ca_key_file is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "no project CA configured (FUELWATCH_API_CA_CERT_FILE / _CA_KEY_FILE)",
        )
    try:
        return CertificateAuthority.from_files(api.ca_cert_file, api.ca_key_file)
    except PkiError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc


def _ca_certificate(api: ApiSettings) -> str:
    """The project CA certificate a TLS bundle checks the broker against."""
    if api.ca_cert_file is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "no project CA certificate configured (FUELWATCH_API_CA_CERT_FILE)",
        )
    try:
        return api.ca_cert_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the CA certificate file cannot be read"
        ) from exc


def _unprocessable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def _key_material(alg: Algorithm, public_pem: str | None) -> tuple[bytes, bytes | None]:
    """(public key PEM, private key PEM if made here)."""
    if public_pem is not None:
        return public_pem.encode(), None
    private = generate_private_key_pem(alg)
    return public_key_pem(private), private


@router.get("/gateways", summary="Gateways you can see")
def list_gateways(
    session: SessionDep,
    principal: Reader,
    station: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Page[GatewayOut]:
    stmt = (
        select(Gateway).join(Station).where(principal.row_filter(Station.id, Station.district_id))
    )
    if station is not None:
        stmt = stmt.where(Gateway.station_id == station)
    rows, total = paginate(session, stmt, Gateway.id, limit=limit, offset=offset)
    return Page(items=[_gateway_out(g) for g in rows], total=total, limit=limit, offset=offset)


@router.get("/gateways/{gateway_id}", summary="One gateway with its keys and devices")
def get_gateway(session: SessionDep, principal: Reader, gateway_id: str) -> GatewayOut:
    return _gateway_out(_visible_gateway(session, principal, gateway_id))


@router.post(
    "/stations/{station_id}/gateways",
    status_code=status.HTTP_201_CREATED,
    summary="Provision a gateway: signing key, MQTT credential, config bundle",
)
def provision(
    session: SessionDep,
    state: StateDep,
    principal: Provisioner,
    station_id: str,
    body: ProvisionIn,
) -> BundleOut:
    api = state.settings.api
    station = visible_station(session, principal, station_id)
    # A station registered before platform names were reserved must not reach the broker.
    validate_station_id(station.id)
    if session.get(Gateway, body.gateway) is not None:
        raise RegistryError(f"gateway {body.gateway} exists; rotate its key with POST .../keys")
    try:
        public, private = _key_material(body.alg, body.public_key_pem)
        gw = register_gateway(session, gateway=body.gateway, station=station.id)
        key = register_key(session, gateway=gw.id, public_key_pem=public)
    except KeyError_ as exc:
        raise _unprocessable(f"public_key_pem: {exc}") from exc
    gw.credential, gw.description = body.credential, body.description
    files: dict[str, str] = {}
    notes: list[str] = []
    reloaded = False
    if body.credential == "tls_password" and api.bundle_mqtt_tls_password_port is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "no TLS password port configured for bundles "
            "(FUELWATCH_API_BUNDLE_MQTT_TLS_PASSWORD_PORT); plain MQTT only if asked for "
            "explicitly (credential=password)",
        )
    ca_pem = _ca_certificate(api) if body.credential == "tls_password" else None
    if body.credential == "certificate":
        if api.bundle_mqtt_tls_port is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "no TLS port configured for bundles"
            )
        try:
            issued = _authority(api).issue(
                station.id,
                days=api.client_cert_days,
                csr_pem=body.csr_pem.encode() if body.csr_pem else None,
            )
        except PkiError as exc:
            raise _unprocessable(str(exc)) from exc
        files["client.crt"] = issued.cert_pem.decode()
        files["ca.crt"] = _authority(api).cert_pem.decode()
        if issued.key_pem is not None:
            files["client.key"] = issued.key_pem.decode()
        else:
            notes.append("client.key: use the key of your certificate request")
        port = api.bundle_mqtt_tls_port
    else:
        accounts = _accounts(api)
        if accounts.has(station.id) and not body.rotate_mqtt_password:
            if body.mqtt_password is None:
                raise RegistryError(
                    f"station {station.id} already has an MQTT account: give its password "
                    "(mqtt_password) so this gateway shares it, or set rotate_mqtt_password"
                )
            if not accounts.check(station.id, body.mqtt_password):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "mqtt_password is not the station's")
            password = body.mqtt_password
        else:
            password = secrets.token_urlsafe(18)
            if body.rotate_mqtt_password:
                notes.append("the station's MQTT password changed: update its other gateways")
        session.flush()  # registry rows first: a conflict must not leave a broker account
        reloaded = accounts.set(station.id, password)
        files["mqtt.password"] = password
        port = api.bundle_mqtt_port
        if ca_pem is not None:
            files["ca.crt"] = ca_pem
            port = api.bundle_mqtt_tls_password_port or port
        else:
            notes.append("plain MQTT: the password crosses the network unencrypted")
    if private is not None:
        files["signing.key"] = private.decode()
    else:
        notes.append("signing.key: use the private key of the public key you uploaded")
    config = gateway_config(
        gateway=gw.id,
        district=station.district_id,
        station=station.id,
        mqtt_host=api.bundle_mqtt_host,
        mqtt_port=port,
        devices=[d.config() for d in gw.devices],
        credential=body.credential,
    )
    files["gateway.yaml"] = render_config(config)
    session.commit()
    return BundleOut(
        gateway=gw.id,
        station=station.id,
        district=station.district_id,
        kid=key.kid,
        credential=body.credential,
        mqtt_username=station.id,
        files=files,
        broker_reloaded=reloaded,
        notes=notes,
    )


@router.get("/gateways/{gateway_id}/config", summary="The gateway's current gateway.yaml")
def get_config(
    session: SessionDep, state: StateDep, principal: Reader, gateway_id: str
) -> dict[str, Any]:
    gw = _visible_gateway(session, principal, gateway_id)
    api = state.settings.api
    ports = {
        "certificate": api.bundle_mqtt_tls_port,
        "tls_password": api.bundle_mqtt_tls_password_port,
    }
    return gateway_config(
        gateway=gw.id,
        district=gw.station.district_id,
        station=gw.station_id,
        mqtt_host=api.bundle_mqtt_host,
        mqtt_port=ports.get(gw.credential) or api.bundle_mqtt_port,
        devices=[d.config() for d in gw.devices],
        credential=gw.credential,
    )


@router.post(
    "/gateways/{gateway_id}/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Add a signing key (rotation); optionally revoke the others",
)
def add_key(
    session: SessionDep, principal: Provisioner, gateway_id: str, body: KeyIn
) -> KeyCreated:
    gw = _visible_gateway(session, principal, gateway_id)
    try:
        public, private = _key_material(body.alg, body.public_key_pem)
        key = register_key(session, gateway=gw.id, public_key_pem=public)
    except KeyError_ as exc:
        raise _unprocessable(f"public_key_pem: {exc}") from exc
    if body.revoke_others:
        for other in gw.keys:
            if other.kid != key.kid and other.revoked_at is None:
                other.revoked_at = utcnow()
    session.commit()
    return KeyCreated(
        **_key_out(key).model_dump(), private_key_pem=private.decode() if private else None
    )


@router.post(
    "/gateways/{gateway_id}/keys/{kid}/revoke",
    summary="Revoke a signing key: ingest rejects its messages within seconds",
)
def revoke(session: SessionDep, principal: Provisioner, gateway_id: str, kid: str) -> KeyOut:
    gw = _visible_gateway(session, principal, gateway_id)
    if not any(k.kid == kid for k in gw.keys):
        raise not_found(f"key {kid}")
    key = revoke_key(session, kid=kid)
    session.commit()
    return _key_out(key)


@router.post(
    "/stations/{station_id}/mqtt-password",
    summary="Give the station a new MQTT password (all its password gateways need it)",
)
def rotate_password(
    session: SessionDep, state: StateDep, principal: Provisioner, station_id: str
) -> PasswordOut:
    station = visible_station(session, principal, station_id)
    validate_station_id(station.id)
    password = secrets.token_urlsafe(18)
    reloaded = _accounts(state.settings.api).set(station.id, password)
    return PasswordOut(station=station.id, mqtt_password=password, broker_reloaded=reloaded)


# -- devices ---------------------------------------------------------------------------------


_DEVICE_CONFIG: TypeAdapter[Any] = TypeAdapter(DeviceConfig)


@router.get("/device-types", summary="Device adapter types a gateway can run")
def device_types(_: Reader) -> list[DeviceTypeOut]:
    return [
        DeviceTypeOut(
            type=name, summary=spec.summary, settings_schema=spec.config.model_json_schema()
        )
        for name, spec in sorted(DEVICE_TYPES.items())
    ]


@router.get("/device-profiles", summary="Device profiles shipped in firmware_configs/")
def device_profiles(_: Reader) -> list[str]:
    folder = DEFAULT_PROFILE_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))


@router.put(
    "/gateways/{gateway_id}/devices/{device_id}",
    summary="Add or change a device the gateway reads (validated against its adapter)",
)
def put_device(
    session: SessionDep,
    principal: Writer,
    gateway_id: str,
    device_id: Annotated[str, PathParam(pattern=SEGMENT)],
    body: DeviceIn,
) -> DeviceOut:
    gw = _visible_gateway(session, principal, gateway_id)
    if device_id == gw.id:
        raise _unprocessable("a device id must differ from its gateway's id")
    entry: dict[str, Any] = {**body.settings, "type": body.type, "id": device_id}
    if body.profile:
        entry["profile"] = body.profile
    try:
        _DEVICE_CONFIG.validate_python(entry)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'type'}: {e['msg']}" for e in exc.errors()
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems) from exc
    device = next((d for d in gw.devices if d.device_id == device_id), None)
    if device is None:
        device = Device(gateway_id=gw.id, device_id=device_id, created_at=utcnow())
        gw.devices.append(device)
    settings = {k: v for k, v in body.settings.items() if k not in ("type", "id", "profile")}
    device.type, device.profile, device.settings = body.type, body.profile, settings
    device.updated_at = utcnow()
    session.commit()
    return _device_out(device)


@router.delete(
    "/gateways/{gateway_id}/devices/{device_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a device",
)
def delete_device(session: SessionDep, principal: Writer, gateway_id: str, device_id: str) -> None:
    gw = _visible_gateway(session, principal, gateway_id)
    device = next((d for d in gw.devices if d.device_id == device_id), None)
    if device is None:
        raise not_found(f"device {device_id}")
    gw.devices.remove(device)
    session.commit()
