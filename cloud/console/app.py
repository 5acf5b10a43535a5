"""Put the web console onto the API's FastAPI application: one process, one port.

The console's pages live under ``/console/`` and its files under ``/assets/``. It adds no
login of its own: pages resolve the principal with the API's token functions (see
``session.py``), call the API's route functions and services for data and actions, and every
page request is written to the same audit log as API requests.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from fuelwatch.cloud.api.app import create_app
from fuelwatch.cloud.api.audit_log import AuditMiddleware
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.console.render import page, redirect
from fuelwatch.cloud.console.routes import ROUTERS
from fuelwatch.cloud.console.session import LoginRequired

__all__ = ["CONSOLE_PREFIX", "create_web_app", "mount_console"]

CONSOLE_PREFIX = "/console"
ASSETS = Path(__file__).parent / "static"

#: Only this origin: no CDN, no inline script or style, no frames, forms post here only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class _ConsoleHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        path = request.url.path
        if path.startswith((CONSOLE_PREFIX, "/assets/")):
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _is_console(request: Request) -> bool:
    return request.url.path.startswith(CONSOLE_PREFIX)


def mount_console(app: FastAPI) -> None:
    """Add the console's routes, files, headers, audit and error pages to ``app``."""
    for router in ROUTERS:
        app.include_router(router, prefix=CONSOLE_PREFIX, include_in_schema=False)
    app.mount("/assets", StaticFiles(directory=ASSETS), name="console-assets")
    app.add_middleware(AuditMiddleware, prefix=CONSOLE_PREFIX + "/")
    app.add_middleware(_ConsoleHeaders)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            here = CONSOLE_PREFIX + "/"
        return redirect(request, None, f"{CONSOLE_PREFIX}/login?next={quote(here, safe='')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_console(request):
            return await http_exception_handler(request, exc)
        key = {404: "not_found", 403: "forbidden"}.get(exc.status_code, "error")
        return page(
            request, None, "error.html", status_code=exc.status_code, key=key, detail=exc.detail
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not _is_console(request):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
        )
        return page(request, None, "error.html", status_code=422, key="error", detail=problems)


def create_web_app(settings: CloudSettings, *, engine: Engine | None = None) -> FastAPI:
    """The API with the console on it: what ``fuelwatch cloud api`` serves."""
    app = create_app(settings, engine=engine)
    mount_console(app)
    return app
