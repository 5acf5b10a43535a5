"""Pages: the Jinja2 environment, the navigation a role sees, and the response helpers.

Templates are autoescaped; nothing in them is inline script or style (the console runs under
a Content-Security-Policy of ``'self'`` only), so charts are SVG with classes, and behaviour
lives in ``static/console.js``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.console.i18n import Lang, label, pick_lang, translate
from fuelwatch.cloud.console.session import (
    LANG_COOKIE,
    Viewer,
    csrf_seed,
    csrf_token,
    set_session,
)
from fuelwatch.core import __version__

__all__ = [
    "LOCAL_UTC_OFFSET",
    "LOCAL_ZONE",
    "NavItem",
    "local_time",
    "nav_for",
    "page",
    "redirect",
    "viewer_lang",
]

TEMPLATES = Path(__file__).parent / "templates"
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")  # the departments' calendar and clocks
LOCAL_UTC_OFFSET = 8  # hours; China keeps no daylight saving time, so days start at 16:00 UTC
P = Permission

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    href: str


def nav_for(principal: Principal) -> list[NavItem]:
    """The menu a principal sees; every page checks the same permissions on the server."""
    if principal.station is not None:
        return [
            NavItem("nav_my_station", f"/console/stations/{quote(principal.station)}"),
            NavItem("nav_my_warnings", "/console/warnings"),
        ]
    items: list[NavItem] = []
    if principal.can(P.SUPERVISION_READ) and principal.can(P.REGISTRY_READ):
        items.append(NavItem("nav_stations", "/console/stations"))
    if principal.can(P.WARNING_READ):
        items.append(NavItem("nav_warnings", "/console/warnings"))
    if principal.can(P.DEPARTMENT_IMPORT):
        items.append(NavItem("nav_data", "/console/data"))
    if principal.can(P.SUPERVISION_READ) and principal.can(P.WARNING_READ):
        items.append(NavItem("nav_reports", "/console/reports"))
        items.append(NavItem("nav_wall", "/console/wall"))
    if principal.can(P.GATEWAY_PROVISION):
        items.append(NavItem("nav_gateways", "/console/gateways"))
        items.append(NavItem("nav_provision", "/console/gateways/provision"))
    return items


def home_of(principal: Principal) -> str:
    """Where a role starts: its own station, the gateways, the uploads, or the stations."""
    if principal.can(P.GATEWAY_PROVISION) and not principal.can(P.WARNING_READ):
        return "/console/gateways"
    items = nav_for(principal)
    return items[0].href if items else "/console/denied"


def viewer_lang(request: Request) -> Lang:
    return pick_lang(request.cookies.get(LANG_COOKIE))


def local_time(value: datetime | float | None, *, seconds: bool = False) -> str:
    """A time (aware datetime or ms since the epoch) on the departments' clock."""
    if value is None:
        return "—"
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value / 1000, tz=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def page(
    request: Request,
    viewer: Viewer | None,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = viewer_lang(request)

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    def lab(kind: str, code: str) -> str:
        return label(lang, kind, code)

    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    nav = nav_for(viewer.principal) if viewer else []
    path = request.url.path
    matching = [i.href for i in nav if path == i.href or path.startswith(i.href + "/")]
    body = _ENV.get_template(template).render(
        request=request,
        viewer=viewer.principal if viewer else None,
        nav=nav,
        active_href=max(matching, key=len, default=""),
        lang=lang,
        t=t,
        lab=lab,
        when=local_time,
        num=number,
        csrf=csrf_token(request),
        here=here,
        here_q=quote(here, safe=""),
        version=__version__,
        **context,
    )
    response = HTMLResponse(body, status_code=status_code)
    finish(request, viewer, response)
    return response


def finish(request: Request, viewer: Viewer | None, response: Response) -> None:
    """Store a refreshed token pair and the CSRF cookie on ``response``; never cache."""
    if viewer is not None and viewer.renewed is not None:
        set_session(request, response, viewer.renewed)
    csrf_seed(request, response)
    response.headers["Cache-Control"] = "no-store"


def redirect(request: Request, viewer: Viewer | None, url: str) -> RedirectResponse:
    """303 See Other: a POST's answer, so reloading does not post again."""
    response = RedirectResponse(url, status_code=303)
    finish(request, viewer, response)
    return response
