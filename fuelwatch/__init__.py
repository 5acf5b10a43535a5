"""fuelwatch: supervision platform for retail fuel stations.

Shared parts live here: the record model (``fuelwatch.records``), the wire protocol
(``fuelwatch.wire``), the asyncio MQTT client (``fuelwatch.mqtt``) and the CLI. Station-side
code is in the ``gateway`` package and the platform in ``cloud``.
"""

__version__ = "0.1.0"
