"""Issue 13 #6 and the HTTP items of #9: body caps that never echo input, security headers,
attachments that cannot run script, monitoring endpoints closed, /docs without a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tests.api.conftest import ApiEnv

REFRESH = "/api/v1/auth/refresh"


def test_an_oversized_body_is_refused_before_it_is_read(api: ApiEnv) -> None:
    limit = api.settings.api.max_json_bytes
    body = b'{"refresh_token": "' + b"x" * (limit + 1) + b'"}'
    r = api.client.post(REFRESH, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert len(r.content) < 200


def test_a_chunked_oversized_body_is_cut_off(api: ApiEnv) -> None:
    limit = api.settings.api.max_json_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"refresh_token": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    r = api.client.post(REFRESH, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_validation_errors_never_echo_the_input(api: ApiEnv) -> None:
    secretish = "S3cret-" + "y" * 5000
    r = api.client.post(REFRESH, json={"refresh_token": secretish})
    assert r.status_code == 422
    assert "yyyy" not in r.text
    assert len(r.content) < 1000
    assert r.json()["detail"][0]["loc"] == ["body", "refresh_token"]


def test_security_headers_on_every_answer(api: ApiEnv) -> None:
    for r in (api.client.get("/api/v1/stations"), api.client.get("/health")):
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "style-src 'self'" in csp
        assert "img-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert r.headers["x-frame-options"] == "DENY"


def test_token_answers_are_not_cached(api: ApiEnv) -> None:
    r = api.client.post(REFRESH, json={"refresh_token": "not-a-token"})
    assert r.headers["cache-control"] == "no-store"
    r = api.client.get("/api/v1/auth/me", headers=api.as_user("officer1"))
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"


def test_attachments_are_served_as_inert_downloads(api: ApiEnv) -> None:
    w = api.world.warnings["S1"]
    base = f"/api/v1/warnings/{w}"
    supervisor, station = api.as_user("super1"), api.as_user("station1")
    api.client.post(f"{base}/acknowledge", json={"note": "收到"}, headers=supervisor)
    r = api.client.post(f"{base}/request-rectification", json={"note": "说明"}, headers=supervisor)
    assert r.status_code == 200, r.text
    evil = [
        ("files", ("x.html", b"<script>alert(1)</script>", "text/html")),
        ("files", ("x.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")),
        ("files", ("ok.png", b"\x89PNG fake", "image/png")),
    ]
    r = api.client.post(f"{base}/respond", data={"note": "附件"}, files=evil, headers=station)
    assert r.status_code == 200, r.text
    types = {}
    for att in r.json()["attachments"]:
        got = api.client.get(f"{base}/attachments/{att['id']}", headers=supervisor)
        assert got.status_code == 200
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in got.headers["content-security-policy"]
        types[att["filename"]] = got.headers["content-type"]
    assert types == {
        "x.html": "application/octet-stream",
        "x.svg": "application/octet-stream",
        "ok.png": "image/png",
    }


def test_metrics_and_health_detail_need_a_monitoring_account(api: ApiEnv) -> None:
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers=api.as_user("officer1")).status_code == 403
    assert api.client.get("/metrics", headers=api.as_user("admin")).status_code == 200
    anonymous = api.client.get("/health").json()
    assert set(anonymous) == {"status"}  # no version, no dependency detail
    detail = api.client.get("/health", headers=api.as_user("admin")).json()
    assert {"status", "version", "checks"} <= set(detail)


def test_docs_come_from_this_server_without_inline_code(api: ApiEnv) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "http://" not in html
    assert "https://" not in html  # no CDN
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts
    assert all('src="/docs/' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in html
    assert " style=" not in html
    for src in re.findall(r'(?:src|href)="(/docs/[^"]+)"', html):
        r = api.client.get(src)
        assert r.status_code == 200, src
        assert len(r.content) > 100, src
    assert (
        "javascript" in api.client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"]
    )
    assert api.client.get("/openapi.json").status_code == 200
