"""Compose the API: settings, database, middleware (metrics, audit), routers, error mapping."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
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

from fuelwatch.cloud.accounts.audit_chain import protection_problems
from fuelwatch.cloud.accounts.audit_changes import track_changes
from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.accounts.service import AccountError
from fuelwatch.cloud.api.audit_log import API_PREFIX, AuditMiddleware, route_template
from fuelwatch.cloud.api.deps import AppState, allow, optional_principal
from fuelwatch.cloud.api.docs import mount_docs
from fuelwatch.cloud.api.hardening import BodyLimit, SecurityHeaders, validation_error
from fuelwatch.cloud.api.routes import ROUTERS
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.rules.store import RuleError
from fuelwatch.cloud.store.db import make_engine, make_sessionmaker, require_schema
from fuelwatch.cloud.store.influx import InfluxClient, InfluxError
from fuelwatch.cloud.store.registry import RegistryError
from fuelwatch.cloud.warnings.service import WorkflowError
from fuelwatch.core import __version__
from fuelwatch.core.wire import TopicError

__all__ = ["create_app"]

LOGGER = logging.getLogger("fuelwatch.cloud.api")

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
    track_changes(state.sessions)
    if settings.environment == "production":
        for problem in protection_problems(engine):
            LOGGER.warning("audit log not protected: %s (fuelwatch audit protect)", problem)
    app = FastAPI(
        title="fuelwatch management API",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # FastAPI's pages load Swagger UI from a CDN: ours is local (docs.py)
        redoc_url=None,
        openapi_tags=[
            {"name": "auth", "description": "log in, refresh, API keys"},
            {"name": "users", "description": "accounts and API keys (the security administrator)"},
            {"name": "stations", "description": "districts, stations, tanks, dispensers"},
            {"name": "gateways", "description": "gateways, devices, provisioning, keys"},
            {"name": "department data", "description": "the departments' shared feeds"},
            {"name": "warnings", "description": "risk warnings and their handling"},
            {"name": "rules", "description": "rule settings and last evaluation"},
            {"name": "alerts", "description": "webhook subscriptions, deliveries, dead letters"},
            {"name": "supervision", "description": "industry supervision views"},
            {"name": "audit", "description": "the audit log (the audit administrator)"},
            {"name": "system", "description": "health and metrics (monitoring accounts)"},
        ],
    )
    app.state.fuelwatch = state
    registry = CollectorRegistry()
    app.add_middleware(AuditMiddleware)
    app.add_middleware(_Metrics, registry=registry)
    # outermost last: a body over the cap never reaches the app; every answer gets headers
    app.add_middleware(
        BodyLimit,
        max_json_bytes=settings.api.max_json_bytes,
        max_upload_bytes=settings.api.max_upload_bytes + 64 * 1024,  # multipart framing
    )
    app.add_middleware(SecurityHeaders, api_prefix="/api/")
    app.add_exception_handler(RequestValidationError, validation_error)
    mount_docs(app, title="fuelwatch management API")

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

    @app.get(
        "/health",
        tags=["system"],
        summary="Liveness; dependencies and version only for monitoring accounts",
    )
    async def health(
        principal: Annotated[Principal | None, Depends(optional_principal)],
    ) -> JSONResponse:
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
        body: dict[str, Any] = {"status": "ok" if ok else "degraded"}
        if principal is not None and principal.can(Permission.SYSTEM_MONITOR):
            # what runs and what is down helps an attacker too: only for monitoring
            body |= {"version": __version__, "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["system"], summary="Prometheus metrics (system.monitor)")
    async def metrics(
        _: Annotated[Principal, Depends(allow(Permission.SYSTEM_MONITOR))],
    ) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    return app
