"""Client certificates for gateways from the project CA (the layout of broker/make-certs.sh).

The certificate's CN is the station id: the broker takes it as the MQTT user name
(``use_identity_as_username``), so the same ACL confines a certificate to its station. The CA
signs only station ids, never a name in the platform namespace (``fuelwatch-...``): a service
account's certificate from this CA would be that service on the TLS listener.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fuelwatch.core.wire.accounts import validate_station_id

__all__ = ["CertificateAuthority", "IssuedCertificate", "PkiError"]


class PkiError(ValueError):
    """The CA cannot be loaded, or a CSR cannot be signed."""


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    cert_pem: bytes
    key_pem: bytes | None  # None when the gateway sent a CSR and keeps its own key
    serial: int
    not_after: dt.datetime


class CertificateAuthority:
    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        try:
            self.cert = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except ValueError as exc:
            raise PkiError(f"cannot load the CA: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise PkiError("the CA key must be EC or RSA")
        self.key = key
        self.cert_pem = cert_pem

    @classmethod
    def from_files(cls, cert_file: Path, key_file: Path) -> CertificateAuthority:
        try:
            return cls(cert_file.read_bytes(), key_file.read_bytes())
        except OSError as exc:
            raise PkiError(f"cannot read the CA files: {exc.strerror}") from exc

    def issue(
        self, common_name: str, *, days: int = 825, csr_pem: bytes | None = None
    ) -> IssuedCertificate:
        """A client certificate for ``common_name``; a new P-256 key unless a CSR is given."""
        validate_station_id(common_name, "certificate common name")
        key_pem: bytes | None = None
        if csr_pem is not None:
            try:
                csr = x509.load_pem_x509_csr(csr_pem)
            except ValueError as exc:
                raise PkiError(f"not a PEM certificate request: {exc}") from exc
            if not csr.is_signature_valid:
                raise PkiError("the certificate request's signature is invalid")
            public_key = csr.public_key()
            if not isinstance(public_key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
                raise PkiError("the certificate request must carry an EC or Ed25519 key")
        else:
            private = ec.generate_private_key(ec.SECP256R1())
            public_key = private.public_key()
            key_pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        now = dt.datetime.now(dt.UTC)
        not_after = now + dt.timedelta(days=days)
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fuelwatch"),
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return IssuedCertificate(
            cert.public_bytes(serialization.Encoding.PEM), key_pem, serial, not_after
        )
