"""The incremental state's judgements on hand-made points (no services), one row each."""

from __future__ import annotations

import math
import random

import numpy as np
import orjson
import pytest

from fuelwatch.cloud.rules.state.persist import dump_station, load_station
from fuelwatch.cloud.rules.state.points import Reading, Sale, Snapshot
from fuelwatch.cloud.rules.state.regression import fit_blocks, t_quantile
from fuelwatch.cloud.rules.state.station import HOLD_MS, StationState
from fuelwatch.cloud.rules.state.tank import TankModel, TankParams
from fuelwatch.core.volume import REFERENCES, to_20c

T0 = 1_740_960_000_000  # ms
MIN = 60_000
PARAMS = TankParams()


def _sale(t_min: float, nozzle: int, litres: float, before: float | None = None) -> Sale:
    end = T0 + int(t_min * MIN)
    return Sale(
        end, nozzle, "92", litres, litres * 7.5, 7.5, end - 60_000, end, f"o{t_min}",
        before, None if before is None else before + litres, int(t_min * 10),
    )  # fmt: skip


def _reading(t_min: float, tc: float, status: int = 0) -> Reading:
    return Reading(T0 + int(t_min * MIN), 1, tc, tc, 15.0, status, None, "atg", 1)


# -- totalizers: the next record's "before" is the last one's "after", however long idle -----

TOTALIZER_CASES = {
    "continuous": ([(10, 100.0, 30.0), (300, 130.0, 20.0)], [], None),
    "jump_after_hours_idle": ([(10, 100.0, 30.0), (600, 930.0, 20.0)], [], ("jump", 800.0)),
    "rollback": ([(10, 100.0, 30.0), (20, 120.0, 20.0)], [], ("rollback", -10.0)),
    "reset": ([(10, 50_000.0, 30.0), (20, 3.0, 20.0)], [], ("reset", -50_027.0)),
    "snapshot_jump_while_idle": ([(10, 100.0, 30.0)], [(200, 230.0)], ("jump", 100.0)),
    "snapshot_during_sale_ignored": ([(10, 100.0, 30.0)], [(9.5, 120.0)], None),
}


@pytest.mark.parametrize("name", list(TOTALIZER_CASES))
def test_totalizer(name: str) -> None:
    sales, snaps, expected = TOTALIZER_CASES[name]
    st = StationState("S1", {1: 1}, {1: "92"})
    for t, before, litres in sales:
        st.add("sale", _sale(t, 1, litres, before), PARAMS)
    for t, value in snaps:
        st.add("snapshot", Snapshot(T0 + int(t * MIN), 1, value, None, "d", 7), PARAMS)
    for m in range(0, 700, 1):  # the gauge reports every minute: no gap
        st.add("reading", _reading(m, 20_000.0), PARAMS)
    st.advance(T0 + 700 * MIN + HOLD_MS)
    found = [(b.kind, round(b.litres, 2)) for b in st.breaks]
    assert found == ([] if expected is None else [expected])


def test_totalizer_jump_across_a_known_gap_is_not_judged() -> None:
    st = StationState("S1", {1: 1}, {1: "92"})
    st.add("sale", _sale(10, 1, 30.0, 100.0), PARAMS)
    st.add("sale", _sale(200, 1, 20.0, 400.0), PARAMS)  # sales lost while the gateway was off
    for m in [*range(60), *range(180, 260)]:  # no readings from minute 60 to 180
        st.add("reading", _reading(m, 20_000.0), PARAMS)
    st.advance(T0 + 260 * MIN + HOLD_MS)
    assert list(st.breaks) == []
    assert st.unjudged_breaks == 1


# -- a tank: quiet readings, unexplained drops, deliveries without a status bit, gaps -------


def _tank_day(
    *, hidden: list[float] = (), seed: int = 1, status_bit: bool = True, gap: bool = False
) -> TankModel:
    rng = random.Random(seed)
    m = TankModel(1, (1, 2), PARAMS)
    v = 20_000.0
    sales = {}
    for k in range(40):
        sales[30 + 30 * k] = (1 + k % 2, rng.uniform(20, 60))
    for t in range(1440):
        if gap and 600 <= t < 700:
            continue
        if t in sales:
            nozzle, litres = sales[t]
            m.add_sale(_sale(t + 1.5, nozzle, litres))
            v -= litres
        if t in hidden:
            v -= 35.0
        if 1000 <= t < 1030:
            v += 300.0  # a delivery unloading
        status = 1 if (status_bit and 1000 <= t < 1040) else 0
        m.add_reading(_reading(t, v + rng.gauss(0, 3.0), status))
    return m


def test_clean_tank_has_no_unexplained_drop() -> None:
    m = _tank_day()
    assert list(m.drops) == []
    assert 2.0 < m.gauge_sd < 4.5  # its own noise, learnt from idle reading pairs


def test_hidden_sale_is_an_unexplained_drop() -> None:
    m = _tank_day(hidden=[200, 905])
    assert [d.litres for d in m.drops] == [pytest.approx(35, abs=10)] * 2  # ± gauge noise


def test_delivery_without_status_bit_is_not_a_gain_or_drop() -> None:
    m = _tank_day(status_bit=False)
    assert list(m.drops) == []
    assert m.settle_until > T0 + 1000 * MIN


def test_gap_splits_the_book_and_never_bridges_it() -> None:
    m = _tank_day(gap=True)
    v = m.variance(T0, T0 + 999 * MIN)
    assert v is not None
    assert v["segments"] == 2
    assert abs(v["variance_l20"]) < 20  # the lost sales of the gap are not a loss


def test_late_sale_retracts_the_drop_it_explains() -> None:
    m = TankModel(1, (1,), PARAMS)
    for t in range(60):
        m.add_reading(_reading(t, 20_000.0 - (40.0 if t >= 30 else 0.0)))
    assert len(m.drops) == 1
    m.add_sale(_sale(29.9, 1, 40.0))
    assert list(m.drops) == []


# -- block regression: HAC widens the error when the noise is correlated ---------------------


def _blocks(correlated: bool, seed: int = 3) -> tuple[list[tuple[int, float, np.ndarray]], float]:
    rng = np.random.default_rng(seed)
    blocks: dict[tuple[int, int], np.ndarray] = {}
    k_true = 0.995
    for stretch in range(6):
        drift, metered = 0.0, 0.0
        for minute in range(0, 48 * 60, 2):
            metered += rng.uniform(0, 6)
            drift = 0.995 * drift + rng.normal(0, 1.0) if correlated else rng.normal(0, 3.0)
            y = -k_true * metered + drift
            z = np.array([1.0, -metered, y])
            key = (stretch, minute // 60)
            blocks[key] = blocks.get(key, np.zeros((3, 3))) + np.outer(z, z)
    return [(s, float(h), c) for (s, h), c in blocks.items()], k_true


def test_fit_recovers_the_factor_and_widens_for_correlated_noise() -> None:
    iid, k = _blocks(False)
    fit = fit_blocks(iid)
    assert fit is not None
    assert abs(fit.coef[0] - k) < 4 * fit.se(0)
    assert fit.se(0) < 3 * float(fit.naive_se[0])
    corr, _ = _blocks(True)
    fit2 = fit_blocks(corr)
    assert fit2 is not None
    assert fit2.se(0) > 3 * float(fit2.naive_se[0])  # drift over hours: far less sure
    assert abs(fit2.coef[0] - k) < 4 * fit2.se(0)


def test_t_quantile_approaches_normal() -> None:
    assert t_quantile(0.975, 1e9) == pytest.approx(1.95996, abs=1e-4)
    assert t_quantile(0.975, 10) == pytest.approx(2.228, abs=0.01)


# -- standard volume --------------------------------------------------------------------------


@pytest.mark.parametrize(("reference", "factor"), [("20C", 1.0), ("15C", 1.006), ("60F", 1.0053)])
def test_a_consoles_reference_volume_converted_to_20c(reference: str, factor: float) -> None:
    # 10,000 L of gasoline compensated to the console's reference, read at 12 °C
    v = to_20c(10_000.0, 12.0, 0.0012, reference=REFERENCES[reference])
    assert v / 10_000.0 == pytest.approx(factor, abs=3e-4)
    assert math.isclose(to_20c(10_000.0, 20.0, 0.0012), 10_000.0)


# -- persistence: a restarted engine resumes where it was ------------------------------------


def test_state_survives_a_save_and_load() -> None:
    st = StationState("S1", {1: 1, 2: 1}, {1: "92"})
    rng = random.Random(5)
    v = 20_000.0
    for t in range(2000):
        if t % 25 == 0:
            litres = rng.uniform(20, 60)
            st.add("sale", _sale(t + 1.5, 1 + t % 2, litres, 1000.0 + t), PARAMS)
            v -= litres * 0.998
        st.add("reading", _reading(t, v + rng.gauss(0, 2.0)), PARAMS)
    st.advance(T0 + 1500 * MIN)  # the rest still pending
    data = orjson.loads(orjson.dumps(dump_station(st), option=orjson.OPT_SERIALIZE_NUMPY))
    back = load_station(data, PARAMS)
    st.advance(T0 + 2100 * MIN)
    back.advance(T0 + 2100 * MIN)
    a, b = st.tanks[1].fit(T0, T0 + 2000 * MIN), back.tanks[1].fit(T0, T0 + 2000 * MIN)
    assert a is not None
    assert b is not None
    assert np.allclose(a.coef, b.coef)
    assert back.horizon == st.horizon
    assert [x.kind for x in back.breaks] == [x.kind for x in st.breaks]
    assert back.tanks[1].variance(T0, T0 + 2000 * MIN) == st.tanks[1].variance(T0, T0 + 2000 * MIN)
