"""The wire protocol shared by gateway and cloud: topics, signed envelopes, keys.

See docs/protocol.md. Both sides import from here and nowhere else.
"""

from fuelwatch.core.wire.ack import Ack, Refusal, ack_topic, encode_ack, parse_ack, to_ranges
from fuelwatch.core.wire.envelope import (
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
    EnvelopeHead,
    Sealed,
    WireError,
    assemble,
    decode_records,
    encode,
    encode_records,
    parse,
    record_json,
    seal_records,
    verify,
)
from fuelwatch.core.wire.signing import (
    Algorithm,
    Signer,
    Verifier,
    generate_private_key_pem,
    key_id,
    public_key_pem,
)
from fuelwatch.core.wire.topics import ROOT, Topic, TopicError, ingest_filter, station_filter

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL_VERSION",
    "ROOT",
    "Ack",
    "Algorithm",
    "EnvelopeHead",
    "Refusal",
    "Sealed",
    "Signer",
    "Topic",
    "TopicError",
    "Verifier",
    "WireError",
    "ack_topic",
    "assemble",
    "decode_records",
    "encode",
    "encode_ack",
    "encode_records",
    "generate_private_key_pem",
    "ingest_filter",
    "key_id",
    "parse",
    "parse_ack",
    "public_key_pem",
    "record_json",
    "seal_records",
    "station_filter",
    "to_ranges",
    "verify",
]
