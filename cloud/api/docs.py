"""``/docs``: Swagger UI from the installed ``swagger-ui-bundle-v2`` package, never a CDN.

Government networks are often air-gapped, and FastAPI's own ``/docs`` page fetches Swagger UI
from a CDN (and runs an inline script, which the Content Security Policy forbids). Here the
page, its assets and its init script all come from this server: the page is static HTML with
no inline script or style; ``/docs/init.js`` starts Swagger UI on ``/openapi.json``.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "mount_docs"]

ASSETS = Path(swagger_ui_bundle.swagger_ui_path)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  persistAuthorization: false,
});
"""


def mount_docs(app: FastAPI, *, title: str) -> None:
    """Serve the page, its init script and the package's assets (create the app with
    ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not served)."""
    page = PAGE.format(title=title)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/init.js", include_in_schema=False)
    async def init() -> Response:
        return Response(INIT, media_type="text/javascript")

    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")
