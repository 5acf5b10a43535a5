"""The signed batch envelope.

A payload is two lines::

    {"v":1,"gw":"gw-1","seq":42,"boot":...,"sent":...,"kid":"9f2c...","records":[...]}
    {"alg":"ed25519","sig":"<base64>"}

The first line is the body; the signature covers ``topic`` and the exact body bytes (see
``fuelwatch.core.wire.signing``), so nothing needs canonical JSON. JSON never contains a raw
newline, so the last ``\\n`` splits body from trailer. Gateways build bodies from the spool's
stored JSON without re-encoding each record; ingest parses once and validates the records
against the model for the topic's kind only after the signature holds.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from fuelwatch.core.records import RECORD_TYPES, BaseRecord, RecordKind
from fuelwatch.core.wire.signing import Algorithm, Signer, Verifier, signed_message

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL_VERSION",
    "EnvelopeHead",
    "Sealed",
    "WireError",
    "assemble",
    "decode_records",
    "encode",
    "encode_records",
    "parse",
    "record_json",
    "seal_records",
    "verify",
]

PROTOCOL_VERSION = 1
MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_RECORDS = 5000


class WireError(ValueError):
    """A payload that cannot be accepted; ``reason`` is the stable rejection code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class EnvelopeHead:
    gw: str
    seq: int
    boot: int
    sent: int
    kid: str
    alg: Algorithm
    signature: bytes
    records: list[Any]
    body: bytes


def record_json(record: BaseRecord) -> bytes:
    """A record as stored in the spool: JSON without ``rid`` and without null attributes."""
    return orjson.dumps(record.model_dump(exclude={"rid"}, exclude_none=True))


@dataclass(frozen=True, slots=True)
class Sealed:
    """A signed envelope in the parts a gateway keeps to resend it byte for byte.

    ``prefix`` is the body up to the records (``{"v":1,...,"kid":"..."``), ``trailer`` the
    signature line; the records in between are rebuilt from the spool (``assemble``).
    """

    prefix: bytes
    trailer: bytes
    payload: bytes


def assemble(prefix: bytes, records: Sequence[tuple[int, bytes]], trailer: bytes) -> bytes:
    """The payload from its parts: the same bytes for the same records, every time."""
    parts: list[bytes] = []
    for rid, rec in records:
        if len(rec) < 3 or rec[:1] != b"{":
            raise ValueError(f"record {rid} is not a JSON object")
        parts.append(b'{"rid":%d,' % rid + rec[1:])
    return prefix + b',"records":[' + b",".join(parts) + b"]}\n" + trailer


def seal_records(
    *,
    topic: str,
    signer: Signer,
    gateway_id: str,
    seq: int,
    boot: int,
    sent: int,
    records: Sequence[tuple[int, bytes]],
) -> Sealed:
    """Sign ``(rid, record_json)`` pairs as the spool holds them; keep the parts."""
    head = orjson.dumps(
        {
            "v": PROTOCOL_VERSION,
            "gw": gateway_id,
            "seq": seq,
            "boot": boot,
            "sent": sent,
            "kid": signer.kid,
        }
    )
    unsigned = assemble(head[:-1], records, b"")
    body = unsigned[:-1]  # without the newline that separates the trailer
    trailer = orjson.dumps(
        {"alg": signer.alg.value, "sig": signer.sign_b64(signed_message(topic, body))}
    )
    return Sealed(prefix=head[:-1], trailer=trailer, payload=unsigned + trailer)


def encode_records(
    *,
    topic: str,
    signer: Signer,
    gateway_id: str,
    seq: int,
    boot: int,
    sent: int,
    records: Sequence[tuple[int, bytes]],
) -> bytes:
    """Build a signed payload from ``(rid, record_json)`` pairs as the spool holds them."""
    return seal_records(
        topic=topic,
        signer=signer,
        gateway_id=gateway_id,
        seq=seq,
        boot=boot,
        sent=sent,
        records=records,
    ).payload


def encode(
    *,
    topic: str,
    signer: Signer,
    gateway_id: str,
    seq: int,
    boot: int,
    sent: int,
    records: Iterable[BaseRecord],
) -> bytes:
    """Build a signed payload from record models (``rid`` taken from each record)."""
    return encode_records(
        topic=topic,
        signer=signer,
        gateway_id=gateway_id,
        seq=seq,
        boot=boot,
        sent=sent,
        records=[(r.rid, record_json(r)) for r in records],
    )


def _require(obj: dict[str, Any], name: str, typ: type) -> Any:
    value = obj.get(name)
    if not isinstance(value, typ) or isinstance(value, bool):
        raise WireError("schema", f"envelope field {name!r} missing or not {typ.__name__}")
    return value


def parse(payload: bytes) -> EnvelopeHead:
    """Split and parse a payload; does not verify the signature."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    if payload.endswith(b"\n"):
        # one line ending after the trailer is tolerated (a client writing lines); the body
        # still ends at the last newline before the trailer
        payload = payload[:-2] if payload.endswith(b"\r\n") else payload[:-1]
    cut = payload.rfind(b"\n")
    if cut <= 0:
        raise WireError("malformed", "no signature trailer (body and trailer lines)")
    body, trailer_raw = payload[:cut], payload[cut + 1 :]
    try:
        trailer = orjson.loads(trailer_raw)
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WireError("malformed", f"not JSON: {exc}") from exc
    if not isinstance(trailer, dict) or not isinstance(obj, dict):
        raise WireError("malformed", "body and trailer must be JSON objects")
    try:
        alg = Algorithm(_require(trailer, "alg", str))
        signature = base64.b64decode(_require(trailer, "sig", str), validate=True)
    except (ValueError, binascii.Error) as exc:
        if isinstance(exc, WireError):
            raise
        raise WireError("malformed", f"bad signature trailer: {exc}") from exc
    if obj.get("v") != PROTOCOL_VERSION:
        raise WireError("schema", f"unsupported protocol version {obj.get('v')!r}")
    records = obj.get("records")
    if not isinstance(records, list) or not records:
        raise WireError("schema", "envelope field 'records' missing or empty")
    if len(records) > MAX_RECORDS:
        raise WireError("too_large", f"{len(records)} records > {MAX_RECORDS}")
    seq = _require(obj, "seq", int)
    if seq < 1:
        raise WireError("schema", f"sequence number {seq} < 1")
    return EnvelopeHead(
        gw=_require(obj, "gw", str),
        seq=seq,
        boot=_require(obj, "boot", int),
        sent=_require(obj, "sent", int),
        kid=_require(obj, "kid", str),
        alg=alg,
        signature=signature,
        records=records,
        body=body,
    )


def verify(head: EnvelopeHead, topic: str, verifier: Verifier) -> bool:
    if head.alg is not verifier.alg:
        return False
    return verifier.verify(signed_message(topic, head.body), head.signature)


# Built on first use: only ingest decodes, and each adapter costs memory the gateway box
# (target <= 50 MB RSS) should not pay for.
_ADAPTERS: dict[RecordKind, TypeAdapter[list[BaseRecord]]] = {}


def _adapter(kind: RecordKind) -> TypeAdapter[list[BaseRecord]]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(list[RECORD_TYPES[kind]])  # type: ignore[valid-type]
    return adapter


def decode_records(kind: RecordKind, raw: list[Any]) -> list[BaseRecord]:
    """Validate the records strictly: a number sent as a string is refused, not coerced.

    A ``rid`` twice in one envelope is refused too: the two records would land on one point.
    """
    try:
        records = _adapter(kind).validate_python(raw, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WireError(
            "schema",
            f"{exc.error_count()} invalid record attribute(s), first at {where}: {first['msg']}",
        ) from exc
    rids = {r.rid for r in records}
    if len(rids) != len(records):
        seen: set[int] = set()
        twice = sorted({r.rid for r in records if r.rid in seen or seen.add(r.rid)})  # type: ignore[func-returns-value]
        raise WireError("schema", f"rid {twice[0]} appears more than once in one envelope")
    return records
