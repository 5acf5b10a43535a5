"""Console page times on a station with the demo's data rate: ``python bench/console.py``.

One station like the demo's (6 tanks read every 10 s, 12 nozzles, 1,500 sales a day, a
gateway status a minute) gets ``--days`` of history in a real influxd; ``fuelwatch cloud api``
runs as the demo starts it; a logged-in client then fetches every console page ``--runs``
times and the script prints the median and worst time to the last byte of each page (the
server's whole work: registry, InfluxDB queries, the rule's state and numbers, the HTML).
``--record`` writes the table into docs/performance.md. Target (issue 14): every page < 1 s.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from fuelwatch.cloud.accounts.service import create_user
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, upgrade
from fuelwatch.cloud.store.lineproto import record_line
from fuelwatch.cloud.store.models.registry import Dispenser, District, Nozzle, Station, Tank
from fuelwatch.cloud.warnings.service import upsert_warning
from fuelwatch.core.records import GatewayStatusRecord, InventoryRecord, TransactionRecord
from fuelwatch.stack.process import ManagedProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import cli, start_influx  # noqa: E402
from bench.report import record  # noqa: E402

PRODUCTS = ["92", "92", "95", "95", "0", "0"]  # tank -> product, as the demo's 6 tanks
PASSWORD = "Bench-console-pass-2026"  # passes the password policy (docs/security.md)
PAGES = [
    "/console/stations",
    "/console/stations/S1",
    "/console/stations/S1?days=31",
    "/console/stations/S1/reconciliation?days=7&fragment=true",
    "/console/warnings",
    "/console/warnings/1",
    "/console/data",
    "/console/reports",
    "/console/reports?kind=prices",
    "/console/reports?kind=sales&period=1d&group_by=product",
    "/console/wall",
    "/console/gateways",
]


def _seed_registry(url: str, now: datetime) -> None:
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as session:
        session.add(District(id="binhai", name="滨海新区"))
        session.flush()
        session.add(Station(id="S1", district_id="binhai", name="演示加油站 S1"))
        session.flush()
        for tank, product in enumerate(PRODUCTS, start=1):
            session.add(Tank(station_id="S1", tank_no=tank, product=product, capacity_l=30000.0))
        session.add(
            Dispenser(
                station_id="S1",
                dispenser_no=1,
                nozzles=[
                    Nozzle(
                        station_id="S1",
                        nozzle_no=n,
                        product=PRODUCTS[(n - 1) // 2],
                        tank_no=(n - 1) // 2 + 1,
                    )
                    for n in range(1, 13)
                ],
            )
        )
        create_user(
            session,
            username="admin",
            password=PASSWORD,
            department="platform_admin",
            role="system_admin",
        )
        upsert_warning(
            session,
            rule_id="reconciliation.daily_variance",
            category="inventory_reconciliation",
            severity="high",
            station="S1",
            subject="tank:1",
            title_zh="日进销存差异超限",
            title_en="Daily variance",
            evidence={"comparison": {"measured": 1.0, "expected": 0.0, "threshold": 0.5}},
            seen_at=now,
        )


def _lines(now: datetime, days: int) -> list[str]:
    rng = random.Random(7)
    start = now - timedelta(days=days)
    volume = [20000.0] * 6
    lines: list[str] = []
    t_ms, end_ms = int(start.timestamp() * 1000), int(now.timestamp() * 1000)
    sale_every = 86_400_000 // 1500
    next_sale, rid = t_ms, 0
    while t_ms < end_ms:
        while next_sale <= t_ms:
            rid += 1
            nozzle = rng.randint(1, 12)
            tank = (nozzle - 1) // 2
            litres = round(rng.uniform(20, 60), 2)
            volume[tank] = max(volume[tank] - litres, 1000.0)
            lines.append(
                record_line(
                    TransactionRecord(
                        rid=rid,
                        ts=next_sale,
                        nozzle=nozzle,
                        product=PRODUCTS[tank],
                        order_id=f"o{rid}",
                        unit_price=7.5,
                        volume=litres,
                        amount=round(litres * 7.5, 2),
                        start=next_sale - 60_000,
                        end=next_sale,
                        totalizer_before=1000.0 * nozzle,
                        totalizer_after=1000.0 * nozzle + litres,
                    ),
                    district="binhai",
                    station="S1",
                    device="disp1",
                )
            )
            next_sale += sale_every
        for tank in range(6):
            rid += 1
            lines.append(
                record_line(
                    InventoryRecord(
                        rid=rid,
                        ts=t_ms,
                        tank=tank + 1,
                        product=PRODUCTS[tank],
                        volume=round(volume[tank], 2),
                        tc_volume=round(volume[tank] * 0.995, 2),
                        height=1200.0,
                        temperature=18.0,
                        status=0,
                    ),
                    district="binhai",
                    station="S1",
                    device="atg1",
                )
            )
        if t_ms % 60_000 < 10_000:
            rid += 1
            lines.append(
                record_line(
                    GatewayStatusRecord(rid=rid, ts=t_ms, state="online", boot=t_ms - 1),
                    district="binhai",
                    station="S1",
                    device="gw-S1",
                )
            )
        t_ms += 10_000
    return lines


def _write(url: str, lines: list[str]) -> None:
    httpx.post(f"{url}/query", data={"q": 'CREATE DATABASE "fuelwatch"'}).raise_for_status()
    with httpx.Client(timeout=120) as client:
        for i in range(0, len(lines), 20_000):
            client.post(
                f"{url}/write",
                params={"db": "fuelwatch", "precision": "ns"},
                content="\n".join(lines[i : i + 20_000]),
            ).raise_for_status()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _login(client: httpx.Client) -> None:
    form = client.get("/console/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert token is not None
    resp = client.post(
        "/console/login",
        data={"csrf": token.group(1), "username": "admin", "password": PASSWORD},
    )
    assert resp.status_code == 303, resp.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    now = datetime.now(tz=UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        influx, influx_url = start_influx(state)
        app = None
        try:
            registry = f"sqlite:///{state / 'registry.db'}"
            upgrade(make_engine(registry))
            _seed_registry(registry, now)
            lines = _lines(now, args.days)
            t0 = time.perf_counter()
            _write(influx_url, lines)
            print(
                f"wrote {len(lines):,} points ({args.days} days) in {time.perf_counter() - t0:.0f} s"
            )
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            app = ManagedProcess(
                "api",
                [*cli(), "cloud", "api", "--port", str(port)],
                log_file=state / "api.log",
                ready=lambda: _up(url),
                cwd=state,
                env={
                    "FUELWATCH_ENVIRONMENT": "test",
                    "FUELWATCH_REGISTRY_URL": registry,
                    "FUELWATCH_INFLUX_URL": influx_url,
                    "FUELWATCH_API_ATTACHMENTS_DIR": str(state / "attachments"),
                },
            ).start(timeout=60)
            rows = []
            with httpx.Client(base_url=url, timeout=60) as client:
                _login(client)
                for path in PAGES:
                    times = []
                    for _ in range(args.runs):
                        t = time.perf_counter()
                        resp = client.get(path)
                        times.append((time.perf_counter() - t) * 1000)
                        assert resp.status_code == 200, (path, resp.status_code)
                    rows.append((path, times[0], statistics.median(times), max(times)))
        finally:
            if app is not None:
                app.stop()
            influx.stop()
    part = [r for r in rows if "fragment=true" in r[0]]
    worst = max(r[3] for r in rows if r not in part)
    report = "\n".join(
        [
            f"### Console pages (bench/console.py, {now:%Y-%m-%d})",
            "",
            (
                f"One station at the demo's rate with {args.days} days of history "
                f"({len(lines):,} points); time to the last byte, {args.runs} runs each, "
                "`fuelwatch cloud api` and influxd on the same 2 cores. Target: < 1 s a page."
            ),
            "",
            "| page | first ms | median ms | worst ms |",
            "|---|---|---|---|",
            *(f"| `{p}` | {f:.0f} | {m:.0f} | {w:.0f} |" for p, f, m, w in rows),
            "",
            (
                f"Worst page: {worst:.0f} ms — target {'met' if worst < 1000 else '**missed**'}. "
                "The reconciliation part, which the station page loads after itself, builds the "
                "rule engine's tank state from every gauge reading of the days shown and the 3 "
                f"days before: first view {part[0][1]:.0f} ms, then {part[0][2]:.0f} ms (the "
                "state is kept and fed only what arrived since; finished days' numbers are kept)."
            ),
        ]
    )
    print(report)
    if args.record:
        record("bench/console.py", report)


if __name__ == "__main__":
    sys.exit(main())
