"""Request-scoped dependencies: the database session, who is asking, what they may do.

Every route takes a ``Principal`` through ``allow(Permission.X)``: no permission, 403. Rows
outside the principal's scope are filtered out of lists and answer 404 when named, exactly
like rows that do not exist, so neither a list nor a filter nor an id probe leaks them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from fuelwatch.cloud.accounts.audit_changes import CHANGES_KEY
from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.accounts.service import AuthError, authenticate_api_key, decode_access_token
from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.store.models.registry import Station

__all__ = [
    "MAX_ID",
    "AppState",
    "Offset",
    "Page",
    "RowId",
    "SessionDep",
    "allow",
    "identify",
    "not_found",
    "optional_principal",
    "visible_station",
]

T = TypeVar("T")
MAX_ID = 2_147_483_647  # row ids and offsets fit a 32-bit signed integer on every backend

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass(frozen=True, slots=True)
class AppState:
    settings: CloudSettings
    sessions: sessionmaker[Session]


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.fuelwatch
    return state


StateDep = Annotated[AppState, Depends(app_state)]


def get_session(request: Request, state: StateDep) -> Iterator[Session]:
    with state.sessions() as session:
        # the rows this request changes, before and after, for its audit row
        request.state.audit_changes = session.info.setdefault(CHANGES_KEY, [])
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


def current_principal(
    request: Request,
    state: StateDep,
    token: Annotated[str | None, Depends(oauth2)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    # A short session of its own: the route's session must not inherit the key's update.
    with state.sessions.begin() as session:
        try:
            if api_key:
                user, key = authenticate_api_key(session, api_key)
                principal = Principal.of(user, via=f"api_key:{key.key_id}")
            elif token:
                principal = Principal.of(decode_access_token(session, token, state.settings.api))
            else:
                raise AuthError("no_credentials", "not authenticated")  # noqa: TRY301
        except AuthError as exc:
            request.state.audit_reason = exc.reason
            raise unauthorized(str(exc)) from exc
    request.state.principal = principal
    return principal


def optional_principal(
    request: Request,
    state: StateDep,
    token: Annotated[str | None, Depends(oauth2)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal | None:
    """The principal if valid credentials came, else None (for answers that only add detail
    for those allowed, like ``/health``)."""
    if not token and not api_key:
        return None
    try:
        return current_principal(request, state, token, api_key)
    except HTTPException:
        return None


def identify(request: Request) -> Principal | None:
    """Who the request's credentials name, without side effects (nothing is committed): for
    the audit row of a request no route authenticated (an unmatched path, a 405)."""
    state: AppState = request.app.state.fuelwatch
    api_key = request.headers.get("x-api-key")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    with state.sessions() as session:
        try:
            if api_key:
                user, key = authenticate_api_key(session, api_key)
                return Principal.of(user, via=f"api_key:{key.key_id}")
            if scheme.lower() == "bearer" and token:
                return Principal.of(decode_access_token(session, token, state.settings.api))
        except AuthError:
            return None
        finally:
            session.rollback()
    return None


def allow(permission: Permission) -> Callable[..., Principal]:
    """Dependency: the principal, if its role grants ``permission``; else 403."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"your role ({principal.role}) may not {permission}"
            )
        return principal

    check.__name__ = f"allow_{permission.value.replace('.', '_')}"
    return check


def zone(name: str) -> ZoneInfo:
    """A time zone named in a request, or 422."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown time zone {name!r}"
        ) from exc


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


def visible_station(session: Session, principal: Principal, station_id: str) -> Station:
    station = session.get(Station, station_id)
    if station is None or not principal.sees(station=station.id, district=station.district_id):
        raise not_found(f"station {station_id}")
    return station
