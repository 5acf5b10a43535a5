"""Keep one flooding station from costing ingest (and so every other station) its time.

A station's account can publish anything under its own topics: random bytes, megabyte
payloads, replays, forged signatures. Each refusal normally costs an evidence row in
InfluxDB (up to 48 KiB of payload) and a forged signature costs a verification over the whole
payload. Both are budgeted per station (the MQTT identity the broker vouches for; the
gateway id inside a payload is not authenticated before the signature holds):

- **evidence**: up to ``evidence_rate`` rejection rows per second per station (bucket of
  ``evidence_burst``); beyond that a refusal is only counted (``shed_<reason>``) and summed up
  in the log every 10 s. Nothing is stored from such a message, nothing is confirmed.
- **verification**: every bad signature takes a token from the station's bucket
  (``bad_signature_rate`` per second, ``bad_signature_burst``); while it is empty, that
  station's messages are not verified at all but shed as ``unverified``. A genuine envelope
  among them is not confirmed, so its gateway sends it again later: delayed, never lost.

Cheap refusals (bad topic, not JSON, unknown key, wrong station, a copy of a stored envelope)
cost microseconds and are never dropped from the counters.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

__all__ = ["Shedder"]

SUMMARY_EVERY = 10.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float

    def take(self, rate: float, burst: float, now: float) -> bool:
        self.tokens = min(burst, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def empty(self, rate: float, burst: float, now: float) -> bool:
        return min(burst, self.tokens + (now - self.at) * rate) < 1.0


class Shedder:
    def __init__(
        self,
        *,
        evidence_rate: float,
        evidence_burst: float,
        bad_signature_rate: float,
        bad_signature_burst: float,
        log: logging.Logger,
    ) -> None:
        self._ev = (evidence_rate, evidence_burst)
        self._sig = (bad_signature_rate, bad_signature_burst)
        self._evidence: dict[str, _Bucket] = {}
        self._signatures: dict[str, _Bucket] = {}
        self._log = log
        self._pending: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._since = time.monotonic()

    def _bucket(self, table: dict[str, _Bucket], key: str, burst: float) -> _Bucket:
        bucket = table.get(key)
        if bucket is None:
            bucket = table[key] = _Bucket(burst, time.monotonic())
        return bucket

    def evidence(self, station: str | None, reason: str) -> bool:
        """May this refusal write its evidence row? If not, it is counted as shed."""
        key = station or "?"
        rate, burst = self._ev
        if self._bucket(self._evidence, key, burst).take(rate, burst, time.monotonic()):
            return True
        self._pending[key][reason] += 1
        return False

    def may_verify(self, station: str) -> bool:
        """False while the station has used up its bad-signature budget."""
        rate, burst = self._sig
        bucket = self._bucket(self._signatures, station, burst)
        if bucket.empty(rate, burst, time.monotonic()):
            self._pending[station]["unverified"] += 1
            return False
        return True

    def bad_signature(self, station: str) -> None:
        rate, burst = self._sig
        self._bucket(self._signatures, station, burst).take(rate, burst, time.monotonic())

    def summarize(self) -> None:
        """Log what was shed since the last summary, per station (at most every 10 s)."""
        now = time.monotonic()
        if now - self._since < SUMMARY_EVERY or not self._pending:
            return
        for station, reasons in sorted(self._pending.items()):
            self._log.warning(
                "station %s: shed %d message(s) in %.0f s without evidence rows (%s); "
                "counted in ingest_stats shed_*",
                station,
                sum(reasons.values()),
                now - self._since,
                ", ".join(f"{r} x{n}" for r, n in reasons.most_common()),
            )
        self._pending.clear()
        self._since = now
