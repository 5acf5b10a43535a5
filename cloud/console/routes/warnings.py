"""Warnings: the inbox, one warning with its evidence and timeline, and its workflow actions.

Each action calls the API's own route function (the same workflow, scope check, masking and
audit note); the permission each needs is the one the API's route declares, checked here
with ``Principal.can`` because the route's dependency does not run on a direct call.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.deps import MAX_ID, SessionDep, StateDep
from fuelwatch.cloud.api.routes import warnings as api
from fuelwatch.cloud.common.categories import Category, Severity
from fuelwatch.cloud.console.evidence import evidence_view
from fuelwatch.cloud.console.render import LOCAL_ZONE, page, redirect, viewer_lang
from fuelwatch.cloud.console.session import CheckedForm, Viewer, need
from fuelwatch.cloud.store.models.accounts import User
from fuelwatch.cloud.warnings.service import TRANSITIONS, Action, State, WorkflowError

router = APIRouter()
P = Permission
Reader = Annotated[Viewer, Depends(need(P.WARNING_READ))]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
PAGE_SIZE = 50

#: the permission each action's API route requires (routes/warnings.py: Handler, Escalator...)
ACTION_PERMISSION: dict[str, Permission] = {
    Action.ACKNOWLEDGE: P.WARNING_HANDLE,
    Action.ASSIGN: P.WARNING_HANDLE,
    Action.REQUEST_RECTIFICATION: P.WARNING_HANDLE,
    Action.RESPOND: P.WARNING_RESPOND,
    Action.ESCALATE: P.WARNING_ESCALATE,
    Action.CLOSE: P.WARNING_HANDLE,
    "comment": P.WARNING_COMMENT,
}


E = TypeVar("E", Category, Severity, State)


def _enum(kind: type[E], value: str | None) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise HTTPException(422, f"unknown {kind.__name__.lower()} {value[:40]!r}") from exc


@router.get("/warnings")
def inbox(
    request: Request,
    session: SessionDep,
    viewer: Reader,
    category: Annotated[str | None, Query(max_length=40)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
    station: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    principal = viewer.principal
    states: list[State] | None
    if not state:  # the inbox: everything not yet closed
        states = [s for s in State if s is not State.CLOSED]
    elif state == "all":
        states = None
    else:
        states = [_enum(State, state) or State.OPEN]
    found = api.list_warnings(
        session,
        principal,
        station=station or None,
        category=_enum(Category, category),
        severity=_enum(Severity, severity),
        state=states,
        limit=PAGE_SIZE,
        offset=offset,
    )
    return page(
        request,
        viewer,
        "warnings.html",
        found=found,
        categories=list(Category),
        severities=list(Severity),
        states=list(State),
        f_category=category or "",
        f_severity=severity or "",
        f_state=state or "",
        f_station=station or "",
        page_size=PAGE_SIZE,
    )


def _available(principal: Principal, warning_state: str) -> set[str]:
    """The actions this principal may take on a warning in ``warning_state`` now."""
    allowed = {
        a.value
        for a, (starts, _) in TRANSITIONS.items()
        if State(warning_state) in starts and principal.can(ACTION_PERMISSION[a])
    }
    if principal.can(P.WARNING_COMMENT):
        allowed.add("comment")
    return allowed


def _assignees(session: SessionDep, station: str, district: str) -> list[User]:
    users = session.scalars(select(User).where(User.disabled.is_(False)).order_by(User.username))
    out = []
    for user in users:
        candidate = Principal.of(user)
        if candidate.can(P.WARNING_HANDLE) and candidate.sees(station=station, district=district):
            out.append(user)
    return out


@router.get("/warnings/{warning_id}")
def warning_page(
    request: Request,
    session: SessionDep,
    viewer: Reader,
    warning_id: RowId,
    done: Annotated[str | None, Query(max_length=40)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    principal = viewer.principal
    detail = api.get_warning(request, session, principal, warning_id)  # 404 outside the scope
    available = _available(principal, detail.state)
    rectification = next(
        (e for e in reversed(detail.events) if e.action == Action.REQUEST_RECTIFICATION), None
    )
    return page(
        request,
        viewer,
        "warning.html",
        w=detail,
        ev=evidence_view(detail.evidence, viewer_lang(request), detail.id),
        available=available,
        assignees=_assignees(session, detail.station, detail.district)
        if "assign" in available
        else [],
        internal_ok=principal.can(P.WARNING_INTERNAL),
        rectification=rectification,
        done=done,
        error=error,
    )


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _due(value: str) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not a date: {value[:20]!r}") from exc
    if day.tzinfo is None:  # a date input: the end of that day on the departments' clock
        day = datetime.combine(day.date(), time(23, 59, 59), tzinfo=LOCAL_ZONE)
    return day


@router.post("/warnings/{warning_id}/{action}")
async def act(
    request: Request,
    session: SessionDep,
    state: StateDep,
    viewer: Reader,
    warning_id: RowId,
    action: str,
    form: CheckedForm,
) -> Response:
    principal = viewer.principal
    permission = ACTION_PERMISSION.get(action)
    if permission is None:
        raise HTTPException(404, f"no action {action[:40]!r}")
    if not principal.can(permission):
        raise HTTPException(403, f"your role ({principal.role}) may not {permission}")
    back = f"/console/warnings/{warning_id}"
    note = _text(form, "note")
    try:
        if action == Action.ACKNOWLEDGE:
            api.acknowledge(request, session, principal, warning_id, api.NoteIn(note=note))
        elif action == Action.ASSIGN:
            assignee = int(_text(form, "assignee_id") or 0)
            body = api.AssignIn(note=note, assignee_id=assignee)
            api.assign(request, session, principal, warning_id, body)
        elif action == Action.REQUEST_RECTIFICATION:
            body_r = api.RectificationIn(note=note, due=_due(_text(form, "due")))
            api.request_rectification(request, session, principal, warning_id, body_r)
        elif action == Action.ESCALATE:
            api.escalate(request, session, principal, warning_id, api.NoteIn(note=note))
        elif action == Action.CLOSE:
            body_c = api.CloseIn(resolution=_text(form, "resolution"))
            api.close(request, session, principal, warning_id, body_c)
        elif action == Action.RESPOND:
            files = [
                f
                for f in form.getlist("files")
                if isinstance(f, UploadFile) and (f.filename or f.size)
            ]
            if not note:
                return redirect(request, viewer, f"{back}?error={quote('note: required')}#actions")
            await api.respond(request, state, principal, warning_id, note, files)  # type: ignore[arg-type]
        else:
            internal = _text(form, "internal") == "1"
            body_m = api.CommentIn(body=_text(form, "body"), internal=internal)
            api.comment(request, session, principal, warning_id, body_m)
    except (ValidationError, ValueError, WorkflowError) as exc:
        message = _problem(exc)
        return redirect(request, viewer, f"{back}?error={quote(message)}#actions")
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        return redirect(request, viewer, f"{back}?error={quote(str(exc.detail))}#actions")
    return redirect(request, viewer, f"{back}?done={quote(action)}")


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())[
            :400
        ]
    return str(exc)[:400]


@router.get("/warnings/{warning_id}/attachments/{attachment_id}")
def attachment(
    request: Request,
    session: SessionDep,
    state: StateDep,
    viewer: Reader,
    warning_id: RowId,
    attachment_id: RowId,
) -> Response:
    response = api.download(request, session, state, viewer.principal, warning_id, attachment_id)
    response.headers["Cache-Control"] = "no-store"
    return response
