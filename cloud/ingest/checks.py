"""Per-message checks, in the order that gives the most precise rejection reason.

1. topic fits the tree                      -> ``bad_topic``
2. payload parses (size, trailer, head)     -> ``too_large`` / ``malformed`` / ``schema``
3. gateway and key are registered, unrevoked -> ``unknown_gateway`` / ``unknown_key`` /
                                               ``revoked_key``
4. topic's station/district is the gateway's -> ``topic_mismatch`` (checked before the
   signature so a valid message copied onto another station's topic is named for what it is)
5. signature over topic + body              -> ``bad_signature``
6. records fit the kind's model             -> ``schema``
7. sent time not older than the limit       -> ``stale``
Sequence replay (``replayed``) needs shared state and is decided per flush in ``service``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cloud.ingest.keys import GatewayInfo, KeyStore
from fuelwatch.mqtt import Message
from fuelwatch.records import BaseRecord
from fuelwatch.wire import EnvelopeHead, Topic, TopicError, WireError, decode_records, parse, verify

__all__ = ["Accepted", "Checker", "Rejected"]


@dataclass(slots=True)
class Accepted:
    msg: Message
    topic: Topic
    head: EnvelopeHead
    info: GatewayInfo
    records: list[BaseRecord]


@dataclass(slots=True)
class Rejected:
    msg: Message
    reason: str
    detail: str
    topic: Topic | None = None
    head: EnvelopeHead | None = None


class Checker:
    def __init__(self, keys: KeyStore, *, max_sent_age_days: float = 45.0) -> None:
        self._keys = keys
        self._max_age_ms = int(max_sent_age_days * 86_400_000)

    def check(self, msg: Message) -> Accepted | Rejected:
        try:
            topic = Topic.parse(msg.topic)
        except TopicError as exc:
            return Rejected(msg, "bad_topic", str(exc))
        try:
            head = parse(msg.payload)
        except WireError as exc:
            return Rejected(msg, exc.reason, exc.detail, topic)
        found = self._keys.lookup(head.gw, head.kid)
        if found.reason is not None or found.info is None or found.verifier is None:
            return Rejected(
                msg,
                found.reason or "unknown_gateway",
                f"gateway {head.gw!r} key {head.kid!r}",
                topic,
                head,
            )
        info = found.info
        if (topic.station, topic.district) != (info.station, info.district):
            return Rejected(
                msg,
                "topic_mismatch",
                f"gateway {head.gw} belongs to {info.district}/{info.station}, "
                f"message was on {topic.district}/{topic.station}",
                topic,
                head,
            )
        if not verify(head, msg.topic, found.verifier):
            return Rejected(
                msg, "bad_signature", f"signature by key {head.kid} does not verify", topic, head
            )
        try:
            records = decode_records(topic.kind, head.records)
        except WireError as exc:
            return Rejected(msg, exc.reason, exc.detail, topic, head)
        age = time.time_ns() // 1_000_000 - head.sent
        if age > self._max_age_ms:
            return Rejected(msg, "stale", f"sent {age / 86_400_000:.1f} days ago", topic, head)
        return Accepted(msg, topic, head, info, records)
