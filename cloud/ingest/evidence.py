"""What a flush leaves behind besides the points: rejection rows and streaming events."""

from __future__ import annotations

import base64
import time

from fuelwatch.cloud.ingest.checks import Accepted, Rejected
from fuelwatch.cloud.ingest.streaming import (
    DEVICE_CLOCK_KINDS,
    AcceptedSeen,
    RejectedSeen,
    StreamingChecker,
)
from fuelwatch.cloud.store.lineproto import write_line
from fuelwatch.core.records import GatewayStatusRecord

__all__ = ["PAYLOAD_KEEP", "RejectionLines", "tell_streaming"]

PAYLOAD_KEEP = 48 * 1024  # bytes of a rejected payload kept as evidence (field limit is 64 KiB)


class RejectionLines:
    """``rejected`` points with strictly increasing times (a warning refers to one by it)."""

    def __init__(self, worker: str) -> None:
        self._worker = worker
        self._last_ns = 0

    def line(self, r: Rejected, *, records: int | None = None) -> tuple[str, int]:
        now = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = now
        payload = r.msg.payload
        tags = {
            "reason": r.reason,
            "district": r.topic.district if r.topic else None,
            "station": r.topic.station if r.topic else None,
        }
        fields: dict[str, object] = {
            "topic": r.msg.topic[:1024],
            "detail": r.detail[:2048],
            "size": len(payload),
            "gw": r.head.gw[:64] if r.head else None,
            "seq": r.head.seq if r.head else None,
            "kid": r.head.kid[:64] if r.head else None,
            "records": records,
            "payload": base64.b64encode(payload[:PAYLOAD_KEEP]).decode(),
            "truncated": len(payload) > PAYLOAD_KEEP,
            "worker": self._worker,
        }
        return write_line("rejected", tags, fields, now), now


def tell_streaming(
    streaming: StreamingChecker,
    accepted: list[Accepted],
    rejected: list[Rejected],
    samples: list[int | None],
    now_ms: int,
) -> None:
    """Hand what a flush stored to the streaming checker (queue append only)."""
    for a in accepted:
        last = a.records[-1] if a.records else None
        status = last.state if isinstance(last, GatewayStatusRecord) else None
        kind = a.topic.kind.value
        lags = (
            [r.gts - r.ts for r in a.records if r.gts is not None]
            if kind in DEVICE_CLOCK_KINDS
            else []
        )
        streaming.notify(
            AcceptedSeen(
                gw=a.head.gw,
                district=a.topic.district,
                station=a.topic.station,
                seq=a.head.seq,
                boot=a.head.boot,
                sent_ms=a.head.sent,
                received_ms=now_ms,
                kind=kind,
                redelivered=a.msg.dup or a.msg.retain,
                status=status,
                device=a.topic.device,
                device_lag_ms=min(lags) if lags else None,
            )
        )
    for r, sample in zip(rejected, samples, strict=True):
        streaming.notify(
            RejectedSeen(
                reason=r.reason,
                topic=r.msg.topic[:1024],
                district=r.topic.district if r.topic else None,
                station=r.topic.station if r.topic else None,
                gw=r.head.gw[:64] if r.head else None,
                kid=r.head.kid[:64] if r.head else None,
                seq=r.head.seq if r.head else None,
                detail=r.detail[:300],
                received_ms=now_ms,
                sample_ns=sample,
            )
        )
