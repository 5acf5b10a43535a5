"""Compose the API: settings, database, middleware (metrics, audit), routers, error mapping."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from cloud.accounts.service import AccountError
from cloud.api.audit_log import API_PREFIX, AuditMiddleware, route_template
from cloud.api.deps import AppState
from cloud.api.routes import ROUTERS
from cloud.influx import InfluxClient, InfluxError
from cloud.registry.db import make_engine, make_sessionmaker, require_schema
from cloud.registry.gateways import RegistryError
from cloud.rules.store import RuleError
from cloud.settings import CloudSettings
from cloud.warnings.service import WorkflowError
from fuelwatch import __version__
from fuelwatch.wire import TopicError

__all__ = ["create_app"]

LOGGER = logging.getLogger("cloud.api")

DESCRIPTION = """
Management API of fuelwatch: stations and their equipment, gateway provisioning and keys,
department data feeds, warnings and their handling, rule settings, industry supervision views
and the audit log.

**Authentication.** People log in with `POST /api/v1/auth/token` (OAuth2 password flow) and
send `Authorization: Bearer <access_token>`; refresh with `POST /api/v1/auth/refresh`.
Machine clients send `X-API-Key: fwk_...`.

**Access.** A role decides actions (403 when not allowed); a scope (districts, or one
station) decides rows: rows outside it are absent from lists and answer 404.
Every request is written to the audit log. See `docs/api.md`.
"""


class _Metrics(BaseHTTPMiddleware):
    def __init__(self, app: Any, *, registry: CollectorRegistry) -> None:
        super().__init__(app)
        self.requests = Counter(
            "fuelwatch_api_requests",
            "API requests by route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "fuelwatch_api_request_seconds",
            "API request latency",
            ["method", "route"],
            registry=registry,
        )

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        code = 500
        try:
            response = await call_next(request)
            code = response.status_code
            return response
        finally:
            name = route_template(request)
            self.requests.labels(request.method, name, str(code)).inc()
            self.latency.labels(request.method, name).observe(time.perf_counter() - started)


def _error(code: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=code)


def create_app(settings: CloudSettings, *, engine: Engine | None = None) -> FastAPI:
    engine = engine or make_engine(settings.registry_url)
    require_schema(engine)
    state = AppState(settings=settings, sessions=make_sessionmaker(engine))
    app = FastAPI(
        title="fuelwatch management API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "auth", "description": "log in, refresh, API keys"},
            {"name": "users", "description": "department and station accounts (admins)"},
            {"name": "stations", "description": "districts, stations, tanks, dispensers"},
            {"name": "gateways", "description": "gateways, devices, provisioning, keys"},
            {"name": "department data", "description": "the departments' shared feeds"},
            {"name": "warnings", "description": "risk warnings and their handling"},
            {"name": "rules", "description": "rule settings and last evaluation"},
            {"name": "alerts", "description": "webhook subscriptions, deliveries, dead letters"},
            {"name": "supervision", "description": "industry supervision views"},
            {"name": "audit", "description": "the audit log (admins)"},
            {"name": "system", "description": "health and metrics"},
        ],
    )
    app.state.fuelwatch = state
    registry = CollectorRegistry()
    app.add_middleware(AuditMiddleware)
    app.add_middleware(_Metrics, registry=registry)

    @app.exception_handler(RegistryError)
    async def _registry(_r: Request, exc: RegistryError) -> JSONResponse:
        return _error(status.HTTP_409_CONFLICT, str(exc))

    @app.exception_handler(WorkflowError)
    async def _workflow(_r: Request, exc: WorkflowError) -> JSONResponse:
        return _error(status.HTTP_409_CONFLICT, str(exc))

    @app.exception_handler(TopicError)
    @app.exception_handler(AccountError)
    async def _invalid(_r: Request, exc: Exception) -> JSONResponse:
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _unstorable(_r: Request, exc: Exception) -> JSONResponse:
        # A value the database cannot hold (a NUL character in text on PostgreSQL, a number
        # beyond its integer range): the request is at fault, not the server.
        LOGGER.info("refused a value the database cannot store: %s", str(exc)[:200])
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, "a value cannot be stored")

    @app.exception_handler(RuleError)
    async def _rule(_r: Request, exc: RuleError) -> JSONResponse:
        code = status.HTTP_422_UNPROCESSABLE_CONTENT if exc.problems else status.HTTP_404_NOT_FOUND
        return _error(code, exc.problems or str(exc))

    @app.get("/health", tags=["system"], summary="Liveness and dependencies")
    async def health() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            async with InfluxClient(settings.influx_url, settings.influx_db, timeout=2.0) as influx:
                await influx.ping()
            checks["influxdb"] = "ok"
        except InfluxError as exc:
            checks["influxdb"] = f"unavailable: {exc}"
        ok = checks["database"] == "ok"
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "version": __version__, "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["system"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    return app
