"""Alerts reach a real subscriber on the real broker (QoS 1), with a retained station summary,
and the ``warning_event`` points land in the real InfluxDB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from fuelwatch.cloud.store.influx import InfluxClient
from fuelwatch.cloud.store.models.alerts import AlertOutbox
from fuelwatch.cloud.store.models.warnings import Warning_, WarningEvent
from fuelwatch.core.mqtt import PublishRejectedError
from tests.alerts.helpers import add_reader, fast_settings, make_warnings, running, subscriber
from tests.support.env import StackEnv, eventually


def points(env: StackEnv) -> int:
    try:
        return len(env.query('SELECT "warning_id" FROM "warning_event"'))
    except RuntimeError:  # no database or measurement yet
        return 0


async def test_subscriber_gets_alerts_summary_and_points(
    make_env: Callable[..., StackEnv],
) -> None:
    env = make_env()
    async with InfluxClient(env.influx.url, env.db) as influx:
        await influx.create_database()
    reader, password = f"fuelwatch-reader-{uuid.uuid4().hex[:6]}", "reader-pass"
    add_reader(env.broker, reader, password, [env.district])
    events = make_warnings(env.sessions, env.district, "ST1", 6, close_every=4)  # 6 + 2 closes
    topic = f"alerts/v1/{env.district}/#"
    async with (
        subscriber(env.broker, reader, password, topic) as sub,
        running(env.settings, fast_settings(), env.engine),
    ):
        await eventually(lambda: len(sub.payloads()) >= events, timeout=20, what=f"{events} alerts")
        await eventually(lambda: points(env) >= events, timeout=20, what="points")

        # A read-only recipient cannot publish alerts of its own.
        with pytest.raises(PublishRejectedError) as refused:
            await sub.client.publish(f"alerts/v1/{env.district}/ST1/dispenser", b"{}", qos=1)
        assert refused.value.reason_code == 135

    alerts = [m for m in sub.messages if not m.topic.endswith("/summary")]
    assert all(m.qos == 1 for m in alerts)
    with env.sessions() as s:
        expected = {
            e.id: (e.action, w.category, w.id)
            for e, w in s.execute(
                select(WarningEvent, Warning_).join(
                    Warning_, Warning_.id == WarningEvent.warning_id
                )
            )
        }
        not_done = s.scalar(select(func.count()).where(AlertOutbox.done.is_(False)))
        open_by_category: dict[str, int] = {}
        for w in s.scalars(select(Warning_).where(Warning_.state != "closed")):
            open_by_category[w.category] = open_by_category.get(w.category, 0) + 1
    assert not_done == 0
    got = {p["event_id"]: p for p in sub.payloads()}
    assert set(got) == set(expected)  # every event, nothing else
    for event_id, (action, category, warning_id) in expected.items():
        p = got[event_id]
        assert (p["action"], p["category"]["code"], p["warning_id"]) == (
            action,
            category,
            warning_id,
        )
        assert p["district"] == env.district
        assert p["station"] == "ST1"
    topics = {m.topic for m in alerts}
    assert topics == {
        f"alerts/v1/{env.district}/ST1/totalizer_tampering",
        f"alerts/v1/{env.district}/ST1/unregistered_delivery",
    }

    # The summary is retained: a recipient that connects later gets it at once.
    summary_topic = f"alerts/v1/{env.district}/ST1/summary"
    async with subscriber(env.broker, reader, password, summary_topic) as late:
        await eventually(lambda: late.messages, timeout=10, what="retained summary")
    retained = late.messages[0]
    assert retained.retain
    import json  # noqa: PLC0415

    summary = json.loads(retained.payload)
    assert summary["open"] == sum(open_by_category.values()) == 4
    assert {c: v["open"] for c, v in summary["by_category"].items()} == open_by_category
    assert summary["by_category"]["unregistered_delivery"]["label_zh"] == "私自收油"

    # Points: one per state change (6 opened + 2 closed), exact, with the dashboard's shape.
    rows = env.query('SELECT "state", "warning_id", "rule", "category" FROM "warning_event"')
    assert len(rows) == events
    assert sorted(str(r["state"]) for r in rows) == ["closed"] * 2 + ["open"] * 6
    assert {str(r["rule"]) for r in rows} == {"test_rule"}


async def test_refused_publish_is_not_marked_published(
    make_env: Callable[..., StackEnv],
) -> None:
    """The broker answers 135 (ACL): the rows stay unpublished and are retried, not lost."""
    env = make_env()
    async with InfluxClient(env.influx.url, env.db) as influx:
        await influx.create_database()
    events = make_warnings(env.sessions, env.district, "ST1", 3)
    settings = fast_settings(topic_prefix="forbidden/v1")  # the cloud account may not write
    async with running(env.settings, settings, env.engine) as service:
        # Mosquitto answers PUBACK 135 and sometimes also drops the connection; either way the
        # rows must stay unpublished and be tried again.
        await eventually(
            lambda: (
                service.outbox.stats.publish_refused >= events
                and service.outbox.stats.publish_failures >= 2 * events
            ),
            timeout=20,
            what="refused publishes, retried",
        )
        assert "135" in service.outbox.stats.last_refusal
        assert service.outbox.stats.published == 0
    with env.sessions() as s:
        rows = list(s.scalars(select(AlertOutbox)))
    assert len(rows) == events
    assert all(r.published_at is None and not r.done for r in rows)
    assert all(r.stored_at is not None for r in rows)  # other stages went on


async def test_two_senders_share_the_outbox_without_repeats(
    make_env: Callable[..., StackEnv], registry_url: str
) -> None:
    """Two senders on one database: every alert once, the work really shared."""
    env = make_env(registry_url=registry_url)
    async with InfluxClient(env.influx.url, env.db) as influx:
        await influx.create_database()
    reader, password = f"fuelwatch-reader-{uuid.uuid4().hex[:6]}", "reader-pass"
    add_reader(env.broker, reader, password, [env.district])
    events = make_warnings(env.sessions, env.district, "ST1", 400)
    small = {"batch_size": 10, "lease_seconds": 30.0}
    async with (
        subscriber(env.broker, reader, password, f"alerts/v1/{env.district}/#") as sub,
        running(env.settings, fast_settings(**small), env.engine) as a,
        running(env.settings, fast_settings(**small), env.engine) as b,
    ):
        await eventually(lambda: len(sub.payloads()) >= events, timeout=60, what=f"{events} alerts")
        await asyncio.sleep(0.5)  # repeats would arrive now
    ids = [p["event_id"] for p in sub.payloads()]
    assert sorted(ids) == list(range(1, events + 1))  # each exactly once
    assert a.outbox.stats.published > 0
    assert b.outbox.stats.published > 0
    assert a.outbox.stats.published + b.outbox.stats.published == events
