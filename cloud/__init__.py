"""The platform side: ingest -> InfluxDB, registry, rules -> warnings -> alerts, API."""
