"""The shared core: what both the station gateway and the cloud import, and nothing else.

Records (``records``), the wire protocol (``wire``: topics, signed envelopes, keys), the
asyncio MQTT 5 client (``mqtt``), YAML config loading (``config``), the user-facing error
marker (``errors``), the one retry policy (``retry``) and time helpers (``timeutil``). The
core imports neither ``fuelwatch.gateway`` nor ``fuelwatch.cloud`` (docs/architecture.md).
"""

__version__ = "0.1.0"
