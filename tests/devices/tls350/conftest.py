"""Fixtures: the fixed station, a simulated console in front of it, over TCP or a pty pair."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fuelwatch.sim.servers.tls350 import SocatPtyPair, Tls350Console, Tls350TcpServer

from .helpers import FixedView


@pytest.fixture
def view() -> FixedView:
    return FixedView()


@pytest.fixture
def console(view: FixedView) -> Tls350Console:
    return Tls350Console(view)


@pytest.fixture
async def tcp_server(console: Tls350Console) -> AsyncIterator[Tls350TcpServer]:
    async with Tls350TcpServer(console) as server:
        yield server


@pytest.fixture
def tcp(tcp_server: Tls350TcpServer) -> dict[str, Any]:
    return {"kind": "tcp", "host": "127.0.0.1", "port": tcp_server.port}


@pytest.fixture
async def pty_pair(tmp_path: Path) -> AsyncIterator[SocatPtyPair]:
    if not SocatPtyPair.available():
        pytest.skip("socat is not installed (apt-get install socat); serial tests need it")
    async with SocatPtyPair(tmp_path) as pair:
        yield pair
