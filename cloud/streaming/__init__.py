"""Streaming checks fed by ingest: signature failures, offline/silent gateways, sequence gaps,
clock skew. See docs/streaming.md."""

from cloud.streaming.checker import StreamingChecker, StreamingStats
from cloud.streaming.events import DEVICE_CLOCK_KINDS, AcceptedSeen, RejectedSeen
from cloud.streaming.rules import STREAMING_RULES, register_streaming_rules

__all__ = [
    "DEVICE_CLOCK_KINDS",
    "STREAMING_RULES",
    "AcceptedSeen",
    "RejectedSeen",
    "StreamingChecker",
    "StreamingStats",
    "register_streaming_rules",
]
