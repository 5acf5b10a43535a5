"""Streaming checks fed by ingest: signature failures, offline/silent gateways, sequence gaps,
clock skew. See docs/streaming.md."""

from cloud.streaming.checker import StreamingChecker, StreamingStats
from cloud.streaming.events import AcceptedSeen, RejectedSeen
from cloud.streaming.rules import STREAMING_RULES, register_streaming_rules

__all__ = [
    "STREAMING_RULES",
    "AcceptedSeen",
    "RejectedSeen",
    "StreamingChecker",
    "StreamingStats",
    "register_streaming_rules",
]
