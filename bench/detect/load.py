"""Loading the matrix through the real pipeline: provision, register, simulate, drain.

Every station is provisioned like a real one (gateway, signing key, MQTT account); its
simulated feed goes into its gateway's spool and the real gateway process publishes it; the
registry gets tanks, dispensers and department data through the management API.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench._stack import cli, influx_query, spool_backlog
from bench.detect.feed import (
    department_rows,
    dispenser_bodies,
    simulate_to_spool,
    static_rows,
    tank_bodies,
)
from bench.detect.matrix import StationSpec
from fuelwatch.cloud.accounts.service import create_api_key, create_user
from fuelwatch.cloud.api.app import create_app
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.provisioning.service import Bundle, provision_gateway
from fuelwatch.cloud.store.models.alerts import AlertOutbox, WebhookDelivery
from fuelwatch.cloud.store.models.warnings import (
    Warning_,
    WarningAttachment,
    WarningComment,
    WarningEvent,
)
from fuelwatch.sim.scenario import parse_scenario
from fuelwatch.sim.station import Station
from fuelwatch.stack.process import ManagedProcess

__all__ = ["Loader", "clear_warnings", "provision", "say", "stored_records"]


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Loader:
    """Provision, register, simulate into spools, drain through the pipeline."""

    def __init__(self, args: argparse.Namespace, state: Path, specs: list[StationSpec]) -> None:
        self.args, self.state, self.specs = args, state, specs
        self.procs: list[ManagedProcess] = []
        self.results: dict[str, dict[str, Any]] = {}
        self.spooled = 0

    async def register(self, sessions: Any, settings: CloudSettings, engine: Any) -> None:
        with sessions.begin() as session:
            admin = create_user(
                session, username="bench", department="platform_admin", role="system_admin"
            )
            _key, plain = create_api_key(session, admin, name="detection bench")
        app = create_app(settings, engine=engine)
        transport = httpx.ASGITransport(app=app)
        self.api = httpx.AsyncClient(
            transport=transport, base_url="http://api", headers={"X-API-Key": plain}, timeout=120
        )
        for spec in self.specs:
            station = Station(parse_scenario(spec.scenario))
            sid = spec.id
            for tank, body in tank_bodies(station).items():
                await self._call("PUT", f"/api/v1/stations/{sid}/tanks/{tank}", body)
            for number, body in dispenser_bodies(station).items():
                await self._call("PUT", f"/api/v1/stations/{sid}/dispensers/{number}", body)
            nozzles = {n.number: n.dispenser for n in station.nozzles.values()}
            start = datetime.fromtimestamp(station.scenario.start_ms / 1000, UTC)
            await self._post_rows(static_rows(sid, start, nozzles))

    async def _call(self, method: str, url: str, body: Any) -> None:
        resp = await self.api.request(method, url, json=body)
        if resp.status_code >= 300:
            raise SystemExit(f"{method} {url}: {resp.status_code} {resp.text[:500]}")

    async def _post_rows(self, datasets: dict[str, list[Any]]) -> None:
        for dataset, rows in datasets.items():
            for i in range(0, len(rows), 5000):
                await self._call(
                    "POST", f"/api/v1/department-data/{dataset}", {"rows": rows[i : i + 5000]}
                )

    def gateway(self, bundle: Bundle) -> ManagedProcess:
        return ManagedProcess(
            bundle.gateway,
            [*cli(), "gateway", "run", "-c", str(bundle.config_file)],
            log_file=self.state / "logs" / f"{bundle.gateway}.log",
            ready=lambda: True,
        ).start()

    async def load(self, bundles: dict[str, Bundle], url: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        pending: dict[str, Future[dict[str, Any]]] = {}
        draining: dict[str, ManagedProcess] = {}
        finished: set[str] = set()
        cpu_sim = 0.0
        with ProcessPoolExecutor(max_workers=self.args.workers, mp_context=ctx) as pool:
            for spec in self.specs:
                spool = bundles[spec.id].path / "spool" / "spool.db"
                pending[spec.id] = pool.submit(simulate_to_spool, spec.scenario, str(spool))
            last_report, last_stored, last_t = 0.0, 0, time.perf_counter()
            while pending or draining:
                for sid, fut in list(pending.items()):
                    if fut.done():
                        result = fut.result()
                        del pending[sid]
                        self.results[sid] = result
                        self.spooled += result["records"]
                        cpu_sim += result["wall_s"]
                        await self._post_rows(department_rows(result))
                        draining[sid] = self.gateway(bundles[sid])
                for sid, proc in list(draining.items()):
                    if spool_backlog(bundles[sid].path / "spool" / "spool.db") == 0:
                        await asyncio.sleep(1.0)  # let the last PUBACKs land
                        proc.stop()
                        del draining[sid]
                        finished.add(sid)
                now = time.perf_counter()
                if now - last_report >= 10:
                    stored = stored_records(url)
                    rate = (stored - last_stored) / (now - last_t) if now > last_t else 0
                    backlog = sum(
                        spool_backlog(bundles[s].path / "spool" / "spool.db") for s in draining
                    )
                    say(
                        f"simulated {len(self.results)}/{len(self.specs)} stations, "
                        f"spooled {self.spooled:,} records, in spools {backlog:,}, "
                        f"stored {stored:,} ({rate:,.0f}/s), gateways draining {len(draining)}"
                    )
                    last_report, last_stored, last_t = now, stored, now
                await asyncio.sleep(0.5)
        # every spool is empty: wait for ingest to store what the broker still holds
        deadline, stored, quiet = time.monotonic() + 600, 0, 0
        while time.monotonic() < deadline:
            now_stored = stored_records(url)
            quiet = quiet + 1 if now_stored == stored else 0
            stored = now_stored
            if stored >= self.spooled and quiet >= 3:
                break
            await asyncio.sleep(2)
        wall = time.perf_counter() - t0
        rejected = influx_query(url, "fuelwatch", 'SELECT count("size") FROM "rejected"')
        n_rejected = int(rejected[0]["values"][0][1]) if rejected else 0
        say(
            f"loaded {self.spooled:,} records in {wall:.0f} s ({self.spooled / wall:,.0f}/s "
            f"end to end); ingest counted {stored:,} stored (incl. gateway status), "
            f"{n_rejected} rejected"
        )
        return {
            "records": self.spooled,
            "stored": stored,
            "rejected": n_rejected,
            "wall_s": wall,
            "sim_s": cpu_sim,
        }


def stored_records(url: str) -> int:
    """Records ingest has stored, from its own counters (all workers, latest each)."""
    try:
        series = influx_query(
            url,
            "fuelwatch",
            'SELECT last("accepted_records") FROM "ingest_stats" GROUP BY "worker"',
        )
    except (httpx.HTTPError, RuntimeError):
        return 0
    return sum(int(s["values"][0][1] or 0) for s in series)


def clear_warnings(sessions: Any) -> None:
    """Every warning of an earlier run (and the alerts queued for them: the load's streaming
    checks raise some) before the engine runs again."""
    with sessions.begin() as session:
        for model in (
            WebhookDelivery,
            AlertOutbox,
            WarningAttachment,
            WarningComment,
            WarningEvent,
            Warning_,
        ):
            session.query(model).delete()


def provision(
    specs: list[StationSpec], state: Path, sessions: Any, files: Any
) -> dict[str, Bundle]:
    bundles = {}
    for spec in specs:
        b = provision_gateway(
            sessions,
            district=spec.scenario["station"]["district"],
            station=spec.id,
            gateway=f"gw-{spec.id}",
            out_dir=state / "gw" / spec.id,
            password_file=files.password_file,
            mqtt_port=files.port,
            station_name=spec.scenario["station"]["name"],
        )
        data = yaml.safe_load(b.config_file.read_text(encoding="utf-8"))
        data["devices"] = []
        data["spool"]["synchronous"] = "normal"
        b.config_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        bundles[spec.id] = b
    return bundles
