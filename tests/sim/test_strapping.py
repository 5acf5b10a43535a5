"""Tank geometry: the strapping table is monotonic, matches the cylinder formula, inverts."""

from __future__ import annotations

import math
import random

import pytest

from fuelwatch.sim.strapping import HorizontalCylinder, StrappingTable


def cylinder_litres(d: float, length: float, h: float) -> float:
    """Textbook circular-segment formula, flat ends."""
    r = d / 2
    area = r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(2 * r * h - h * h)
    return area * length / 1e6


@pytest.mark.parametrize("h", [0.0, 1.0, 100.0, 650.0, 1300.0, 1999.9, 2600.0])
def test_flat_ends_match_the_cylinder_formula(h):
    tank = HorizontalCylinder(2600, 6000)
    assert tank.volume(h) == pytest.approx(cylinder_litres(2600, 6000, h), abs=1e-9)


def test_known_volumes():
    tank = HorizontalCylinder(2600, 6000)
    full = math.pi * 1300**2 * 6000 / 1e6
    assert tank.capacity == pytest.approx(full)
    assert tank.volume(1300) == pytest.approx(full / 2)
    # semi-ellipsoidal heads of depth a add one ellipsoid, 4/3 pi a R^2
    with_heads = HorizontalCylinder(2600, 6000, 450)
    assert with_heads.capacity == pytest.approx(full + 4 / 3 * math.pi * 450 * 1300**2 / 1e6)
    assert with_heads.volume(1300) == pytest.approx(with_heads.capacity / 2)
    # hemispherical heads (a = R) make a capsule
    capsule = HorizontalCylinder(2000, 3000, 1000)
    assert capsule.capacity == pytest.approx((math.pi * 1e6 * 3000 + 4 / 3 * math.pi * 1e9) / 1e6)


def test_volume_clamps_outside_the_tank():
    tank = HorizontalCylinder(2500, 5800, 450)
    assert tank.volume(-5) == 0
    assert tank.volume(3000) == tank.capacity


@pytest.mark.parametrize("heads", [0.0, 450.0, 1250.0])
def test_height_inverts_volume(heads):
    tank = HorizontalCylinder(2500, 5800, heads)
    rng = random.Random(5)
    volumes = [rng.uniform(0, tank.capacity) for _ in range(2000)]
    volumes += [1e-6, 0.01, 1.0, tank.capacity - 1.0, tank.capacity - 1e-6]
    for v in volumes:
        assert tank.volume(tank.height(v)) == pytest.approx(v, abs=1e-5)
    assert tank.height(0) == 0
    assert tank.height(tank.capacity * 2) == 2500


def test_table_is_monotonic_and_close_to_the_geometry():
    tank = HorizontalCylinder(2500, 5800, 450)
    table = StrappingTable.from_geometry(tank, 10)
    assert table.heights[0] == 0
    assert table.heights[-1] == 2500
    assert all(b > a for a, b in zip(table.heights, table.heights[1:], strict=False))
    assert all(b > a for a, b in zip(table.volumes, table.volumes[1:], strict=False))
    for h in table.heights:  # exact at the points
        assert table.volume(h) == pytest.approx(tank.volume(h))
    # between points, linear interpolation is within 0.01 % of capacity
    worst = max(abs(table.volume(h + 5) - tank.volume(h + 5)) for h in table.heights[:-1])
    assert worst < 1e-4 * tank.capacity
    for v in (100.0, 5000.0, 15000.0, 30000.0):
        assert table.volume(table.height(v)) == pytest.approx(v)


def test_scaled_table_for_a_declared_capacity():
    table = StrappingTable.from_geometry(HorizontalCylinder(2200, 4800, 400), 10)
    declared = table.scaled(18000 / table.capacity)
    assert declared.capacity == pytest.approx(18000)
    assert declared.volume(1100) == pytest.approx(table.volume(1100) * 18000 / table.capacity)
