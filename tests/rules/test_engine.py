"""The engine's contract: schedules, dedup and auto-resolve on the evaluation clock, operator
thresholds, evidence that names the query and the raw records, failures that stay contained."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from fuelwatch.cli import main
from fuelwatch.cloud.rules import store
from fuelwatch.cloud.rules.context import iso
from fuelwatch.cloud.rules.definition import load_definitions
from fuelwatch.cloud.rules.engine import RuleEngine
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.models.warnings import Warning_, WarningEvent
from fuelwatch.core.records import TransactionRecord
from tests.rules.world import engine, evaluate, import_waybills, simulate
from tests.support.env import StackEnv

OUTAGE = {
    "injections": [{"kind": "gateway_unplugged", "windows": [{"start": "1d", "end": "1d2h"}]}]
}
OMISSION = {
    "injections": [
        {"kind": "pos_omission", "share": 0.1, "windows": [{"start": "0d", "end": "2d"}]}
    ]
}


def _warnings(env: StackEnv, rule_id: str) -> list[Warning_]:
    with env.sessions() as session:
        rows = list(session.scalars(select(Warning_).where(Warning_.rule_id == rule_id)))
        for w in rows:
            _ = [e.action for e in w.events]  # load while the session is open
        return rows


async def test_refire_updates_one_warning_and_clears_when_condition_goes(env: StackEnv) -> None:
    sim = simulate(env, "GAP1", duration="2d", **OUTAGE)
    t1 = sim.start + timedelta(days=1, hours=2, minutes=30)
    rule = "cloud_data.gap"
    await evaluate(env, t1, rule)
    await evaluate(env, t1 + timedelta(minutes=15), rule)
    [w] = _warnings(env, rule)
    assert (w.state, w.occurrences, w.cleared_at) == ("open", 2, None)
    assert (w.first_seen, w.last_seen) == (t1, t1 + timedelta(minutes=15))  # evaluation clock
    assert w.category == "cloud_data"
    assert w.subject == "feed"
    assert w.station_id == "GAP1"
    assert w.evidence["comparison"]["measured"] >= 120  # the 2 h outage in 5-min buckets

    # six hours later the outage has left the window: the rule checks again and clears it
    later = sim.start + timedelta(days=1, hours=9)
    report = await evaluate(env, later, rule)
    assert report.result(rule).resolved == [("GAP1", "feed")]  # type: ignore[union-attr]
    [w] = _warnings(env, rule)
    assert w.cleared_at == later
    assert w.state == "open"
    with env.sessions() as session:
        actions = session.scalars(
            select(WarningEvent.action)
            .where(WarningEvent.warning_id == w.id)
            .order_by(WarningEvent.id)
        ).all()
    assert actions == ["opened", "cleared"]
    # and it comes back when the condition does: same warning, un-cleared
    await evaluate(env, t1, rule)
    [w] = _warnings(env, rule)
    assert w.cleared_at is None
    assert w.occurrences == 3


async def test_run_due_follows_schedules_and_is_idempotent(env: StackEnv) -> None:
    sim = simulate(env, "DUE1", duration="12h")
    now = sim.end
    e = engine(env)
    try:
        first = await e.run_due(now)
        again = await e.run_due(now)
        quarter = await e.run_due(now + timedelta(minutes=15))
    finally:
        await e.aclose()
    every = {d.id: d.every for d in load_definitions()}
    assert {r.rule_id for r in first.results} == set(every)
    assert again.results == []
    assert {r.rule_id for r in quarter.results} == {
        k for k, v in every.items() if v <= timedelta(minutes=15)
    }
    assert not first.errors


async def test_operator_threshold_changes_the_outcome(env: StackEnv) -> None:
    sim = simulate(env, "THR1", duration="2d", **OMISSION)
    rule = "business_link.order_mismatch"
    report = await evaluate(env, sim.end, rule)
    assert ("THR1", "missing_in_pos") in report.result(rule).fired  # type: ignore[union-attr]
    with env.sessions.begin() as session:
        store.set_thresholds(session, rule, {"min_missing_percent": 50.0}, actor="supervisor")
    report = await evaluate(env, sim.end, rule)
    assert report.result(rule).fired == []  # type: ignore[union-attr]
    assert report.result(rule).resolved == [("THR1", "missing_in_pos")]  # type: ignore[union-attr]
    # a new engine (restart) keeps the operator's value
    e = engine(env, rule)
    try:
        e.register()
    finally:
        await e.aclose()
    with env.sessions() as session:
        assert store.get_rule(session, rule).thresholds["min_missing_percent"] == 50.0


async def test_evidence_names_the_query_and_restores_the_cheating_records(env: StackEnv) -> None:
    sim = simulate(env, "EVD1", duration="2d", **OMISSION)
    rule = "business_link.order_mismatch"
    await evaluate(env, sim.end, rule)
    [w] = _warnings(env, rule)
    ev = w.evidence
    # the rule's 1-day window ends where the running state is complete: now less the feed's
    # 1-minute lag, the 15-minute hold (sales arrive at the hang) and 5 minutes for the POS
    end = sim.end - timedelta(minutes=21)
    assert ev["window"] == {"start": iso(end - timedelta(days=1)), "end": iso(end)}
    assert ev["comparison"]["unit"] == "orders"
    assert ev["thresholds"]["min_missing"] == 2
    queries = {q["name"]: q["influxql"] for q in ev["queries"]}
    assert 'FROM "dispenser_transaction"' in queries["transactions"]
    assert "station =~ /^(EVD1)$/" in queries["transactions"]
    assert "time <=" in queries["transactions"]
    # the records are exactly the omitted sales the simulator labelled, with their rid
    omitted = {o for label in sim.labels if label.kind == "pos_omission" for o in label.order_ids}
    rids = {t.order_id: t.rid for t in sim.of(TransactionRecord)}
    start_ms = int((end - timedelta(days=1, seconds=-300)).timestamp() * 1000)
    end_ms = int(end.timestamp() * 1000)
    expected = {
        (t.order_id, t.rid)
        for t in sim.of(TransactionRecord)
        if t.order_id in omitted and start_ms < t.ts <= end_ms
    }
    got = {(r["order_id"], r["rid"]) for r in ev["records"]}
    assert got == expected
    assert ev["records_total"] == len(expected) > 10
    assert all(
        r["measurement"] == "dispenser_transaction" and rids[r["order_id"]] == r["rid"]
        for r in ev["records"]
    )
    assert "missing_in_pos" in w.message_en
    assert "订单" in w.message_zh


async def test_over_registration_evidence_lists_the_nozzles_sales(env: StackEnv) -> None:
    sim = simulate(
        env,
        "OVR1",
        duration="4d",  # the rule judges 3 days of data
        injections=[
            {
                "kind": "over_registration",
                "nozzle": 3,
                "percent": 2.0,
                "windows": [{"start": "0d", "end": "4d"}],
            }
        ],
    )
    import_waybills(env, sim.waybills)
    await evaluate(env, sim.end, "dispenser.over_registration")
    [w] = _warnings(env, "dispenser.over_registration")
    values = w.evidence["values"]
    assert w.subject == "nozzle:3"
    assert 1.0 < values["over_registration_percent"] < 3.0
    orders = {r["order_id"] for r in w.evidence["records"]}
    assert orders
    assert all(o.startswith("OVR1-03-") for o in orders)


async def test_a_failing_rule_is_recorded_and_the_others_run(env: StackEnv) -> None:
    simulate(env, "ERR1", duration="6h")
    definitions = [d for d in load_definitions() if d.id in {"cloud_data.gap", "inspection.risk"}]
    e = RuleEngine(
        sessions=env.sessions,
        influx=InfluxClient("http://127.0.0.1:9", env.db),
        definitions=definitions,
    )
    try:
        from datetime import UTC, datetime  # noqa: PLC0415

        report = await e.run_all(datetime(2025, 3, 3, 12, tzinfo=UTC))
    finally:
        await e.aclose()
    gap, inspection = report.result("cloud_data.gap"), report.result("inspection.risk")
    assert gap is not None
    assert gap.error is not None
    assert "unreachable" in gap.error
    assert inspection is not None
    assert inspection.error is None
    with env.sessions() as session:
        assert store.get_rule(session, "cloud_data.gap").last_result == "error"


def test_cli_once_at(env: StackEnv, monkeypatch: object) -> None:
    sim = simulate(
        env,
        "CLI1",
        duration="12h",
        injections=[{"kind": "gateway_unplugged", "windows": [{"start": "6h", "end": "8h"}]}],
    )
    mp = monkeypatch
    for key, value in {
        "FUELWATCH_ENVIRONMENT": "test",
        "FUELWATCH_REGISTRY_URL": env.registry_url,
        "FUELWATCH_INFLUX_URL": env.influx.url,
        "FUELWATCH_INFLUX_DB": env.db,
    }.items():
        mp.setenv(key, value)  # type: ignore[attr-defined]
    at = (sim.start + timedelta(hours=8, minutes=30)).isoformat()
    result = CliRunner().invoke(main, ["cloud", "rules", "--once", "--at", at])
    assert result.exit_code == 0, result.output
    assert f"evaluated {len(load_definitions())} rules" in result.output
    assert "! CLI1 feed" in result.output
    bad = CliRunner().invoke(main, ["cloud", "rules", "--once", "--at", "yesterday"])
    assert bad.exit_code == 2
    assert "not an ISO 8601 time" in bad.output
    assert "Traceback" not in bad.output


async def test_station_batches_each_get_their_own_query(env: StackEnv) -> None:
    outage = {
        "injections": [{"kind": "gateway_unplugged", "windows": [{"start": "20h", "end": "22h"}]}]
    }
    sim = simulate(env, "BAT1", duration="23h", **outage)
    simulate(env, "BAT2", duration="23h", seed=12)
    [gap] = [d for d in load_definitions() if d.id == "cloud_data.gap"]
    e = RuleEngine(
        sessions=env.sessions,
        influx=InfluxClient(env.influx.url, env.db),
        definitions=[gap.model_copy(update={"station_batch": 1})],
    )
    try:
        report = await e.run_all(sim.start + timedelta(hours=22, minutes=30))
    finally:
        await e.aclose()
    assert report.result("cloud_data.gap").fired == [("BAT1", "feed")]  # type: ignore[union-attr]
    [w] = _warnings(env, "cloud_data.gap")
    [query] = w.evidence["queries"]
    assert "station =~ /^(BAT1)$/" in query["influxql"]
    with env.sessions() as session:
        assert store.get_rule(session, "cloud_data.gap").last_detail["checked"] == 2


async def test_run_forever_evaluates_on_the_wall_clock_and_stops(env: StackEnv) -> None:
    import asyncio  # noqa: PLC0415

    from fuelwatch.cloud.rules.runner import run_forever  # noqa: PLC0415

    simulate(env, "WALL1", duration="1h")
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever(env.settings, stop=stop))

    def evaluated() -> bool:
        with env.sessions() as session:
            rules = store.list_rules(session)
            return len(rules) == len(load_definitions()) and all(r.last_result for r in rules)

    try:
        for _ in range(300):
            if evaluated():
                break
            await asyncio.sleep(0.1)
        assert evaluated()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    with env.sessions() as session:  # the data is from 2025: nothing in today's windows
        assert {r.last_result for r in store.list_rules(session)} == {"ok"}


async def test_a_bypass_is_not_blamed_on_a_nozzle(env: StackEnv) -> None:
    """Hidden draws from the tank are a loss (reconciliation fires), not over-registration:
    the regression's residual is far above gauge noise, so it gives no verdict on the tank."""
    bypass = {"kind": "offbook_bypass", "tank": 2, "sales_per_day": 30}
    sim = simulate(
        env,
        "BYP1",
        duration="2d",
        injections=[{**bypass, "windows": [{"start": "0d", "end": "2d"}]}],
    )
    import_waybills(env, sim.waybills)
    rules = ("dispenser.over_registration", "reconciliation.daily_variance")
    report = await evaluate(env, sim.end, *rules)
    assert report.result("dispenser.over_registration").fired == []  # type: ignore[union-attr]
    assert ("BYP1", "tank:2") in report.result("reconciliation.daily_variance").fired  # type: ignore[union-attr]
