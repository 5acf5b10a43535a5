"""What a running simulation exposes: the table of server kinds ``--serve`` can start.

A starter takes the ``SimContext`` (the live station, a ``StationView``, plus the scenario)
and the options given on the command line (``--serve KIND:key=value,key=value``) and returns
an async context manager: the server runs while the context is open. Whatever it yields may
have a ``stats() -> dict`` method; the run summary includes it.

To add a protocol server, add its starter here, one line per kind, e.g.
``"tls350": fuelwatch.sim.servers.tls350.serve`` (options such as ``host``, ``port``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager

from fuelwatch.core.errors import UserFacingError
from fuelwatch.sim.live import SimContext
from fuelwatch.sim.pos_client import serve_pos
from fuelwatch.sim.servers import modbus, tls350

__all__ = ["SERVERS", "ServeOptionError", "ServerStarter", "parse_serve"]


class ServeOptionError(UserFacingError, ValueError):
    """A ``--serve`` option that does not parse."""


ServerStarter = Callable[[SimContext, Mapping[str, str]], AbstractAsyncContextManager[object]]

SERVERS: dict[str, ServerStarter] = {
    "pos": serve_pos,
    "tls350": tls350.serve,
    "modbus": modbus.serve,
}


def parse_serve(text: str) -> tuple[str, dict[str, str]]:
    """``"pos:url=http://h:1,token=x"`` -> ``("pos", {"url": "http://h:1", "token": "x"})``."""
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    if kind not in SERVERS:
        raise ServeOptionError(
            f"unknown server kind {kind!r} (available: {', '.join(sorted(SERVERS))})"
        )
    options: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ServeOptionError(f"--serve {text!r}: options are key=value, separated by commas")
        options[key.strip()] = value.strip()
    return kind, options
