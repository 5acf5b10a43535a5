"""Device managers: gateways with their health, and provisioning with a bundle download."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError

from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.deps import SessionDep, StateDep
from fuelwatch.cloud.api.routes import gateways as api
from fuelwatch.cloud.api.routes import stations as api_stations
from fuelwatch.cloud.api.routes import supervision as api_supervision
from fuelwatch.cloud.console.render import finish, page
from fuelwatch.cloud.console.routes.common import influx_problem
from fuelwatch.cloud.console.session import CheckedForm, Viewer, need
from fuelwatch.cloud.store.registry import RegistryError
from fuelwatch.core.timeutil import utcnow
from fuelwatch.core.wire import Algorithm

router = APIRouter()
P = Permission
Manager = Annotated[Viewer, Depends(need(P.REGISTRY_READ, P.GATEWAY_PROVISION))]


@router.get("/gateways")
async def gateway_list(
    request: Request, session: SessionDep, state: StateDep, viewer: Manager
) -> Response:
    principal = viewer.principal
    gateways = api.list_gateways(session, principal, limit=1000).items
    problem = None
    status: dict[str, Any] = {}
    try:
        for h in await api_supervision.collection_health(session, state, principal):
            for g in h.gateways:
                status[g.gateway] = (h, g)
    except HTTPException as exc:
        problem = influx_problem(exc)
    now = utcnow()

    def age_days(at: datetime) -> int:
        return (now - (at if at.tzinfo else at.replace(tzinfo=UTC))).days

    return page(
        request,
        viewer,
        "gateways.html",
        gateways=gateways,
        status=status,
        age_days=age_days,
        problem=problem,
    )


def _form_page(
    request: Request, session: SessionDep, viewer: Viewer, *, error: str = "", code: int = 200
) -> Response:
    stations = api_stations.list_stations(session, viewer.principal, limit=1000).items
    return page(
        request,
        viewer,
        "provision.html",
        status_code=code,
        stations=stations,
        algorithms=list(Algorithm),
        error=error,
    )


@router.get("/gateways/provision")
def provision_form(request: Request, session: SessionDep, viewer: Manager) -> Response:
    return _form_page(request, session, viewer)


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


@router.post("/gateways/provision")
def provision(
    request: Request, session: SessionDep, state: StateDep, viewer: Manager, form: CheckedForm
) -> Response:
    station = _text(form, "station") or ""
    try:
        body = api.ProvisionIn(
            gateway=_text(form, "gateway") or "",
            alg=Algorithm(_text(form, "alg") or Algorithm.ED25519.value),
            credential=_text(form, "credential") or "password",
            mqtt_password=_text(form, "mqtt_password"),
            rotate_mqtt_password=_text(form, "rotate") == "1",
            description=_text(form, "description") or "",
        )
        # The API's provisioning: registry rows, broker account, key, bundle files.
        bundle = api.provision(session, state, viewer.principal, station, body)
    except (ValidationError, ValueError) as exc:
        session.rollback()
        return _form_page(request, session, viewer, error=str(exc)[:400], code=422)
    except RegistryError as exc:
        session.rollback()
        return _form_page(request, session, viewer, error=str(exc), code=409)
    except HTTPException as exc:
        session.rollback()
        if exc.status_code == 404:
            raise
        return _form_page(request, session, viewer, error=str(exc.detail), code=exc.status_code)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in sorted(bundle.files.items()):
            info = zipfile.ZipInfo(f"{bundle.gateway}/{name}")
            info.external_attr = 0o600 << 16  # secrets: readable by their owner only
            z.writestr(info, content)
        z.writestr(f"{bundle.gateway}/NOTES.txt", "\n".join(bundle.notes) + "\n")
    response = Response(out.getvalue(), media_type="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{bundle.gateway}-bundle.zip"'
    finish(request, viewer, response)
    return response
