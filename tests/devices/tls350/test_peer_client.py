"""An independent client (PyPI ``veeder-root-tls-socket-library``) reads our simulated console.

It has its own framing, checksum check and float decoder (rounded to 5 decimals), so agreement
means our console speaks the manual's format, not just our own codec's.
"""

from __future__ import annotations

import pytest
from veeder_root_tls_socket_library import tls_3xx
from veeder_root_tls_socket_library.async_socket import AsyncTlsSocket

from fuelwatch.sim.servers.tls350 import Tls350TcpServer

from .helpers import FixedView

PEER = pytest.approx


async def test_peer_reads_inventory_deliveries_and_alarms(
    tcp_server: Tls350TcpServer, view: FixedView
) -> None:
    snap = view.snapshot()
    async with AsyncTlsSocket("127.0.0.1", tcp_server.port, timeout=5) as tls:
        inventory = tls_3xx.function_201(await tls.execute("i20100"))
        deliveries = tls_3xx.function_202(await tls.execute("i20200"))
        alarms = tls_3xx.function_205(await tls.execute("i20500"))
        with pytest.raises(ValueError, match="Unsupported"):
            await tls.execute("i99900")

    # 2025-11-23 20:13 on the console's (Shanghai) clock
    clock = {"year": 25, "month": 11, "day": 23, "hour": 20, "minute": 13}
    assert {k: inventory[k] for k in clock} == clock

    assert [t["tank_number"] for t in inventory["tanks"]] == ["01", "02"]
    for got, tank in zip(inventory["tanks"], snap.tanks, strict=True):
        assert got["product_code"] == tank.product_code
        assert got["tank_status_bits"] == tank.status_bits
        for name in ("volume", "tc_volume", "ullage", "height", "water", "temperature"):
            assert got[name] == PEER(getattr(tank, name), abs=1e-3), name
        assert got["water_volume"] == PEER(tank.water_volume, abs=1e-3)

    (tank1,) = deliveries["tanks"]  # the peer stops at a tank with no deliveries at the end
    (got,) = tank1["deliveries"]
    want = snap.deliveries[1][0]
    assert (tank1["tank_number"], tank1["product_code"]) == ("01", "1")
    assert (got["start_hour"], got["start_minute"], got["end_hour"], got["end_minute"]) == (
        18,
        13,
        19,
        13,
    )
    pairs = {
        "starting_volume": want.start_volume,
        "starting_tc_volume": want.start_tc_volume,
        "starting_water": want.start_water,
        "starting_temp": want.start_temperature,
        "ending_volume": want.end_volume,
        "ending_tc_volume": want.end_tc_volume,
        "ending_water": want.end_water,
        "ending_temp": want.end_temperature,
        "starting_height": want.start_height,
        "ending_height": want.end_height,
    }
    for name, value in pairs.items():
        assert got[name] == PEER(value, abs=1e-3), name

    assert alarms["alarms"] == [
        {"tank_number": "01", "number_of_alarms": 0},
        {"tank_number": "02", "number_of_alarms": 1, "alarm_type": "04"},
    ]
