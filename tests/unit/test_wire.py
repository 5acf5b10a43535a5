"""The signed envelope: what verifies, and each way a payload is refused."""

from __future__ import annotations

import base64

import orjson
import pytest

from fuelwatch.core import wire
from fuelwatch.core.records import InventoryRecord, RecordKind, TransactionRecord
from fuelwatch.core.wire import Algorithm, Signer, Topic, Verifier, WireError

TOPIC = "fuel/v1/binhai/BH0001/atg1/inventory"
TRAILER = b'\n{"alg":"ed25519","sig":"AA=="}'


def keypair(alg: Algorithm = Algorithm.ED25519) -> tuple[Signer, Verifier]:
    pem = wire.generate_private_key_pem(alg)
    return Signer.from_pem(pem), Verifier.from_pem(wire.public_key_pem(pem))


def reading(rid: int = 7) -> InventoryRecord:
    return InventoryRecord(
        rid=rid,
        ts=1_763_900_000_000,
        tank=1,
        product="92",
        volume=12_345.6,
        height=1500.2,
        temperature=18.5,
    )


def payload(signer: Signer, topic: str = TOPIC, seq: int = 1) -> bytes:
    return wire.encode(
        topic=topic, signer=signer, gateway_id="gw-1", seq=seq, boot=1, sent=2, records=[reading()]
    )


@pytest.mark.parametrize("alg", list(Algorithm))
def test_round_trip_verifies_and_keeps_records(alg: Algorithm) -> None:
    signer, verifier = keypair(alg)
    head = wire.parse(payload(signer))
    assert wire.verify(head, TOPIC, verifier)
    assert (head.gw, head.seq, head.kid, head.alg) == ("gw-1", 1, signer.kid, alg)
    assert wire.decode_records(RecordKind.INVENTORY, head.records) == [reading()]


def test_signature_binds_the_topic() -> None:
    signer, verifier = keypair()
    head = wire.parse(payload(signer))
    assert not wire.verify(head, "fuel/v1/binhai/BH0002/atg1/inventory", verifier)


def test_every_single_byte_change_in_the_body_fails() -> None:
    signer, verifier = keypair()
    data = payload(signer)
    body_len = data.rfind(b"\n")
    for i in range(body_len):
        altered = bytearray(data)
        altered[i] ^= 0x01
        try:
            head = wire.parse(bytes(altered))
        except WireError:
            continue  # no longer parses: refused too
        assert not wire.verify(head, TOPIC, verifier), f"byte {i} change verified"


def test_another_key_fails_and_kid_is_stable() -> None:
    signer, _ = keypair()
    _, other = keypair()
    head = wire.parse(payload(signer))
    assert not wire.verify(head, TOPIC, other)
    assert Signer.from_pem(wire.generate_private_key_pem()).kid != signer.kid
    assert len(signer.kid) == 16


def test_algorithm_mismatch_fails() -> None:
    ed, _ = keypair(Algorithm.ED25519)
    _, p256 = keypair(Algorithm.P256)
    assert not wire.verify(wire.parse(payload(ed)), TOPIC, p256)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json at all", "malformed"),
        (b'{"v":1}', "malformed"),  # no trailer line
        (b'{"v":1}\n{"alg":"rot13","sig":"AA=="}', "malformed"),
        (b'{"v":1}\n{"alg":"ed25519","sig":"***"}', "malformed"),
        (b'[1,2]\n{"alg":"ed25519","sig":"AA=="}', "malformed"),
        (b'{"v":2,"records":[{}]}\n{"alg":"ed25519","sig":"AA=="}', "schema"),
        (
            b'{"v":1,"gw":"g","seq":1,"boot":1,"sent":1,"kid":"k","records":[]}' + TRAILER,
            "schema",
        ),
        (
            b'{"v":1,"gw":"g","seq":0,"boot":1,"sent":1,"kid":"k","records":[{}]}' + TRAILER,
            "schema",
        ),
        (
            b'{"v":1,"gw":7,"seq":1,"boot":1,"sent":1,"kid":"k","records":[{}]}' + TRAILER,
            "schema",
        ),
        (
            b'{"v":1,"gw":"g","seq":true,"boot":1,"sent":1,"kid":"k","records":[{}]}' + TRAILER,
            "schema",
        ),
        (b"x" * (wire.MAX_PAYLOAD_BYTES + 1), "too_large"),
    ],
)
def test_malformed_payloads_name_their_reason(data: bytes, reason: str) -> None:
    with pytest.raises(WireError) as err:
        wire.parse(data)
    assert err.value.reason == reason


def test_record_schema_errors_say_where() -> None:
    with pytest.raises(WireError) as err:
        wire.decode_records(RecordKind.TRANSACTION, [{"ts": 1, "nozzle": "x"}])
    assert err.value.reason == "schema"
    assert "0." in err.value.detail


def test_extra_record_attributes_are_refused() -> None:
    raw = orjson.loads(
        TransactionRecord(
            ts=1,
            nozzle=1,
            product="92",
            order_id="o",
            unit_price=7.5,
            volume=1.0,
            amount=7.5,
            start=0,
            end=1,
        ).model_dump_json()
    )
    raw["secret"] = 1
    with pytest.raises(WireError):
        wire.decode_records(RecordKind.TRANSACTION, [raw])


def test_topic_parse_and_validation() -> None:
    t = Topic.parse(TOPIC)
    assert (t.district, t.station, t.device, t.kind) == (
        "binhai",
        "BH0001",
        "atg1",
        RecordKind.INVENTORY,
    )
    assert str(t) == TOPIC
    for bad in (
        "fuel/v1/a/b/c",
        "fuel/v2/a/b/c/inventory",
        "fuel/v1/a/b/c/bogus",
        "fuel/v1/a b/b/c/inventory",
        "fuel/v1/a/+/c/inventory",
    ):
        with pytest.raises(wire.TopicError):
            Topic.parse(bad)


def test_signature_is_base64_of_raw_signature() -> None:
    signer, _ = keypair()
    trailer = orjson.loads(payload(signer).rsplit(b"\n", 1)[1])
    assert len(base64.b64decode(trailer["sig"])) == 64  # Ed25519
