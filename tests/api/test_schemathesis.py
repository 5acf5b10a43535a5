"""Property-based run over the OpenAPI schema: no request, however odd, gets a 5xx.

Runs every operation with generated inputs as the administrator whose duty it is (so the
handlers run rather than stopping at 403: the security administrator for accounts, the audit
administrator for the audit log, the system administrator for the rest) and again with no
credentials at all, on SQLite and PostgreSQL; provisioning has a password file and a CA to
use, supervision a real InfluxDB.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import schemathesis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from fuelwatch.cloud.api.deps import AppState
from tests.api.conftest import ApiEnv
from tests.support.services import Influx

EXAMPLES = 10  # per operation; about 80 operations x 2 backends stay well under two minutes
ANONYMOUS_EXAMPLES = 3  # unauthenticated: the answer is 401 before any handler runs


def _owner(path: str) -> str:
    """The administrator whose duty the operation is (三员分立)."""
    if path.startswith(("/api/v1/users", "/api/v1/api-keys")):
        return "secadmin"
    if path.startswith("/api/v1/audit"):
        return "auditor"
    return "admin"


def _make_ca(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuelwatch test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    crt, pem = folder / "ca.crt", folder / "ca.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt, pem


def _point_at_services(api: ApiEnv, influx: Influx, tmp_path: Path) -> None:
    ca_crt, ca_key = _make_ca(tmp_path)
    api_settings = api.settings.api.model_copy(
        update={
            "mqtt_password_file": tmp_path / "passwd",
            "ca_cert_file": ca_crt,
            "ca_key_file": ca_key,
            "bundle_mqtt_tls_port": 8883,
            "bundle_mqtt_tls_password_port": 8884,
        }
    )
    app_settings = api.settings.model_copy(
        update={"influx_url": influx.url, "influx_db": "schemathesis", "api": api_settings}
    )
    api.app.state.fuelwatch = AppState(settings=app_settings, sessions=api.sessions)


def test_no_server_errors(api: ApiEnv, influx: Influx, tmp_path: Path) -> None:
    _point_at_services(api, influx, tmp_path)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    failures: set[str] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    callers = {name: api.as_user(name) for name in ("admin", "secadmin", "auditor")}

    runs = [(op, callers[_owner(op.path)], EXAMPLES) for op in operations]
    runs += [(op, {}, ANONYMOUS_EXAMPLES) for op in operations]
    for operation, caller, examples in runs:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(headers=caller)  # noqa: B023 - run() is called right below
            try:
                case.validate_response(response, checks=[not_a_server_error])
            except FailureGroup as exc:
                failures.add(f"{exc}"[:1500])

        run()
    assert not failures, "\n\n".join(sorted(failures))
