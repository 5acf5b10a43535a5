"""Logging in and out of the console, the start page of each role, the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from fuelwatch.cloud.accounts.service import TokenPair
from fuelwatch.cloud.api.deps import app_state
from fuelwatch.cloud.api.routes import auth as api_auth
from fuelwatch.cloud.console.i18n import pick_lang
from fuelwatch.cloud.console.render import home_of, page, redirect
from fuelwatch.cloud.console.session import (
    LANG_COOKIE,
    REFRESH_COOKIE,
    CheckedForm,
    LoginRequired,
    Viewer,
    clear_session,
    current_viewer,
    rotate_csrf,
    set_session,
)

router = APIRouter()
MaybeViewer = Annotated[Viewer, Depends(current_viewer)]


def _safe_next(target: str | None) -> str:
    """Only a path of the console itself: never an open redirect to another site."""
    if not target:
        return "/console/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return "/console/"
    return target


@router.get("/")
def start(viewer: MaybeViewer, request: Request) -> Response:
    return redirect(request, viewer, home_of(viewer.principal))


@router.get("/login")
def login_page(
    request: Request, next_: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    return page(request, None, "login.html", next=_safe_next(next_), failed=False, username="")


@router.post("/login")
def login(request: Request, form: CheckedForm) -> Response:
    username = str(form.get("username") or "")[:64]
    password = str(form.get("password") or "")[:256]
    target = _safe_next(str(form.get("next") or ""))
    state = app_state(request)
    # The API's own login: the same lockout, audit row ("login" with its outcome) and tokens.
    try:
        out = api_auth.login(
            request,
            state,
            OAuth2PasswordRequestForm(username=username, password=password, scope=""),
        )
    except HTTPException:
        return page(
            request,
            None,
            "login.html",
            status_code=401,
            next=target,
            failed=True,
            username=username,
        )
    response = redirect(request, None, target)
    set_session(request, response, TokenPair(out.access_token, out.refresh_token, out.expires_in))
    rotate_csrf(request, response)
    return response


@router.post("/logout")
def logout(request: Request, form: CheckedForm) -> Response:
    del form  # checked: a logout must not be forced by another site either
    response = redirect(request, None, "/console/login")
    refresh = request.cookies.get(REFRESH_COOKIE)
    try:
        viewer = current_viewer(request)
    except LoginRequired:
        viewer = None
    if viewer is not None and refresh:
        # The API's logout: revokes the refresh token's whole family.
        api_auth.logout(
            app_state(request), api_auth.RefreshIn(refresh_token=refresh), viewer.principal
        )
    clear_session(response)
    return response


@router.get("/lang")
def switch_language(
    request: Request,
    to: Annotated[str, Query(max_length=2)] = "zh",
    next_: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    response = RedirectResponse(_safe_next(next_), status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        pick_lang(to),
        max_age=365 * 86_400,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/denied")
def denied(request: Request, viewer: MaybeViewer) -> Response:
    return page(request, viewer, "error.html", status_code=403, key="forbidden", detail="")
