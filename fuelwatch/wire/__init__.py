"""The wire protocol shared by gateway and cloud: topics, signed envelopes, keys.

See docs/protocol.md. Both sides import from here and nowhere else.
"""

from fuelwatch.wire.envelope import (
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
    EnvelopeHead,
    WireError,
    decode_records,
    encode,
    encode_records,
    parse,
    record_json,
    verify,
)
from fuelwatch.wire.signing import (
    Algorithm,
    Signer,
    Verifier,
    generate_private_key_pem,
    key_id,
    public_key_pem,
)
from fuelwatch.wire.topics import ROOT, Topic, TopicError, ingest_filter, station_filter

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL_VERSION",
    "ROOT",
    "Algorithm",
    "EnvelopeHead",
    "Signer",
    "Topic",
    "TopicError",
    "Verifier",
    "WireError",
    "decode_records",
    "encode",
    "encode_records",
    "generate_private_key_pem",
    "ingest_filter",
    "key_id",
    "parse",
    "public_key_pem",
    "record_json",
    "station_filter",
    "verify",
]
