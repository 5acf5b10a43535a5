"""Webhook subscriptions, deliveries and dead letters through the API (admins only)."""

from __future__ import annotations

from sqlalchemy import select, update

from fuelwatch.cloud.alerts.subscriptions import fan_out
from fuelwatch.cloud.store.models.alerts import AlertOutbox, DeliveryStatus, WebhookDelivery
from fuelwatch.cloud.store.models.audit import AuditEntry
from fuelwatch.core.timeutil import utcnow
from tests.api.conftest import ApiEnv
from tests.api.world import USERS

BASE = "/api/v1/alerts"
SPEC = {
    "name": "税务局 tax bureau",
    "url": "http://127.0.0.1:9/tax-bureau",  # loopback, allowed in the tests' settings
    "districts": ["d1"],
    "categories": ["tax_control", "totalizer_tampering"],
    "min_severity": "medium",
}


def test_only_admins_manage_alerts(api: ApiEnv) -> None:
    for user in USERS:
        want = 200 if user == "admin" else 403
        for path in ("/webhooks", "/deliveries", "/dead-letters", "/outbox"):
            r = api.client.get(BASE + path, headers=api.as_user(user))
            assert r.status_code == want, (user, path, r.status_code)
        r = api.client.post(BASE + "/webhooks", json=SPEC, headers=api.as_user(user))
        assert r.status_code == (201 if user == "admin" else 403), (user, r.status_code)


def test_secret_is_shown_once_and_crud_works(api: ApiEnv) -> None:
    admin = api.as_user("admin")
    r = api.client.post(f"{BASE}/webhooks", json=SPEC, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) == 6 + 64
    sub_id = created["id"]
    assert created["categories"] == ["tax_control", "totalizer_tampering"]
    listed = api.client.get(f"{BASE}/webhooks", headers=admin).json()
    assert [s["id"] for s in listed] == [sub_id]
    assert "secret" not in listed[0]
    one = api.client.get(f"{BASE}/webhooks/{sub_id}", headers=admin).json()
    assert "secret" not in one
    with api.sessions() as s:  # the secret appears in no audit row
        details = [f"{a.path} {a.resource_id} {a.detail}" for a in s.scalars(select(AuditEntry))]
    assert details
    assert not any(secret in d for d in details)

    changed = SPEC | {"enabled": False, "min_severity": "critical", "districts": []}
    r = api.client.put(f"{BASE}/webhooks/{sub_id}", json=changed, headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["enabled"], r.json()["min_severity"], r.json()["districts"]) == (
        False,
        "critical",
        [],
    )
    rotated = api.client.post(f"{BASE}/webhooks/{sub_id}/rotate-secret", headers=admin).json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != secret

    for bad in ({**SPEC, "url": "ftp://x/"}, {**SPEC, "categories": ["nope"]}, {"name": "x"}):
        r = api.client.post(f"{BASE}/webhooks", json=bad, headers=admin)
        assert r.status_code == 422, (bad, r.text)

    assert api.client.delete(f"{BASE}/webhooks/{sub_id}", headers=admin).status_code == 204
    assert api.client.get(f"{BASE}/webhooks/{sub_id}", headers=admin).status_code == 404
    assert api.client.delete(f"{BASE}/webhooks/{sub_id}", headers=admin).status_code == 404


def test_dead_letters_are_listed_and_requeued(api: ApiEnv) -> None:
    admin = api.as_user("admin")
    sub_id = api.client.post(
        f"{BASE}/webhooks", json={"name": "all", "url": "http://127.0.0.1:9/"}, headers=admin
    ).json()["id"]
    # The world's three warnings each left an "opened" event in the outbox; fan them out as
    # the sender would, then let one delivery die.
    with api.sessions.begin() as session:
        rows = list(session.scalars(select(AlertOutbox).order_by(AlertOutbox.id)))
        assert fan_out(session, rows, now=utcnow()) == 3
    with api.sessions.begin() as session:
        first = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
        assert first is not None
        dead_id = first.id
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == dead_id)
            .values(status=DeliveryStatus.DEAD, attempts=12, last_error="HTTP 503: down")
        )
    page = api.client.get(f"{BASE}/deliveries", headers=admin).json()
    assert page["total"] == 3
    dead = api.client.get(f"{BASE}/dead-letters", headers=admin).json()
    assert [d["id"] for d in dead["items"]] == [dead_id]
    item = dead["items"][0]
    assert (item["status"], item["attempts"], item["last_error"]) == ("dead", 12, "HTTP 503: down")
    assert item["subscription_name"] == "all"
    assert item["action"] == "opened"
    assert item["warning_id"] in api.world.warnings.values()
    sub = api.client.get(f"{BASE}/webhooks/{sub_id}", headers=admin).json()
    assert (sub["pending"], sub["dead"]) == (2, 1)
    outbox = api.client.get(f"{BASE}/outbox", headers=admin).json()
    assert outbox["pending"] == 3
    assert outbox["deliveries"] == {"pending": 2, "dead": 1}

    r = api.client.post(f"{BASE}/deliveries/{dead_id}/requeue", headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
    assert r.json()["requeued_at"] is not None
    again = api.client.post(f"{BASE}/deliveries/{dead_id}/requeue", headers=admin)
    assert again.status_code == 409
    assert api.client.get(f"{BASE}/dead-letters", headers=admin).json()["total"] == 0
    missing = api.client.post(f"{BASE}/deliveries/999999/requeue", headers=admin)
    assert missing.status_code == 404
