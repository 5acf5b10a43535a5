"""Every panel query of every provisioned dashboard runs and returns rows, on real data.

Grafana is not installed here: ``emulation.py`` does its variable and macro substitution and
its math expressions; InfluxDB (influxd) and PostgreSQL are real. A few answers are then
checked against what the world was made to contain, so a query that runs but asks the wrong
question fails too.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.grafana.emulation import TimeRange
from tests.grafana.runner import (
    ROOT,
    Backends,
    Outcome,
    dashboard_files,
    run_dashboard,
)
from tests.grafana.world import (
    GAP_STATION,
    OPEN_WARNINGS,
    STATIONS,
    UNLICENSED,
    World,
    build_world,
)
from tests.support.postgres import postgres_available, temporary_database
from tests.support.services import Influx

pytestmark = pytest.mark.postgres

GRANTS = ROOT / "grafana" / "postgres" / "grafana-reader.sql"
CHOSEN = {"station": "BH0002"}  # the station the station and tax dashboards show


@pytest.fixture(scope="module")
def world(influx: Influx, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """In a database of its own: panels count every station, so no other test's may be there."""
    why = postgres_available()
    if why is not None:
        pytest.skip(why)
    with (
        temporary_database() as url,
        build_world(influx, url, tmp_path_factory.mktemp("grafana")) as w,
    ):
        yield w


@pytest.fixture(scope="module")
def backends(world: World, influx: Influx) -> Backends:
    """The registry as Grafana's account sees it: made by the deployment's grants script."""
    if shutil.which("psql") is None:
        pytest.skip("psql (PostgreSQL client) is not installed: it runs the grants script")
    dbname = world.registry_url.rsplit("/", 1)[1]
    password = uuid.uuid4().hex
    subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-v",
            f"reader_password={password}",
            "-f",
            str(GRANTS),
            f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    dsn = f"host=127.0.0.1 port=5432 user=grafana_reader password={password} dbname={dbname}"
    return Backends(influx.url, world.db, dsn)


@pytest.fixture(scope="module")
def outcomes(world: World, backends: Backends) -> dict[str, list[Outcome]]:
    rng = TimeRange(world.start, world.quiet_end)
    return {path.stem: run_dashboard(path, backends, rng, CHOSEN) for path in dashboard_files()}


def _frame(outcomes: dict[str, list[Outcome]], board: str, title: str, ref: str = "A") -> Outcome:
    for o in outcomes[board]:
        if o.panel == title and o.ref == ref:
            return o
    raise AssertionError(f"no panel {title!r} ({ref}) in {board}")


def test_the_world_is_as_built(world: World) -> None:
    """Guard for the rest: the simulator made a realistic three days."""
    assert world.transactions > 1500, world.transactions
    assert world.waybills >= 3, world.waybills
    assert world.records > 40_000, world.records


@pytest.mark.parametrize("board", [p.stem for p in dashboard_files()])
def test_every_query_runs_and_returns_rows(board: str, outcomes: dict[str, list[Outcome]]) -> None:
    results = outcomes[board]
    assert results, f"{board} has no queries"
    bad = [
        f"- {o.panel} [{o.ref}]: {o.error or 'no rows'}\n    {o.query}" for o in results if not o.ok
    ]
    assert not bad, f"{len(bad)} of {len(results)} queries failed:\n" + "\n".join(bad)


def test_map_colours_stations_by_open_warnings(outcomes: dict[str, list[Outcome]]) -> None:
    o = _frame(outcomes, "overview", "加油站分布与未关闭预警")
    assert o.frame is not None
    cols = o.frame.columns
    got = {r[cols.index("station")]: r[cols.index("open_warnings")] for r in o.frame.rows}
    assert got == OPEN_WARNINGS
    assert all(r[cols.index("latitude")] is not None for r in o.frame.rows)


def test_collection_health_sees_the_gap_and_the_offline_gateway(
    outcomes: dict[str, list[Outcome]],
) -> None:
    gaps = _frame(outcomes, "overview", "状态上报缺口")
    assert gaps.frame is not None
    empty = {
        s.labels["station"]: sum(1 for v in s.points.values() if v == 0) for s in gaps.frame.series
    }
    assert empty[GAP_STATION] >= 5, empty  # 30 minutes silent: 5-6 buckets of 5 minutes
    assert all(n <= 1 for station, n in empty.items() if station != GAP_STATION), empty
    online = _frame(outcomes, "overview", "在线网关", "A")
    seen = _frame(outcomes, "overview", "在线网关", "B")
    assert online.frame is not None
    assert seen.frame is not None
    assert online.frame.rows[0][1] == len(STATIONS) - 1  # one gateway's last word: offline
    assert seen.frame.rows[0][1] == len(STATIONS)


def test_tax_ranking_puts_the_underdeclaring_station_first(
    outcomes: dict[str, list[Outcome]],
) -> None:
    """What Grafana's joinByField + calculateField make of the two queries."""
    declared = _frame(outcomes, "tax", "申报与实测销量偏差排名", "A").frame
    measured = _frame(outcomes, "tax", "申报与实测销量偏差排名", "B").frame
    assert declared is not None
    assert measured is not None
    d = {r[0]: r[1] for r in declared.rows}
    m = {r[-1]: r[measured.columns.index("measured_l")] for r in measured.rows}
    assert set(d) == set(m) == {s.id for s in STATIONS}
    ratio = {s: (m[s] - d[s]) / d[s] for s in d}
    ranked = sorted(ratio, key=ratio.__getitem__, reverse=True)
    assert ranked[0] == "BH0002"
    # declared 70 % of whole days' sales; the range also holds two partial days
    assert ratio["BH0002"] > 0.3, ratio
    assert all(r < ratio["BH0002"] / 2 for s, r in ratio.items() if s != "BH0002"), ratio


def test_licence_panel_counts_unlicensed_stations(outcomes: dict[str, list[Outcome]]) -> None:
    stat = _frame(outcomes, "market_regulation", "无证或证照失效站点").frame
    assert stat is not None
    assert stat.rows == [[len(UNLICENSED)]]
    table = _frame(outcomes, "market_regulation", "证照状态").frame
    assert table is not None
    cols = table.columns
    states = {
        (r[cols.index("station")], r[cols.index("kind")]): r[cols.index("licence_state")]
        for r in table.rows
    }
    assert states["BH0002", "fuel_retail"] == "expired"
    assert states["HP0001", "business"] == "missing"
    assert states["HP0001", "fuel_retail"] == "expiring"
    assert table.rows[0][cols.index("licence_state")] not in ("valid", "expiring")


def test_price_outlier_is_the_expensive_station(outcomes: dict[str, list[Outcome]]) -> None:
    math = _frame(outcomes, "market_regulation", "价格异常站点", "C")
    deviation = {(s.labels["station"], s.labels["product"]): s.values()[0] for s in math.series}
    assert max(deviation, key=deviation.__getitem__) == ("BH0002", "92")
    top = deviation["BH0002", "92"]
    assert top > 3
    # the others sit at or below the mean the expensive station pulls up
    assert all(v < 0.01 for k, v in deviation.items() if k[0] != "BH0002"), deviation


def test_reconciliation_of_a_station_without_fraud_stays_in_the_band(
    outcomes: dict[str, list[Outcome]],
) -> None:
    """BH0002 only prices high: its cumulative variance ends inside the manual inventory
    control band, and days without a delivery vary by a few percent of their sales."""
    cumulative = _frame(outcomes, "station", "进销存累计差异", "D")
    band = _frame(outcomes, "station", "进销存累计差异", "E")
    assert band.frame is not None
    upper = {s.labels["product"]: s.points for s in band.frame.series}
    assert cumulative.series
    for s in cumulative.series:
        last = max(s.points)
        v, limit = s.points[last], upper[s.labels["product"]][last]
        assert v is not None
        assert limit is not None
        assert limit >= 492.1
        assert abs(v) <= limit, (s.labels, v, limit)

    daily = _frame(outcomes, "station", "进销存日差异", "D")
    deliveries = _frame(outcomes, "station", "进销存日差异", "B").frame
    sales = _frame(outcomes, "station", "进销存日差异", "C").frame
    assert deliveries is not None
    assert sales is not None
    delivered = {s.labels["product"]: s.points for s in deliveries.series}
    sold = {s.labels["product"]: s.points for s in sales.series}
    quiet = 0
    for s in daily.series:
        product = s.labels["product"]
        for t, v in s.points.items():
            if delivered[product].get(t):
                continue
            quiet += 1
            assert v is not None
            assert abs(v) <= 0.05 * (sold[product].get(t) or 0.0) + 60, (product, t, v)
    assert quiet >= 2
