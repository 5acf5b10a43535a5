"""The console's login session: the API's own tokens, carried in HttpOnly cookies.

A person logs in with the API's ``authenticate`` and gets the API's token pair
(``issue_tokens``). The access token sits in ``fw_access``, the refresh token in ``fw_refresh``;
both are HttpOnly, ``SameSite=Strict``, limited to ``/console`` and ``Secure`` whenever the
request came over HTTPS. Each request resolves the principal exactly as the API does
(``decode_access_token`` → ``Principal.of``); an expired access token is exchanged with
``refresh_tokens`` (single use, reuse revokes the family), and logging out revokes the
family. So lockout, password changes, disabled users and revocation behave the same in the
console and the API, and a role's permissions come from the one table in ``accounts.roles``.

Refresh tokens are spent once, but a browser may send two requests with the same expired
access token at once (two tabs): the new pair is kept for a minute under the spent token's
hash, so the second request gets the same pair instead of tripping the reuse detector.

Forms carry a CSRF token: HMAC(jwt secret, ``fw_csrf`` cookie). The cookie is random per
browser; a page of another origin can neither read it nor compute the token. ``SameSite=Strict``
and an ``Origin`` check are the second and third locks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response, status
from starlette.datastructures import FormData

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.accounts.service import (
    AuthError,
    TokenPair,
    decode_access_token,
    refresh_tokens,
)
from fuelwatch.cloud.api.deps import AppState, app_state

__all__ = [
    "ACCESS_COOKIE",
    "CSRF_COOKIE",
    "REFRESH_COOKIE",
    "CheckedForm",
    "LoginRequired",
    "Viewer",
    "clear_session",
    "csrf_token",
    "current_viewer",
    "need",
    "rotate_csrf",
    "set_session",
]

ACCESS_COOKIE = "fw_access"
REFRESH_COOKIE = "fw_refresh"
CSRF_COOKIE = "fw_csrf"
LANG_COOKIE = "fw_lang"
COOKIE_PATH = "/console"
_GRACE_SECONDS = 60.0


class LoginRequired(Exception):
    """No valid session: the handler sends the browser to the login page."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at a console page, and the token pair to store if it was refreshed."""

    principal: Principal
    renewed: TokenPair | None = None


class _RecentRefreshes:
    """Refresh results of the last minute, by the spent token's hash (see module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: dict[str, tuple[float, TokenPair]] = {}

    def lock(self) -> threading.Lock:
        return self._lock

    def get(self, token: str) -> TokenPair | None:
        now = time.monotonic()
        self._pairs = {k: v for k, v in self._pairs.items() if now - v[0] < _GRACE_SECONDS}
        found = self._pairs.get(_digest(token))
        return found[1] if found else None

    def put(self, token: str, pair: TokenPair) -> None:
        self._pairs[_digest(token)] = (time.monotonic(), pair)


_RECENT = _RecentRefreshes()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _principal(state: AppState, access: str) -> Principal:
    with state.sessions.begin() as session:
        return Principal.of(decode_access_token(session, access, state.settings.api))


def _refreshed(state: AppState, refresh: str) -> TokenPair:
    with _RECENT.lock():
        pair = _RECENT.get(refresh)
        if pair is not None:
            return pair
        with state.sessions() as session:
            try:
                _, pair = refresh_tokens(session, refresh, state.settings.api)
            finally:
                session.commit()  # a detected reuse revokes the family: keep that
        _RECENT.put(refresh, pair)
        return pair


def current_viewer(request: Request) -> Viewer:
    """The signed-in principal, refreshing an expired access token; else ``LoginRequired``."""
    state: AppState = app_state(request)
    access = request.cookies.get(ACCESS_COOKIE, "")
    refresh = request.cookies.get(REFRESH_COOKIE, "")
    renewed: TokenPair | None = None
    try:
        if not access:
            raise AuthError("no_credentials", "not authenticated")  # noqa: TRY301
        principal = _principal(state, access)
    except AuthError as exc:
        if (exc.reason != "expired" and access) or not refresh:
            request.state.audit_reason = exc.reason
            raise LoginRequired from exc
        try:
            renewed = _refreshed(state, refresh)
            principal = _principal(state, renewed.access_token)
        except AuthError as again:
            request.state.audit_reason = again.reason
            raise LoginRequired from again
    request.state.principal = principal  # the audit row names who it was
    return Viewer(principal, renewed)


def need(*permissions: Permission) -> Callable[..., Viewer]:
    """Dependency: the viewer, if their role grants every one of ``permissions``; else 403."""

    def check(viewer: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
        missing = [p for p in permissions if not viewer.principal.can(p)]
        if missing:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role may not {missing[0]}")
        return viewer

    check.__name__ = "need_" + "_".join(p.value.replace(".", "_") for p in permissions)
    return check


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def set_session(request: Request, response: Response, pair: TokenPair) -> None:
    hours = app_state(request).settings.api.refresh_token_hours
    _cookie(request, response, ACCESS_COOKIE, pair.access_token, int(hours * 3600))
    _cookie(request, response, REFRESH_COOKIE, pair.refresh_token, int(hours * 3600))


def clear_session(response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path=COOKIE_PATH)


def csrf_seed(request: Request, response: Response | None = None) -> str:
    """This browser's CSRF cookie value; made (and set on ``response``) when missing."""
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_seed", None)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.csrf_seed = seed
    if response is not None and request.cookies.get(CSRF_COOKIE) != seed:
        _cookie(request, response, CSRF_COOKIE, seed, 30 * 86_400)
    return str(seed)


def rotate_csrf(request: Request, response: Response) -> None:
    """A new CSRF seed at login: a seed planted before the login is worth nothing after it."""
    request.state.csrf_seed = secrets.token_urlsafe(24)
    _cookie(request, response, CSRF_COOKIE, request.state.csrf_seed, 30 * 86_400)


def csrf_token(request: Request) -> str:
    secret = app_state(request).settings.api.jwt_secret.encode()
    return hmac.new(secret, b"csrf:" + csrf_seed(request).encode(), hashlib.sha256).hexdigest()


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after its CSRF token and Origin were checked (403 otherwise)."""
    origin = request.headers.get("origin")
    # the host, not the scheme: behind a TLS proxy the app itself may see plain HTTP
    if origin is not None and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "form posted from another site")
    form = await request.form()
    sent = form.get("csrf")
    if not request.cookies.get(CSRF_COOKIE) or not isinstance(sent, str):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form has expired: reload the page")
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form has expired: reload the page")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
