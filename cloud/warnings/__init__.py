"""Warnings: storage and lifecycle (``service``), categories, and the tables.

The rule engine creates and clears warnings through
``fuelwatch.cloud.warnings.service.upsert_warning`` and ``resolve_warning``; people move them
through the workflow through the API.
"""
