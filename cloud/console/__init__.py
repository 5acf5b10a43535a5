"""The web console: government portal, station portal and device-manager pages.

Served by the API's FastAPI application (``app.mount_console``), with the API's login, roles,
scopes and audit log; pages are server-made HTML with SVG charts, under a strict
Content-Security-Policy, in Chinese by default with an English switch. See docs/ui.md.
"""
