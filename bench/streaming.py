"""Streaming checker costs: per-message cost on ingest's loop, and one round's cost.

Drives ``StreamingChecker`` directly with synthetic events against a fresh SQLite registry of
50 provisioned gateways (no broker, no InfluxDB: the costs measured are the checker's own).

    python bench/streaming.py [--events 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuelwatch.cloud.ingest.streaming import AcceptedSeen, RejectedSeen, StreamingChecker  # noqa: E402
from fuelwatch.cloud.provisioning.service import provision_gateway  # noqa: E402
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade  # noqa: E402

GATEWAYS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    n = parser.parse_args().events
    tmp = Path(tempfile.mkdtemp(prefix="fw-bench-streaming-"))
    engine = make_engine(f"sqlite:///{tmp}/registry.db")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    for i in range(GATEWAYS):
        provision_gateway(
            sessions,
            district="d",
            station=f"S{i:03d}",
            gateway=f"gw{i}",
            out_dir=tmp / f"gw{i}",
            password_file=None,
            mqtt_port=1883,
        )
    checker = StreamingChecker(sessions, queue_size=n + 1)
    checker._setup()  # noqa: SLF001 - the bench runs rounds by hand, without an event loop
    now = time.time_ns() // 1_000_000

    t0 = time.perf_counter()
    events = [
        AcceptedSeen(
            gw=f"gw{i % GATEWAYS}",
            district="d",
            station=f"S{i % GATEWAYS:03d}",
            seq=i,
            boot=1,
            sent_ms=now - 50,
            received_ms=now,
            kind="inventory",
            redelivered=False,
        )
        for i in range(n)
    ]
    t1 = time.perf_counter()
    for ev in events:
        checker.notify(ev)
    t2 = time.perf_counter()
    print(f"build event: {(t1 - t0) / n * 1e6:.2f} µs/message, notify: {(t2 - t1) / n * 1e6:.2f}")

    queued = [*events]
    t0 = time.perf_counter()
    checker._tick(queued, now)  # noqa: SLF001
    print(f"round over {n} accepted events: {(time.perf_counter() - t0) * 1000:.0f} ms")

    bad = [
        RejectedSeen(
            "bad_signature",
            f"fuel/v1/d/S{i % GATEWAYS:03d}/atg1/inventory",
            "d",
            f"S{i % GATEWAYS:03d}",
            f"gw{i % GATEWAYS}",
            "kid",
            i,
            "does not verify",
            now,
            now * 1_000_000 + i,
        )
        for i in range(n // 10)
    ]
    for label, at in (("opening", now + 10), ("updating", now + 20)):
        t0 = time.perf_counter()
        checker._tick(bad, at)  # noqa: SLF001
        print(
            f"round over {len(bad)} rejections, {label} {GATEWAYS} warnings: "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
