"""Ingest: MQTT (shared subscription) -> verify -> classify -> InfluxDB -> ack."""
