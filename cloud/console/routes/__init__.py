"""The console's pages, one router per area."""

from __future__ import annotations

from fastapi import APIRouter

from fuelwatch.cloud.console.routes import (
    data,
    devices,
    login,
    reports,
    stations,
    wall,
    warnings,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    stations.router,
    warnings.router,
    data.router,
    reports.router,
    wall.router,
    devices.router,
)
