"""Ingest's counters: what it received, stored, refused and shed; Prometheus and log views.

``StatsCollector`` reads them at scrape time; ``RateLimitedLog`` keeps a flood of refusals
from flooding the log (each reason at most ``burst`` lines per window, the rest summed up).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from fuelwatch.cloud.ingest.service import IngestService

__all__ = ["IngestStats", "RateLimitedLog", "StatsCollector"]


@dataclass(slots=True)
class IngestStats:
    received: int = 0
    accepted_messages: int = 0
    accepted_records: int = 0
    duplicates: int = 0  # copies of envelopes already handled (broker re-sends, gateway resends)
    resent: int = 0  # of those, copies a gateway sent again (no DUP/RETAIN flag)
    rejected: Counter[str] = field(default_factory=Counter)
    implausible_records: int = 0  # records refused one by one (the rest of the envelope stored)
    shed: Counter[str] = field(
        default_factory=Counter
    )  # refused without an evidence row, by reason
    confirmations: int = 0  # confirmation messages published to gateways
    resend_requests: int = 0  # ranges asked for again (sequence gaps)
    flushes: int = 0
    last_flush_ms: float = 0.0
    # (sent -> stored latency ms, records) since the last stats report
    latencies: list[tuple[int, int]] = field(default_factory=list)

    def latency_percentiles(self) -> dict[str, float]:
        """Record-weighted publish->stored latency percentiles since the last call."""
        samples, self.latencies = sorted(self.latencies), []
        total = sum(n for _, n in samples)
        out: dict[str, float] = {}
        if not total:
            return out
        for name, q in (("latency_p50_ms", 0.50), ("latency_p99_ms", 0.99)):
            target, seen = q * total, 0
            for value, n in samples:
                seen += n
                if seen >= target:
                    out[name] = float(value)
                    break
        out["latency_max_ms"] = float(samples[-1][0])
        return out

    def as_fields(self) -> dict[str, int | float]:
        out: dict[str, int | float] = {
            "received": self.received,
            "accepted_messages": self.accepted_messages,
            "accepted_records": self.accepted_records,
            "duplicates": self.duplicates,
            "resent": self.resent,
            "rejected": sum(self.rejected.values()),
            "implausible_records": self.implausible_records,
            "shed": sum(self.shed.values()),
            "confirmations": self.confirmations,
            "resend_requests": self.resend_requests,
            "flushes": self.flushes,
        }
        out |= {f"rejected_{k}": v for k, v in self.rejected.items()}
        out |= {f"shed_{k}": v for k, v in self.shed.items()}
        return out


class StatsCollector:
    """Prometheus view of a running ingest service's counters (read at scrape time)."""

    def __init__(self, service: IngestService) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        s = self._service.stats
        for name, value, help_text in (
            ("received", s.received, "MQTT messages received"),
            ("accepted_messages", s.accepted_messages, "messages stored"),
            ("accepted_records", s.accepted_records, "records stored"),
            ("duplicates", s.duplicates, "copies of messages already handled"),
            ("resent", s.resent, "copies a gateway sent again (not a broker re-send)"),
            ("implausible_records", s.implausible_records, "records refused as implausible"),
            ("confirmations", s.confirmations, "confirmation messages sent to gateways"),
            ("resend_requests", s.resend_requests, "sequence ranges asked for again"),
            ("flushes", s.flushes, "flushes to InfluxDB"),
            ("influx_retries", self._service.writer.retries, "InfluxDB write retries"),
        ):
            yield CounterMetricFamily(f"fuelwatch_ingest_{name}", help_text, value=value)
        rejected = CounterMetricFamily(
            "fuelwatch_ingest_rejected", "messages rejected, by reason", labels=["reason"]
        )
        for reason, n in sorted(s.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        shed = CounterMetricFamily(
            "fuelwatch_ingest_shed",
            "messages refused without an evidence row (over a station's budget), by reason",
            labels=["reason"],
        )
        for reason, n in sorted(s.shed.items()):
            shed.add_metric([reason], n)
        yield shed
        streaming = self._service.streaming
        if streaming is not None:
            st = streaming.stats
            for name, value, help_text in (
                ("events", st.events, "events handed to the streaming checker"),
                ("overflow", st.overflow, "events not checked: the checker's queue was full"),
                ("raised", st.raised, "warning updates written by streaming checks"),
                ("cleared", st.cleared, "warnings cleared by streaming checks"),
                ("tick_errors", st.tick_errors, "streaming checker rounds that failed"),
            ):
                yield CounterMetricFamily(f"fuelwatch_streaming_{name}", help_text, value=value)
            yield GaugeMetricFamily(
                "fuelwatch_streaming_queued",
                "events waiting for the checker",
                value=streaming.queued,
            )
        yield GaugeMetricFamily(
            "fuelwatch_ingest_pending",
            "messages waiting for a flush",
            value=self._service.pending,
        )
        yield GaugeMetricFamily(
            "fuelwatch_ingest_last_flush_ms", "duration of the last flush", value=s.last_flush_ms
        )
        yield GaugeMetricFamily(
            "fuelwatch_ingest_ready",
            "1 while subscribed",
            value=float(self._service.ready.is_set()),
        )


class RateLimitedLog:
    """At most ``burst`` lines per reason per window; the rest are summed up later."""

    def __init__(self, log: logging.Logger, burst: int = 10, window: float = 10.0) -> None:
        self._log, self._burst, self._window = log, burst, window
        self._count: Counter[str] = Counter()
        self._since = time.monotonic()

    def warn(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._since > self._window:
            for k, n in self._count.items():
                if n > self._burst:
                    self._log.warning(
                        "... %d more '%s' rejection(s) not logged", n - self._burst, k
                    )
            self._count.clear()
            self._since = now
        self._count[key] += 1
        if self._count[key] <= self._burst:
            self._log.warning(msg, *args)
