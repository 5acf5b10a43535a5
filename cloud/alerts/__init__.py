"""Alert push: warning events -> durable outbox -> MQTT, InfluxDB and signed webhooks.

See ``docs/alerts.md``. ``run_alerts`` is the ``fuelwatch cloud alerts`` process.
"""

from __future__ import annotations

from fuelwatch.cloud.alerts.signing import SignatureError, sign, verify

__all__ = ["SignatureError", "sign", "verify"]
