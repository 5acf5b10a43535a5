"""Per-message checks, in the order that gives the most precise rejection reason cheaply.

``pre`` (microseconds, no cryptography):
1. topic fits the tree                      -> ``bad_topic``
2. payload parses (size, trailer, head)     -> ``too_large`` / ``malformed`` / ``schema``
3. gateway and key are registered, unrevoked -> ``unknown_gateway`` / ``unknown_key`` /
                                               ``revoked_key``
4. topic's station/district is the gateway's -> ``topic_mismatch`` (checked before the
   signature so a valid message copied onto another station's topic is named for what it is)

Then ``service`` recognises a copy of an envelope already handled (its sequence number is
committed) without verifying it, and ``finish`` does the expensive part:
5. signature over topic + body              -> ``bad_signature``
6. records fit the kind's model, strictly   -> ``schema`` (a number as a string, an extra
   attribute, a rid twice in one envelope)
7. sent time not older than the limit, not in the future -> ``stale`` / ``implausible``

Refusals from 5 on are ``verified``: the gateway really sent them, so its sequence number is
committed and the gateway is told (``refused``) - resending would change nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fuelwatch.cloud.ingest.keys import GatewayInfo, KeyStore
from fuelwatch.cloud.ingest.plausibility import Limits, envelope_problem
from fuelwatch.core.mqtt import Message
from fuelwatch.core.records import BaseRecord
from fuelwatch.core.wire import (
    EnvelopeHead,
    Topic,
    TopicError,
    Verifier,
    WireError,
    decode_records,
    parse,
    verify,
)

__all__ = ["Accepted", "Checked", "Checker", "Rejected"]


@dataclass(slots=True)
class Checked:
    """Passed the cheap checks; signature not verified yet."""

    msg: Message
    topic: Topic
    head: EnvelopeHead
    info: GatewayInfo
    verifier: Verifier


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
    info: GatewayInfo | None = None  # set when the signature held (``verified``)

    @property
    def verified(self) -> bool:
        return self.info is not None


class Checker:
    def __init__(self, keys: KeyStore, *, max_sent_age_days: float = 45.0, limits: Limits) -> None:
        self._keys = keys
        self._max_age_ms = int(max_sent_age_days * 86_400_000)
        self.limits = limits

    def pre(self, msg: Message) -> Checked | Rejected:
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
        return Checked(msg, topic, head, info, found.verifier)

    def finish(self, c: Checked) -> Accepted | Rejected:
        msg, topic, head = c.msg, c.topic, c.head
        if not verify(head, msg.topic, c.verifier):
            return Rejected(
                msg, "bad_signature", f"signature by key {head.kid} does not verify", topic, head
            )
        try:
            records = decode_records(topic.kind, head.records)
        except WireError as exc:
            return Rejected(msg, exc.reason, exc.detail, topic, head, c.info)
        now = time.time_ns() // 1_000_000
        age = now - head.sent
        if age > self._max_age_ms:
            return Rejected(
                msg, "stale", f"sent {age / 86_400_000:.1f} days ago", topic, head, c.info
            )
        problem = envelope_problem(head.sent, now_ms=now, limits=self.limits)
        if problem is not None:
            return Rejected(msg, "implausible", problem, topic, head, c.info)
        return Accepted(msg, topic, head, c.info, records)

    def check(self, msg: Message) -> Accepted | Rejected:
        """Both stages at once (no duplicate check)."""
        c = self.pre(msg)
        return c if isinstance(c, Rejected) else self.finish(c)
