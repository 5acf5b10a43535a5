"""Logging in (OAuth2 password flow), refreshing, logging out, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.service import (
    AccountError,
    AuthError,
    TokenPair,
    authenticate,
    issue_tokens,
    refresh_tokens,
    revoke_refresh_family,
    set_password,
)
from fuelwatch.cloud.api.audit_log import note
from fuelwatch.cloud.api.deps import StateDep, current_principal, unauthorized
from fuelwatch.cloud.store.models.accounts import RefreshToken

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class MeOut(BaseModel):
    user_id: int
    username: str
    role: str
    department: str
    districts: list[str] | None = Field(description="null: every district")
    station: str | None
    permissions: list[str]
    via: str


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(min_length=12, max_length=256)


def _token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
    )


@router.post("/token", summary="Log in (OAuth2 password flow)")
def login(
    request: Request, state: StateDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenOut:
    note(request, actor=form.username[:64], action="login", resource="auth")
    with state.sessions() as session:
        try:
            user = authenticate(session, form.username, form.password, state.settings.api)
        except AuthError as exc:
            session.commit()  # the failure count and any lockout must stick
            request.state.audit_reason = exc.reason
            raise unauthorized(str(exc)) from exc
        pair = issue_tokens(session, user, state.settings.api)
        session.commit()
    request.state.audit_reason = "ok"
    return _token_out(pair)


@router.post("/refresh", summary="Exchange a refresh token for a new token pair")
def refresh(request: Request, state: StateDep, body: RefreshIn) -> TokenOut:
    note(request, action="refresh", resource="auth")
    with state.sessions() as session:
        try:
            user, pair = refresh_tokens(session, body.refresh_token, state.settings.api)
        except AuthError as exc:
            session.commit()  # a detected reuse revokes the family: keep that
            request.state.audit_reason = exc.reason
            raise unauthorized(str(exc)) from exc
        session.commit()
        note(request, actor=user.username)
    return _token_out(pair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End a session")
def logout(
    state: StateDep,
    body: RefreshIn,
    principal: Annotated[Principal, Depends(current_principal)],
) -> None:
    import jwt  # noqa: PLC0415

    try:
        jti = jwt.decode(
            body.refresh_token,
            state.settings.api.jwt_secret,
            algorithms=["HS256"],
            options={"verify_exp": False},
        ).get("jti")
    except jwt.InvalidTokenError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid token") from exc
    with state.sessions.begin() as session:
        row = session.get(RefreshToken, str(jti))
        if row is not None and row.user_id == principal.user_id:
            revoke_refresh_family(session, row.family)


@router.get("/me", summary="Who am I: role, scope and permissions")
def me(principal: Annotated[Principal, Depends(current_principal)]) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role.value,
        department=principal.department,
        districts=sorted(principal.districts) if principal.districts is not None else None,
        station=principal.station,
        permissions=sorted(p.value for p in principal.permissions),
        via=principal.via,
    )


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, summary="Change my own password")
def change_password(
    state: StateDep,
    body: PasswordChange,
    principal: Annotated[Principal, Depends(current_principal)],
) -> None:
    with state.sessions() as session:
        try:
            user = authenticate(
                session, principal.username, body.current_password, state.settings.api
            )
        except AuthError as exc:
            session.commit()
            raise HTTPException(status.HTTP_403_FORBIDDEN, "current password is wrong") from exc
        try:
            set_password(session, user, body.new_password)
        except AccountError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        session.commit()
