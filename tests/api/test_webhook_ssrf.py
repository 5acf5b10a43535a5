"""Issue 13 #7: webhooks cannot reach loopback, link-local, private or metadata addresses.

Every refused address here is refused *before any connection is made*: registration only
resolves (address literals: no DNS at all, see tests/conftest.py), and the sender's HTTP
client is a transport that fails the test if it is ever called. Only the generic-error test
connects, to a closed port on loopback.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fuelwatch.cloud.alerts.settings import AlertSettings
from fuelwatch.cloud.alerts.subscriptions import fan_out
from fuelwatch.cloud.alerts.webhooks import WebhookSender
from fuelwatch.cloud.api.app import create_app
from fuelwatch.cloud.common.netguard import UrlRefused, parse_networks, pin, resolve_checked
from fuelwatch.cloud.store.models.alerts import (
    AlertOutbox,
    WebhookDelivery,
    WebhookSubscription,
)
from fuelwatch.core.timeutil import utcnow
from tests.api.conftest import ApiEnv, make_settings

REFUSED = [
    "http://127.0.0.1/hook",
    "http://0x7f000001/hook",  # 127.0.0.1 in hex
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://127.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "http://localhost:5432/",  # the database
    "http://0.0.0.0:1883/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # shared address space
    "http://[fd00:ec2::254]/",  # private IPv6 (a cloud's metadata too)
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
]
CREDENTIALS = ["http://user:pass@127.0.0.1/hook", "https://user@8.8.8.8/hook"]


@pytest.mark.parametrize("url", REFUSED + CREDENTIALS)
def test_the_guard_refuses_without_connecting(url: str) -> None:
    with pytest.raises(UrlRefused):
        resolve_checked(url)


async def test_each_delivery_is_checked_again_and_pinned() -> None:
    for url in REFUSED:
        with pytest.raises(UrlRefused):
            await pin(url)
    loopback = parse_networks(["127.0.0.0/8"])
    target = await pin("http://localhost:8080/hook?x=1", loopback)
    assert target.url == "http://127.0.0.1:8080/hook?x=1"  # connects to what was checked
    assert target.host_header == "localhost:8080"
    tls = await pin("https://127.0.0.1/hook", loopback)
    assert tls.extensions == {"sni_hostname": "127.0.0.1"}


def test_registration_refuses_internal_receivers(api: ApiEnv, tmp_path) -> None:
    settings = make_settings(str(api.engine.url), tmp_path)
    strict = settings.model_copy(update={"webhook_allow_networks": []})
    with TestClient(create_app(strict, engine=api.engine)) as client:
        for url in REFUSED + CREDENTIALS:
            r = client.post(
                "/api/v1/alerts/webhooks",
                json={"name": "probe", "url": url},
                headers=api.as_user("admin"),
            )
            assert r.status_code == 422, (url, r.text)
    with api.sessions() as session:
        assert session.scalars(select(WebhookSubscription)).all() == []


def _fail_if_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the sender connected to {request.url}")


async def test_the_sender_refuses_a_stored_internal_url_before_connecting(api: ApiEnv) -> None:
    # A URL stored before the guard existed (or edited in the database) is still refused.
    with api.sessions.begin() as session:
        session.add(
            WebhookSubscription(
                name="old",
                url="http://169.254.169.254/latest/meta-data/",
                secret="whsec_x",
                created_by="t",
            )
        )
    with api.sessions.begin() as session:
        rows = list(session.scalars(select(AlertOutbox)))
        assert fan_out(session, rows, now=utcnow()) == 3
    async with httpx.AsyncClient(transport=httpx.MockTransport(_fail_if_called)) as http:
        sender = WebhookSender(
            engine=api.engine,
            sessions=api.sessions,
            settings=AlertSettings(_env_file=None),  # type: ignore[call-arg]
            owner="test",
            http=http,
        )
        assert await sender.run_once() == 3
    with api.sessions() as session:
        errors = {d.last_error for d in session.scalars(select(WebhookDelivery))}
    assert errors == {"refused: the receiver's address is not allowed"}


async def test_delivery_errors_say_nothing_about_the_network(api: ApiEnv) -> None:
    # allowed (loopback is in the tests' allow-list), nothing listening on port 9
    r = api.client.post(
        "/api/v1/alerts/webhooks",
        json={"name": "closed", "url": "http://127.0.0.1:9/hook"},
        headers=api.as_user("admin"),
    )
    assert r.status_code == 201, r.text
    with api.sessions.begin() as session:
        assert fan_out(session, list(session.scalars(select(AlertOutbox))), now=utcnow()) == 3
    async with httpx.AsyncClient() as http:
        sender = WebhookSender(
            engine=api.engine,
            sessions=api.sessions,
            settings=AlertSettings(_env_file=None),  # type: ignore[call-arg]
            owner="test",
            http=http,
            allow_networks=api.settings.webhook_allow(),
        )
        assert await sender.run_once() == 3
    listed = api.client.get("/api/v1/alerts/deliveries", headers=api.as_user("admin")).json()
    assert {d["last_error"] for d in listed["items"]} == {"connection failed"}
