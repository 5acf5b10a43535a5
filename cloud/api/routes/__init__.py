"""The API's routers, in the order the docs list them."""

from __future__ import annotations

from fastapi import APIRouter

from fuelwatch.cloud.api.routes import (
    alerts,
    audit,
    auth,
    departments,
    gateways,
    rules,
    stations,
    supervision,
    users,
    warnings,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    users.router,
    stations.router,
    gateways.router,
    departments.router,
    warnings.router,
    rules.router,
    alerts.router,
    supervision.router,
    audit.router,
)
