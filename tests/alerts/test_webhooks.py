"""Webhooks on a real HTTP receiver: signatures it can verify, filters, backoff, dead letters
and requeue."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from fuelwatch.cloud.alerts import SignatureError, sign, verify
from fuelwatch.cloud.alerts.settings import AlertSettings
from fuelwatch.cloud.alerts.subscriptions import (
    SubscriptionError,
    SubscriptionSpec,
    create_subscription,
    requeue_delivery,
)
from fuelwatch.cloud.common.netguard import parse_networks
from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.models.alerts import DeliveryStatus, WebhookDelivery
from tests.alerts.helpers import Receiver, fast_settings, make_warnings, running
from tests.support.env import StackEnv, eventually

SECRET = "whsec_test"


# -- signing ---------------------------------------------------------------------------------


LOOPBACK = parse_networks(["127.0.0.0/8"])  # the tests' receivers; refused by default


def test_signature_round_trip_and_refusals() -> None:
    body = '{"event_id":7,"title_zh":"私自收油"}'.encode()
    header = sign(SECRET, body, timestamp=1_700_000_000)
    assert verify(SECRET, body, header, now=1_700_000_100) == 1_700_000_000
    refusals = {
        "tampered body": (SECRET, body.replace(b"7", b"8"), header, 1_700_000_100),
        "wrong secret": ("whsec_other", body, header, 1_700_000_100),
        "replayed after the window": (SECRET, body, header, 1_700_000_000 + 301),
        "from the future": (SECRET, body, header, 1_700_000_000 - 301),
        "no header": (SECRET, body, None, 1_700_000_100),
        "no timestamp": (SECRET, body, "v1=" + "0" * 64, 1_700_000_100),
        "garbage": (SECRET, body, "nonsense", 1_700_000_100),
    }
    for why, (secret, b, h, now) in refusals.items():
        with pytest.raises(SignatureError):  # noqa: PT012 - name the case that got through
            verify(secret, b, h, now=now)
            pytest.fail(f"accepted: {why}")
    # A header with the old and the new secret's MAC passes either receiver (rotation).
    old, new = sign("whsec_old", body, timestamp=5), sign("whsec_new", body, timestamp=5)
    both = f"{old},{new.split(',')[1]}"
    assert verify("whsec_old", body, both, now=5) == verify("whsec_new", body, both, now=5) == 5


@pytest.mark.parametrize(
    ("attempts", "low", "high"),  # the table in docs/alerts.md, "Retries and dead letters"
    [(1, 2.5, 5), (2, 5, 10), (3, 10, 20), (8, 320, 640), (10, 1280, 2560), (11, 1800, 3600)],
)
def test_default_schedule_is_the_documented_one(attempts: int, low: float, high: float) -> None:
    policy = AlertSettings(_env_file=None).webhook_retry  # type: ignore[call-arg]
    n = attempts - 1  # waits before this one
    assert policy.delay(n, lambda: 0.0) == high
    assert policy.delay(n, lambda: 1.0 - 2**-53) == pytest.approx(low)  # equal jitter: d/2
    assert not policy.exhausted(attempts, 24 * 3600 - 1)
    assert policy.exhausted(12, 0)  # dead after 12 attempts ...
    assert policy.exhausted(attempts, 24 * 3600)  # ... or a failure 24 h after it was made


def test_retry_settings_come_from_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUELWATCH_ALERTS_WEBHOOK_RETRY__CAP", "600")
    monkeypatch.setenv("FUELWATCH_ALERTS_MQTT_RETRY__BASE", "0.1")
    settings = AlertSettings(_env_file=None)  # type: ignore[call-arg]
    webhook, mqtt = settings.webhook_retry, settings.mqtt_retry
    # one field changed, the loop's other defaults kept (not the class's)
    assert (webhook.base, webhook.cap, webhook.jitter, webhook.max_attempts) == (5, 600, 0.5, 12)
    assert (mqtt.base, mqtt.factor, mqtt.cap) == (0.1, 1.5, 30)


def test_subscription_specs_are_checked(env: StackEnv) -> None:
    with env.sessions.begin() as session:
        for bad in (
            SubscriptionSpec(name="x", url="ftp://example.org/"),
            SubscriptionSpec(name="x", url="http:///nohost"),
            SubscriptionSpec(name=" ", url="http://127.0.0.1:9/"),
            SubscriptionSpec(name="x", url="http://127.0.0.1:9/", categories=["nope"]),
            SubscriptionSpec(name="x", url="http://127.0.0.1:9/", min_severity="urgent"),
        ):
            with pytest.raises(SubscriptionError):
                create_subscription(session, bad, created_by="test", allow=LOOPBACK)


# -- delivery --------------------------------------------------------------------------------


async def _with_db(env: StackEnv) -> None:
    async with InfluxClient(env.influx.url, env.db) as influx:
        await influx.create_database()


def _deliveries(env: StackEnv, sub_id: int) -> list[WebhookDelivery]:
    with env.sessions() as s:
        return list(
            s.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.subscription_id == sub_id)
                .order_by(WebhookDelivery.id)
            )
        )


async def test_receiver_verifies_every_delivery_and_filters_apply(
    make_env: Callable[..., StackEnv],
) -> None:
    env = make_env()
    await _with_db(env)
    everything, critical_deliveries = Receiver(), Receiver()
    with env.sessions.begin() as session:
        all_sub = create_subscription(
            session,
            SubscriptionSpec(name="all", url=everything.url),
            created_by="test",
            allow=LOOPBACK,
        )
        narrow = create_subscription(
            session,
            SubscriptionSpec(
                name="critical deliveries",
                url=critical_deliveries.url,
                districts=[env.district],
                categories=["unregistered_delivery"],
                min_severity="critical",
            ),
            created_by="test",
            allow=LOOPBACK,
        )
        everything.secret, critical_deliveries.secret = all_sub.secret, narrow.secret
    assert all_sub.secret.startswith("whsec_")
    assert all_sub.secret != narrow.secret
    with everything.serving(), critical_deliveries.serving():
        events = make_warnings(env.sessions, env.district, "ST1", 6)
        async with running(env.settings, fast_settings(), env.engine):
            await eventually(
                lambda: len(everything.received) >= events, timeout=20, what="deliveries"
            )
            await eventually(lambda: critical_deliveries.received, timeout=10, what="narrow")
    assert everything.rejected == []
    assert critical_deliveries.rejected == []
    assert sorted(everything.event_ids()) == list(range(1, events + 1))
    # make_warnings: odd i = unregistered_delivery, i % 3 == 0 = critical -> only i = 3.
    [only] = critical_deliveries.received
    assert only.body["category"]["code"] == "unregistered_delivery"
    assert only.body["severity"] == "critical"
    assert only.body["subject"] == "tank:3"
    assert only.body["event_id"] == only.event_id
    statuses = {d.status for d in _deliveries(env, all_sub.id)}
    assert statuses == {DeliveryStatus.DELIVERED}


async def test_failing_receiver_backs_off_goes_dead_and_requeue_delivers(
    make_env: Callable[..., StackEnv],
) -> None:
    env = make_env()
    await _with_db(env)
    receiver = Receiver()
    receiver.fail_with = 503
    with env.sessions.begin() as session:
        sub = create_subscription(
            session,
            SubscriptionSpec(name="flaky", url=receiver.url),
            created_by="test",
            allow=LOOPBACK,
        )
        receiver.secret = sub.secret
    make_warnings(env.sessions, env.district, "ST1", 1)
    settings = fast_settings(webhook_retry={"base": 0.4, "cap": 1.0, "max_attempts": 4})
    with receiver.serving():
        async with running(env.settings, settings, env.engine):
            await eventually(
                lambda: (
                    _deliveries(env, sub.id)[0].status == DeliveryStatus.DEAD
                    if _deliveries(env, sub.id)
                    else False
                ),
                timeout=30,
                what="a dead letter",
            )
            [dead] = _deliveries(env, sub.id)
            assert dead.attempts == receiver.failed == 4
            assert dead.response_code == 503
            assert dead.last_error.startswith("HTTP 503")
            assert dead.delivered_at is None
            assert receiver.received == []
            # Waits between attempts: between half and all of 0.4 s, 0.8 s, then the 1 s cap
            # (equal jitter), plus the poll interval and the request itself.
            gaps = [b - a for a, b in zip(receiver.failed_at, receiver.failed_at[1:], strict=False)]
            for n, gap in enumerate(gaps):
                d = min(1.0, 0.4 * 2**n)
                assert d / 2 - 0.05 <= gap <= d + 0.5, gaps

            receiver.fail_with = None
            with env.sessions.begin() as session:
                d = session.get(WebhookDelivery, dead.id)
                assert d is not None
                requeue_delivery(session, d)
                with pytest.raises(SubscriptionError):
                    requeue_delivery(session, d)  # only dead ones
            await eventually(lambda: receiver.received, timeout=20, what="requeued delivery")
    [done] = _deliveries(env, sub.id)
    assert done.status == DeliveryStatus.DELIVERED
    assert done.response_code == 204
    assert done.requeued_at is not None
    assert done.last_error == ""
    [got] = receiver.received
    assert (got.delivery_id, got.attempt) == (dead.id, 1)
