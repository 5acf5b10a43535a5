"""Streaming checks fed by ingest: signature failures, offline/silent gateways, sequence gaps,
clock skew. See docs/streaming.md."""

from fuelwatch.cloud.ingest.streaming.checker import StreamingChecker, StreamingStats
from fuelwatch.cloud.ingest.streaming.events import DEVICE_CLOCK_KINDS, AcceptedSeen, RejectedSeen
from fuelwatch.cloud.ingest.streaming.rules import STREAMING_RULES, register_streaming_rules

__all__ = [
    "DEVICE_CLOCK_KINDS",
    "STREAMING_RULES",
    "AcceptedSeen",
    "RejectedSeen",
    "StreamingChecker",
    "StreamingStats",
    "register_streaming_rules",
]
