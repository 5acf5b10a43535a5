"""Veeder-Root TLS-350 / TLS-3xx tank gauge: ``codec`` (bytes <-> reports) and ``adapter`` (I/O)."""
