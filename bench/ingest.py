"""Ingest benchmark: M gateways -> Mosquitto -> one ingest worker -> InfluxDB, on this machine.

Measures, in one run, on real processes:
  1. raw InfluxDB line-protocol write rate (same point shape and batch size ingest writes);
  2. raw Mosquitto QoS 1 rate (one publisher, one subscriber, payload = a real signed batch);
  3. latency run: M gateway processes offering a fixed load (default 5,000 readings/s) through
     the whole pipeline; publish->stored latency p50/p99 as ingest measures it;
  4. capacity run: M gateways with pre-filled spools drain as fast as they can; end-to-end
     records/s from spool to InfluxDB, and the CPU each process used.
  5. signature verification cost per message for each envelope algorithm (Ed25519, ECDSA
     P-256, SM2/SM3 via Tongsuo), on a real 100-record batch, in ingest's own call
     (``--verify-only`` runs just this part).
Prints the numbers and, with --record, writes them into docs/performance.md.

    python bench/ingest.py [--gateways 10] [--rate 5000] [--duration 30] [--per-gateway 20000]
    python bench/ingest.py --verify-only [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import (  # noqa: E402
    CLOUD_PASSWORD,
    CLOUD_USER,
    cloud_env,
    cpu_seconds,
)
from bench.report import record  # noqa: E402
from fuelwatch.cloud.provisioning.passwords import PasswordFile  # noqa: E402
from fuelwatch.cloud.provisioning.service import provision_gateway  # noqa: E402
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from fuelwatch.cloud.store.lineproto import record_line  # noqa: E402
from fuelwatch.core import wire  # noqa: E402
from fuelwatch.core.records import InventoryRecord  # noqa: E402
from fuelwatch.stack.broker import mosquitto_process, render_broker  # noqa: E402
from fuelwatch.stack.influxdb import influxd_process  # noqa: E402
from fuelwatch.stack.process import ManagedProcess, free_port  # noqa: E402

#: Device times an hour ago: ingest refuses records far older than their gateway's registration.
BASE_TS = time.time_ns() // 1_000_000 - 3_600_000


def reading(i: int) -> InventoryRecord:
    return InventoryRecord(
        rid=i,
        ts=BASE_TS + i % 3_000_000,
        gts=BASE_TS + i % 3_000_000,
        tank=1 + i % 8,
        product="92",
        volume=12_345.6 + i % 100,
        tc_volume=12_300.1,
        ullage=17_000.0,
        height=1_523.4,
        water=2.1,
        temperature=17.85,
        water_volume=3.2,
        status=0,
    )


@dataclass
class Results:
    raw_influx: float = 0.0
    raw_broker_msgs: float = 0.0
    raw_broker_records: float = 0.0
    batch_records: int = 0
    latency_offered: float = 0.0
    latency_achieved: float = 0.0
    latency_p50: float = 0.0
    latency_p99: float = 0.0
    capacity: float = 0.0
    capacity_records: int = 0
    cpu: dict[str, float] = field(default_factory=dict)


def count(url: str, db: str) -> int:
    resp = httpx.post(
        f"{url}/query",
        data={"db": db, "q": 'SELECT count("rid") FROM "tank_inventory"'},
        timeout=30,
    )
    series = resp.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def raw_influx_rate(url: str, points: int = 200_000, batch: int = 5000) -> float:
    httpx.post(f"{url}/query", data={"q": 'CREATE DATABASE "raw"'}, timeout=30)
    lines = [
        record_line(reading(i), district="d", station=f"S{i % 10}", device="atg1")
        for i in range(points)
    ]
    bodies = ["\n".join(lines[i : i + batch]).encode() for i in range(0, points, batch)]
    with httpx.Client(timeout=60) as client:
        start = time.perf_counter()
        for body in bodies:
            resp = client.post(
                f"{url}/write", params={"db": "raw", "precision": "ns"}, content=body
            )
            resp.raise_for_status()
        elapsed = time.perf_counter() - start
    return points / elapsed


def raw_broker_rate(port: int, payload: bytes, messages: int = 20_000) -> float:
    got = 0
    done = threading.Event()
    first: list[float] = []

    def on_message(_c: paho.Client, _u: object, _m: paho.MQTTMessage) -> None:
        nonlocal got
        if not first:
            first.append(time.perf_counter())
        got += 1
        if got >= messages:
            done.set()

    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub", protocol=paho.MQTTv5)
    sub.username_pw_set(CLOUD_USER, CLOUD_PASSWORD)
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("fuel/v1/raw/+/+/+", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=paho.MQTTv5)
    pub.username_pw_set("RAW", "raw")
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    start = time.perf_counter()
    for sent in range(messages):
        # The broker queues at most 1,000 messages per subscriber (broker/mosquitto.conf.tmpl)
        # and drops beyond: keep the publisher within 500 of what the subscriber has.
        while sent - got > 500:
            time.sleep(0.0005)
        pub.publish("fuel/v1/raw/RAW/atg1/inventory", payload, qos=1)
    done.wait(300)
    elapsed = time.perf_counter() - start
    pub.loop_stop()
    sub.loop_stop()
    pub.disconnect()
    sub.disconnect()
    return got / elapsed


def ingest_latency(url: str, db: str, since_ms: int) -> tuple[float, float]:
    q = f'SELECT "latency_p50_ms", "latency_p99_ms" FROM "ingest_stats" WHERE time >= {since_ms}ms'
    resp = httpx.post(f"{url}/query", data={"db": db, "q": q, "epoch": "ms"}, timeout=30)
    series = resp.json()["results"][0].get("series") or []
    rows = [v for s in series for v in s["values"] if v[1] is not None]
    if not rows:
        return float("nan"), float("nan")
    # median of the 2-second p50s; the worst 2-second p99 (conservative)
    return statistics.median(r[1] for r in rows), max(r[2] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateways", type=int, default=10)
    ap.add_argument("--rate", type=float, default=5000.0, help="offered readings/s in total")
    ap.add_argument("--duration", type=float, default=30.0, help="latency run seconds")
    ap.add_argument(
        "--per-gateway",
        type=int,
        default=20_000,
        help="records pre-filled per gateway for the capacity run",
    )
    ap.add_argument("--record", action="store_true", help="write docs/performance.md")
    ap.add_argument(
        "--verify-only", action="store_true", help="only the signature verification costs"
    )
    args = ap.parse_args()
    verify_report = render_verify(verify_costs())
    print(verify_report, flush=True)
    if args.record:
        record("bench/ingest.py signatures", verify_report)
    if args.verify_only:
        return
    res = Results()
    state = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    print(f"state in {state}; {os.cpu_count()} CPU(s)", flush=True)
    influx_http = free_port()
    influx = influxd_process(state / "influx", http_port=influx_http, rpc_port=free_port())
    url = f"http://127.0.0.1:{influx_http}"
    files = render_broker(
        state / "broker", port=free_port(), cloud_user=CLOUD_USER, cloud_password=CLOUD_PASSWORD
    )
    passwd = PasswordFile(files.password_file)
    passwd.set("RAW", "raw")
    passwd.save()
    engine = make_engine(f"sqlite:///{state / 'registry.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    bundles = [
        provision_gateway(
            sessions,
            district="bench",
            station=f"B{i:03d}",
            gateway=f"gw-B{i:03d}",
            out_dir=state / f"gw{i}",
            password_file=files.password_file,
            mqtt_port=files.port,
        )
        for i in range(args.gateways)
    ]
    broker = mosquitto_process(files)
    procs: list[ManagedProcess] = [influx.start(), broker.start()]
    try:
        print("1/4 raw InfluxDB write rate ...", flush=True)
        res.raw_influx = raw_influx_rate(url)
        print(f"    {res.raw_influx:,.0f} points/s (batches of 5,000, one writer)", flush=True)

        res.batch_records = 100
        signer = wire.Signer.from_pem(wire.generate_private_key_pem())
        payload = wire.encode(
            topic="fuel/v1/raw/RAW/atg1/inventory",
            signer=signer,
            gateway_id="gw",
            seq=1,
            boot=1,
            sent=1,
            records=[reading(i) for i in range(res.batch_records)],
        )
        print(f"2/4 raw Mosquitto QoS 1 rate ({len(payload):,} B messages) ...", flush=True)
        res.raw_broker_msgs = raw_broker_rate(files.port, payload)
        res.raw_broker_records = res.raw_broker_msgs * res.batch_records
        print(
            f"    {res.raw_broker_msgs:,.0f} msg/s = {res.raw_broker_records:,.0f} records/s "
            f"at {res.batch_records} records/message",
            flush=True,
        )

        env = cloud_env(
            registry_url=f"sqlite:///{state / 'registry.db'}",
            influx_url=url,
            mqtt_port=files.port,
        )
        cli = [sys.executable, "-m", "fuelwatch.cli", "--log-level", "warning"]
        ingest = ManagedProcess(
            "ingest",
            [*cli, "cloud", "ingest"],
            log_file=state / "ingest.log",
            ready=lambda: True,
            env=env,
        ).start()
        procs.append(ingest)
        time.sleep(2)

        per_gw = args.rate / args.gateways
        tanks = min(99, max(1, int(per_gw // 10)))
        for b in bundles:
            data = yaml.safe_load(b.config_file.read_text())
            data["devices"] = [
                {
                    "type": "simulated_tank_gauge",
                    "id": "atg1",
                    "tanks": tanks,
                    "poll_interval": tanks / per_gw,
                }
            ]
            data["spool"]["synchronous"] = "normal"
            b.config_file.write_text(yaml.safe_dump(data))
        print(
            f"3/4 latency run: {args.gateways} gateways x {per_gw:,.0f} readings/s for "
            f"{args.duration:.0f}s ...",
            flush=True,
        )
        gws = [
            ManagedProcess(
                b.gateway,
                [*cli, "gateway", "run", "-c", str(b.config_file)],
                log_file=state / f"{b.gateway}.log",
                ready=lambda: True,
            ).start()
            for b in bundles
        ]
        time.sleep(5)  # warm-up
        t0_ms = time.time_ns() // 1_000_000
        c0, t0 = count(url, "fuelwatch"), time.perf_counter()
        time.sleep(args.duration)
        c1, t1 = count(url, "fuelwatch"), time.perf_counter()
        res.latency_offered = args.rate
        res.latency_achieved = (c1 - c0) / (t1 - t0)
        time.sleep(2.5)
        res.latency_p50, res.latency_p99 = ingest_latency(url, "fuelwatch", t0_ms)
        print(
            f"    stored {res.latency_achieved:,.0f} readings/s; publish->stored latency "
            f"p50 {res.latency_p50:.0f} ms, p99 {res.latency_p99:.0f} ms",
            flush=True,
        )
        for g in gws:
            g.stop()

        print(
            f"4/4 capacity run: {args.gateways} stations x {args.per_gateway:,} records as "
            "pre-signed envelopes, published as fast as the broker takes them; ingest stores "
            "and confirms them ...",
            flush=True,
        )
        envelope_files = write_envelopes(state, bundles, args.per_gateway)
        base = count(url, "fuelwatch")
        target = base + args.gateways * args.per_gateway
        replay = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "replay.py"), str(files.port)]
            + [str(f) for f in envelope_files]
        )
        now, t_first, cpu0 = base, 0.0, {}
        t_start = time.perf_counter()
        while now < target and time.perf_counter() - t_start < 600:
            time.sleep(0.2)
            now = count(url, "fuelwatch")
            if not t_first and now > base:
                t_first = time.perf_counter()
                cpu0 = {
                    "ingest": cpu_seconds(ingest.pid),
                    "influxd": cpu_seconds(influx.pid),
                    "mosquitto": cpu_seconds(broker.pid),
                    "replay": cpu_seconds(replay.pid),
                }
        elapsed = time.perf_counter() - t_first
        res.capacity_records = now - base
        res.capacity = res.capacity_records / elapsed
        pids = {"ingest": ingest.pid, "influxd": influx.pid, "mosquitto": broker.pid}
        res.cpu = {k: (cpu_seconds(pid) - cpu0[k]) / elapsed for k, pid in pids.items()}
        res.cpu["replay"] = (cpu_seconds(replay.pid) - cpu0["replay"]) / elapsed
        replay.wait(60)
        print(
            f"    {res.capacity_records:,} records in {elapsed:.1f}s = {res.capacity:,.0f} "
            "records/s, broker -> ingest -> InfluxDB",
            flush=True,
        )
        print("    CPU (cores): " + ", ".join(f"{k} {v:.2f}" for k, v in res.cpu.items()))
    finally:
        for p in reversed(procs):
            p.stop()
    report = render(res, args)
    print(report)
    if args.record:
        write_report(report)


def write_envelopes(state: Path, bundles: list, per_gateway: int) -> list[Path]:  # type: ignore[type-arg]
    """Each station's records as signed 100-record envelopes, for bench/replay.py.

    Sequence numbers and record ids start at 10,000,000: far above what the latency run's
    gateways used, so nothing is taken for a copy.
    """
    out = []
    first = 10_000_000
    for b in bundles:
        signer = wire.Signer.from_file(b.path / "signing.key")
        topic = f"fuel/v1/{b.district}/{b.station}/atg1/inventory"
        path = state / f"{b.gateway}.envelopes"
        with path.open("wb") as f:
            f.write(
                json.dumps(
                    {
                        "user": b.station,
                        "password": b.mqtt_password,
                        "gateway": b.gateway,
                        "topic": topic,
                        "ack_topic": wire.ack_topic(b.district, b.station, b.gateway),
                        "first_seq": first,
                    }
                ).encode()
                + b"\n"
            )
            for k in range(per_gateway // 100):
                payload = wire.encode(
                    topic=topic,
                    signer=signer,
                    gateway_id=b.gateway,
                    seq=first + k,
                    boot=1,
                    sent=time.time_ns() // 1_000_000,
                    records=[reading(first + k * 100 + j) for j in range(100)],
                )
                f.write(b"%d\n" % len(payload) + payload)
        out.append(path)
    return out


def verify_costs(seconds: float = 3.0, records: int = 100) -> dict[str, tuple[float, int]]:
    """Per algorithm: (verifications per second on one core, signature bytes)."""
    topic = "fuel/v1/bench/B000/atg1/inventory"
    out: dict[str, tuple[float, int]] = {}
    for alg in wire.Algorithm:
        pem = wire.generate_private_key_pem(alg)
        signer = wire.Signer.from_pem(pem)
        verifier = wire.Verifier.from_pem(wire.public_key_pem(pem))
        payload = wire.encode(
            topic=topic,
            signer=signer,
            gateway_id="gw-B000",
            seq=1,
            boot=1,
            sent=1_763_900_000_000,
            records=[reading(i) for i in range(records)],
        )
        head = wire.parse(payload)
        assert wire.verify(head, topic, verifier)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(50):
                wire.verify(head, topic, verifier)
            n += 50
        out[alg.value] = (n / (time.perf_counter() - start), len(head.signature))
    return out


def render_verify(costs: dict[str, tuple[float, int]]) -> str:
    rows = "\n".join(
        f"| {alg} | {rate:,.0f} | {1e6 / rate:,.0f} µs | {size} |"
        for alg, (rate, size) in costs.items()
    )
    return f"""
## Signature verification per message (bench/ingest.py)

Measured {time.strftime("%Y-%m-%d")} on this machine, one core, ingest's own check
(``wire.verify``: the signed bytes are the topic and the exact body of a 100-record batch).
SM2 is Tongsuo through ``tongsuopy`` (C); why not a pure-Python SM2: docs/security.md.

| algorithm | verifications/s | per message | signature bytes |
|---|---|---|---|
{rows}
"""


def render(res: Results, args: argparse.Namespace) -> str:
    ratio = res.capacity / res.raw_influx if res.raw_influx else float("nan")
    return f"""
## Ingest pipeline (bench/ingest.py)

Measured {time.strftime("%Y-%m-%d")} on this machine ({os.cpu_count()} cores), Mosquitto 2.0.11,
InfluxDB 1.6.7, one ingest worker, {args.gateways} gateway processes, all on the same host.

| measure | result |
|---|---|
| raw InfluxDB write (1 writer, 5,000-point batches) | {res.raw_influx:,.0f} points/s |
| raw Mosquitto QoS 1 (1 pub, 1 sub, {res.batch_records}-record batches) | {res.raw_broker_msgs:,.0f} msg/s = {res.raw_broker_records:,.0f} records/s |
| latency run: offered load | {res.latency_offered:,.0f} readings/s |
| latency run: stored | {res.latency_achieved:,.0f} readings/s |
| publish->stored latency p50 (median of 2 s windows) | {res.latency_p50:.0f} ms |
| publish->stored latency p99 (worst 2 s window) | {res.latency_p99:.0f} ms |
| capacity: pre-signed envelopes -> broker -> 1 ingest worker (storing, confirming) -> InfluxDB | {res.capacity:,.0f} records/s ({res.capacity_records:,} records) |
| capacity / raw InfluxDB write | {ratio:.2f} |
| CPU during capacity run (cores) | {", ".join(f"{k} {v:.2f}" for k, v in res.cpu.items())} |
"""


def write_report(report: str) -> None:
    record("bench/ingest.py", report)


if __name__ == "__main__":
    main()
