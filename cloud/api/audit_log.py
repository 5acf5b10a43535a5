"""Middleware that writes one audit row per API request: who, what, when, from where, and for
changes the rows changed with their values before and after (``audit_changes.py``).

Reads are recorded as well as changes (the audit requirement covers every read of station
data). The resource and its id come from the matched route (``/stations/{station_id}`` ->
resource ``stations``, id from the first path parameter); routes that know more (the station
a warning belongs to, the outcome of a login) add it through ``note``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from fuelwatch.cloud.accounts import audit
from fuelwatch.cloud.api.deps import AppState, identify

__all__ = ["AuditMiddleware", "client_ip", "note", "route_template"]

LOGGER = logging.getLogger("fuelwatch.cloud.api.audit")
API_PREFIX = "/api/v1"
ACTIONS = {"GET": "read", "POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def note(request: Request, **fields: Any) -> None:
    """Add to this request's audit row: ``action``, ``resource``, ``resource_id``,
    ``station_id``, ``actor`` or anything else (kept in ``detail``)."""
    extra: dict[str, Any] = getattr(request.state, "audit", {})
    extra.update(fields)
    request.state.audit = extra


def client_ip(request: Request, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else ""


def route_template(request: Request) -> str:
    """The matched route's full template (``/api/v1/stations/{station_id}``).

    Routes of included routers carry their template without the prefix they were included
    under, so the API prefix is put back.
    """
    template = getattr(request.scope.get("route"), "path", None)
    if not isinstance(template, str):
        return "unmatched"
    if request.url.path.startswith(API_PREFIX) and not template.startswith(API_PREFIX):
        return API_PREFIX + template
    return template


class AuditMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: Any, *, prefix: str = "/api/") -> None:
        super().__init__(app)
        self.prefix = prefix

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not request.url.path.startswith(self.prefix):
            return await call_next(request)
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            try:
                await _write(request, status)
            except Exception:
                LOGGER.exception("cannot write the audit row for %s", request.url.path)


async def _write(request: Request, status: int) -> None:
    from starlette.concurrency import run_in_threadpool  # noqa: PLC0415

    state: AppState = request.app.state.fuelwatch
    principal = getattr(request.state, "principal", None)
    if principal is None and ("authorization" in request.headers or "x-api-key" in request.headers):
        # no route ran (an unknown path, a wrong method): still name who called
        principal = await run_in_threadpool(identify, request)
    extra: dict[str, Any] = dict(getattr(request.state, "audit", {}))
    params = dict(request.scope.get("path_params", {}))
    parts = [p for p in route_template(request).split("/") if p and not p.startswith("{")]
    if parts[:2] == ["api", "v1"]:
        parts = parts[2:]
    resource = extra.pop("resource", parts[0] if parts else "")
    first_param = next(iter(params.values()), "")
    detail: dict[str, Any] = {}
    if request.url.query:
        detail["query"] = request.url.query[:1000]
    reason = getattr(request.state, "audit_reason", None)
    if reason:
        detail["auth"] = reason
    changes = getattr(request.state, "audit_changes", None)
    if changes:
        detail["changes"] = list(changes)
    station = extra.pop("station_id", params.get("station_id"))
    fields = {
        "actor": extra.pop("actor", principal.actor if principal else "anonymous"),
        "user_id": principal.user_id if principal else None,
        "client_ip": client_ip(request, state.settings.api.trust_forwarded_for),
        "method": request.method,
        "path": request.url.path,
        "action": extra.pop("action", ACTIONS.get(request.method, request.method.lower())),
        "resource": resource,
        "resource_id": str(extra.pop("resource_id", first_param)),
        "station_id": station,
        "status": status,
        "detail": detail | extra,
    }

    await run_in_threadpool(lambda: audit.append(state.sessions, **fields))
