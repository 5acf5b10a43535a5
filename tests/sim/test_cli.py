"""``fuelwatch sim run``: offline and in real time, with the POS pushing to a real endpoint."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import yaml
from click.testing import CliRunner

from fuelwatch.cli import main
from fuelwatch.core.devices.pos import PosPushConfig
from fuelwatch.gateway.adapters.base import AdapterContext
from fuelwatch.gateway.adapters.pos import PosPushAdapter
from fuelwatch.gateway.spool import Spool
from fuelwatch.sim.runner import run_realtime
from fuelwatch.sim.scenario import parse_scenario
from tests.sim.factory import data

FRAUD = [
    {
        "kind": "over_registration",
        "nozzle": 1,
        "percent": 2,
        "windows": [{"start": "1h", "end": "5h"}],
    },
    {"kind": "pos_omission", "share": 0.2, "windows": [{"start": "0h", "end": "6h"}]},
    {"kind": "gateway_unplugged", "windows": [{"start": "2h", "end": "3h"}]},
]


def write_scenario(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data(**changes), allow_unicode=True), encoding="utf-8")
    return path


def test_offline_run_writes_everything(tmp_path):
    path = write_scenario(tmp_path, duration="1d", injections=FRAUD)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["sim", "run", str(path), "--out", str(out), "--speed", "max", "--records"]
    )
    assert result.exit_code == 0, result.output
    assert "a station-month takes" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "offline"
    assert summary["simulated_days"] == 1
    assert summary["sales"] > 200
    assert summary["wall_seconds_per_station_month"] > 0
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert sorted(lb["kind"] for lb in labels) == [
        "gateway_unplugged",
        "over_registration",
        "pos_omission",
    ]
    omitted = next(lb for lb in labels if lb["kind"] == "pos_omission")
    assert len(omitted["order_ids"]) == summary["pos_omitted_sales"] > 0
    records = [orjson.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == summary["records_total"]
    assert {r["device"] for r in records} == {"atg1", "dispensers", "pos"}
    pos_sales = [r for r in records if r["kind"] == "pos_sale"]
    assert len(pos_sales) == summary["pos_declared_sales"]
    registry = json.loads((out / "station.json").read_text())
    assert [t["tank"] for t in registry["tanks"]] == [1, 2]
    assert (out / "waybills.jsonl").exists()


def test_realtime_run_pushes_the_pos_to_the_gateway(tmp_path):
    scenario = parse_scenario(
        data(start="2025-03-03T07:00:00+08:00", duration="6h", injections=FRAUD)
    )

    async def go() -> tuple[dict[str, object], list[dict[str, object]]]:
        async with Spool(tmp_path / "spool.db", district="d1", station="t01") as spool:
            config = PosPushConfig(type="pos_push", id="pos", port=0, token="tok")  # type: ignore[arg-type]
            adapter = PosPushAdapter(config, AdapterContext(district="d1", station="t01"))
            task = asyncio.create_task(adapter.run(spool))
            await asyncio.wait_for(adapter.listening.wait(), 5)
            try:
                summary = await run_realtime(
                    scenario,
                    tmp_path / "out",
                    speed=30_000,  # 6 simulated hours in 0.7 s
                    servers=[("pos", {"url": f"http://127.0.0.1:{adapter.port}", "token": "tok"})],
                )
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            rows = [orjson.loads(r.body) for r in await spool.read(100_000)]
        return summary, rows

    summary, rows = asyncio.run(go())
    assert summary["mode"] == "realtime"
    pushed = summary["servers"]["pos"]  # type: ignore[index]
    sales = [r for r in rows if "order_id" in r]
    assert len(sales) == summary["pos_declared_sales"] > 50
    assert pushed == {"pushed_rows": len(rows), "rejected_rows": 0, "retries": 0}
    assert summary["pos_omitted_sales"] > 0
    assert len({r["order_id"] for r in sales}) == len(sales)  # nothing doubled


def test_realtime_run_without_servers(tmp_path):
    path = write_scenario(tmp_path, duration="2h")
    result = CliRunner().invoke(
        main, ["sim", "run", str(path), "--out", str(tmp_path / "o"), "--speed", "50000"]
    )
    assert result.exit_code == 0, result.output
    assert "(realtime)" in result.output


def test_user_errors_are_clean(tmp_path):
    runner = CliRunner()
    bad = write_scenario(tmp_path, seed="many")
    result = runner.invoke(main, ["sim", "run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "seed" in result.output
    assert "Traceback" not in result.output
    good = write_scenario(tmp_path)
    result = runner.invoke(
        main, ["sim", "run", str(good), "--out", str(tmp_path / "o"), "--serve", "nonsense"]
    )
    assert result.exit_code == 2
    assert "unknown server kind 'nonsense' (available: modbus, pos, tls350)" in result.output
    result = runner.invoke(
        main, ["sim", "run", str(good), "--out", str(tmp_path / "o"), "--records"]
    )
    assert result.exit_code == 2
    result = runner.invoke(main, ["sim", "check", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_check_prints_the_layout(tmp_path):
    result = CliRunner().invoke(
        main, ["sim", "check", str(write_scenario(tmp_path, injections=FRAUD))]
    )
    assert result.exit_code == 0, result.output
    assert "nozzle 4 (dispenser 2): 0 from tank 2" in result.output
    assert "over_registration" in result.output
