"""Department and station accounts, and machine clients' API keys (the security administrator).

Administrator accounts (system, security, audit) are out of the API's reach: they are made
and changed on the server (``fuelwatch cloud create-user``), so no administrator can grant
itself another's powers (docs/security.md, separation of duties).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import ADMIN_ROLES, Department, Permission, Role
from fuelwatch.cloud.accounts.service import create_api_key, create_user, set_password
from fuelwatch.cloud.api.deps import Offset, Page, RowId, SessionDep, allow, not_found
from fuelwatch.cloud.store.db import paginate
from fuelwatch.cloud.store.models.accounts import ApiKey, User, UserDistrict
from fuelwatch.cloud.store.models.registry import District
from fuelwatch.core.timeutil import utcnow

router = APIRouter(tags=["users"])
Admin = Annotated[Principal, Depends(allow(Permission.USER_MANAGE))]
NAME = r"^[A-Za-z0-9_.@-]{2,64}$"


class UserIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "li.officer",
                    "password": "a long passphrase",
                    "full_name": "李明",
                    "phone": "13812345678",
                    "department": "commerce",
                    "role": "officer",
                    "districts": ["binhai"],
                },
                {
                    "username": "st-bh0001",
                    "password": "station portal secret",
                    "department": "station",
                    "role": "station",
                    "station": "BH0001",
                },
            ]
        }
    )

    username: str = Field(pattern=NAME)
    password: str | None = Field(
        default=None, min_length=12, max_length=256, description="omit for a machine account"
    )
    full_name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=32, pattern=r"^[0-9+ -]*$")
    department: Department
    role: Role
    districts: list[str] = Field(default_factory=list, max_length=200)
    all_districts: bool = False
    station: str | None = Field(default=None, max_length=64)


class UserPatch(BaseModel):
    full_name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+ -]*$")
    role: Role | None = None
    districts: list[str] | None = Field(default=None, max_length=200)
    all_districts: bool | None = None
    disabled: bool | None = None
    unlock: bool = Field(default=False, description="clear a lockout after failed logins")


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    phone: str
    department: str
    role: str
    districts: list[str]
    all_districts: bool
    station: str | None
    disabled: bool
    locked_until: datetime | None
    machine: bool = Field(description="no password: logs in with API keys only")
    created_at: datetime


class PasswordReset(BaseModel):
    password: str = Field(min_length=12, max_length=256)


class ApiKeyIn(BaseModel):
    name: str = Field(default="", max_length=128, examples=["tax bureau nightly feed"])
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    api_key: str = Field(description="the key itself: shown once, send as X-API-Key")


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        phone=user.phone,
        department=user.department,
        role=user.role,
        districts=user.districts,
        all_districts=user.all_districts,
        station=user.station_id,
        disabled=user.disabled,
        locked_until=user.locked_until,
        machine=user.password_hash is None,
        created_at=user.created_at,
    )


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=key.key_id,
        name=key.name,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


def _user(session: SessionDep, user_id: RowId) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise not_found(f"user {user_id}")
    return user


def _console_only() -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        "administrator accounts are managed on the server (fuelwatch cloud create-user), "
        "not through the API",
    )


def _ordinary(session: SessionDep, user_id: RowId) -> User:
    """A user the API may change: not an administrator."""
    user = _user(session, user_id)
    if Role(user.role) in ADMIN_ROLES:
        raise _console_only()
    return user


@router.get("/users", summary="List users")
def list_users(
    session: SessionDep,
    _: Admin,
    department: Department | None = None,
    role: Role | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> Page[UserOut]:
    stmt = select(User)
    if department is not None:
        stmt = stmt.where(User.department == department.value)
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    rows, total = paginate(session, stmt, User.id, limit=limit, offset=offset)
    return Page(items=[user_out(u) for u in rows], total=total, limit=limit, offset=offset)


@router.post("/users", status_code=status.HTTP_201_CREATED, summary="Create a user")
def add_user(session: SessionDep, _: Admin, body: UserIn) -> UserOut:
    if body.role in ADMIN_ROLES:
        raise _console_only()
    user = create_user(
        session,
        username=body.username,
        password=body.password,
        department=body.department,
        role=body.role,
        districts=body.districts,
        all_districts=body.all_districts,
        station=body.station,
        full_name=body.full_name,
        phone=body.phone,
    )
    session.commit()
    return user_out(user)


@router.get("/users/{user_id}", summary="One user")
def get_user(session: SessionDep, _: Admin, user_id: RowId) -> UserOut:
    return user_out(_user(session, user_id))


@router.patch("/users/{user_id}", summary="Change a user's role, scope, state")
def patch_user(session: SessionDep, admin: Admin, user_id: RowId, body: UserPatch) -> UserOut:
    user = _ordinary(session, user_id)
    if body.role is not None:
        if body.role in ADMIN_ROLES:
            raise _console_only()
        if (body.role is Role.STATION) != (user.station_id is not None):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "station users keep the station role"
            )
        user.role = body.role.value
    if body.districts is not None:
        if user.station_id is not None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "a station user's scope is its station"
            )
        for district in body.districts:
            if session.get(District, district) is None:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, f"district {district} is not registered"
                )
        user.district_links = [UserDistrict(district_id=d) for d in sorted(set(body.districts))]
    if body.all_districts is not None and user.station_id is None:
        user.all_districts = body.all_districts
    if body.disabled is not None:
        if user.id == admin.user_id and body.disabled:
            raise HTTPException(status.HTTP_409_CONFLICT, "you cannot disable yourself")
        user.disabled = body.disabled
    for name in ("full_name", "phone"):
        value = getattr(body, name)
        if value is not None:
            setattr(user, name, value)
    if body.unlock:
        user.locked_until, user.failed_logins = None, 0
    session.commit()
    return user_out(user)


@router.post(
    "/users/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a user's password (ends their sessions)",
)
def reset_password(session: SessionDep, _: Admin, user_id: RowId, body: PasswordReset) -> None:
    set_password(session, _ordinary(session, user_id), body.password)
    session.commit()


@router.get("/users/{user_id}/api-keys", summary="A user's API keys")
def list_keys(session: SessionDep, _: Admin, user_id: RowId) -> list[ApiKeyOut]:
    _user(session, user_id)
    rows = session.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.key_id))
    return [_key_out(k) for k in rows]


@router.post(
    "/users/{user_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Make an API key for a (machine) user; the key is returned once",
)
def add_key(session: SessionDep, _: Admin, user_id: RowId, body: ApiKeyIn) -> ApiKeyCreated:
    key, plain = create_api_key(
        session, _ordinary(session, user_id), name=body.name, expires_at=body.expires_at
    )
    session.commit()
    return ApiKeyCreated(**_key_out(key).model_dump(), api_key=plain)


@router.post("/api-keys/{key_id}/revoke", summary="Revoke an API key")
def revoke_key(session: SessionDep, _: Admin, key_id: str) -> ApiKeyOut:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise not_found(f"API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.commit()
    return _key_out(key)
