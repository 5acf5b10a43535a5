"""The audit log, for admins: append-only, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel

from fuelwatch.cloud.accounts.audit import AuditQuery, query_audit
from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.deps import Offset, Page, SessionDep, allow

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    user_id: int | None
    client_ip: str
    method: str
    path: str
    action: str
    resource: str
    resource_id: str
    station_id: str | None
    status: int
    detail: dict[str, Any]


@router.get("/audit", summary="Query the audit log")
def list_audit(
    session: SessionDep,
    _: Annotated[Principal, Depends(allow(Permission.AUDIT_READ))],
    actor: Annotated[str | None, Query(max_length=96)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    resource: Annotated[str | None, Query(max_length=64)] = None,
    resource_id: Annotated[str | None, Query(max_length=128)] = None,
    station: Annotated[str | None, Query(max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Page[AuditOut]:
    rows, total = query_audit(
        session,
        AuditQuery(
            actor=actor,
            action=action,
            resource=resource,
            resource_id=resource_id,
            station=station,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        ),
    )
    items = [
        AuditOut(
            id=r.id,
            at=r.at,
            actor=r.actor,
            user_id=r.user_id,
            client_ip=r.client_ip,
            method=r.method,
            path=r.path,
            action=r.action,
            resource=r.resource,
            resource_id=r.resource_id,
            station_id=r.station_id,
            status=r.status,
            detail=r.detail,
        )
        for r in rows
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)
