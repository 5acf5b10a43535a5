"""Refused messages become one cloud_data warning per station, with evidence."""

from __future__ import annotations

import base64

from fuelwatch.cloud.ingest.streaming.rules import REJECTED_DATA, SIGNATURE_FAILURE, STREAMING_RULES
from fuelwatch.cloud.rules.store import list_rules
from tests.streaming.support import (
    FAST,
    signed,
    station_client,
    tampered,
    thresholds,
    topic_of,
    warnings,
)
from tests.support.env import StackEnv, eventually


async def test_tampered_signature_raises_one_warning_with_evidence(env: StackEnv) -> None:
    a = env.provision("SG01")
    clean = env.provision("SG02")
    ta = topic_of(env, "SG01")
    thresholds(env, SIGNATURE_FAILURE, min_failures=3, window_seconds=60)
    async with env.ingest(**FAST) as ingest, station_client(env, a) as ca:
        await ca.publish(ta, signed(a, ta, 1))
        for seq in (2, 3):
            await ca.publish(ta, tampered(a, ta, seq))
        await eventually(lambda: ingest.stats.rejected["bad_signature"] == 2, what="2 rejected")
        await eventually(lambda: ingest.streaming and ingest.streaming.stats.ticks >= 3)
        assert warnings(env, SIGNATURE_FAILURE) == []  # 2 < min_failures
        for seq in range(4, 40):
            await ca.publish(ta, tampered(a, ta, seq))
        got = await eventually(
            lambda: [w for w in warnings(env, SIGNATURE_FAILURE) if w["evidence"]["total"] == 38],
            what="warning counting all 38 failures",
        )
        async with station_client(env, clean) as cc:  # a clean station stays clean
            tc = topic_of(env, "SG02")
            await cc.publish(tc, signed(clean, tc, 1))
            await env.wait_count("tank_inventory", 2)
    all_warnings = warnings(env, SIGNATURE_FAILURE)
    assert len(all_warnings) == 1  # many bad messages, one warning, updated
    w = got[0]
    assert (w["station"], w["subject"], w["category"], w["severity"]) == (
        "SG01",
        "station",
        "cloud_data",
        "high",
    )
    ev = w["evidence"]
    assert ev["by_reason"] == {"bad_signature": 38}
    assert ev["topics"] == [ta]
    assert ev["gateways"] == [a.gateway_id]
    assert ev["seqs"][-1] == 39
    assert ev["threshold"] == 3
    assert ev["window_seconds"] == 60
    # rate-limited: far fewer updates than messages
    assert 1 <= w["occurrences"] < 38
    # every sample names a row of `rejected` that holds the refused payload
    assert ev["samples"]
    for sample in ev["samples"]:
        rows = env.query(sample["query"])
        assert len(rows) == 1
        assert rows[0]["reason"] == "bad_signature"
        assert rows[0]["seq"] == sample["seq"]
        payload = base64.b64decode(str(rows[0]["payload"]))
        assert b'"seq":%d' % sample["seq"] in payload


async def test_quiet_window_clears_and_recurrence_reopens(env: StackEnv) -> None:
    a = env.provision("SG03")
    ta = topic_of(env, "SG03")
    thresholds(env, SIGNATURE_FAILURE, min_failures=1, window_seconds=2)
    async with env.ingest(**FAST), station_client(env, a) as ca:
        await ca.publish(ta, tampered(a, ta, 1))
        await eventually(lambda: warnings(env, SIGNATURE_FAILURE), what="warning")
        await eventually(
            lambda: warnings(env, SIGNATURE_FAILURE)[0]["cleared"], what="cleared after 2 s"
        )
        await ca.publish(ta, tampered(a, ta, 2))
        await eventually(
            lambda: "recurred" in warnings(env, SIGNATURE_FAILURE)[0]["events"], what="recurred"
        )
    (w,) = warnings(env, SIGNATURE_FAILURE)
    assert w["events"][:3] == ["opened", "cleared", "recurred"]
    assert not w["cleared"]


async def test_rejections_without_a_registered_station_are_only_counted(env: StackEnv) -> None:
    a = env.provision("SG04")
    env.broker.add_account("GHOST1", "ghost-password")  # a broker account, no registry row
    thresholds(env, REJECTED_DATA, min_rejections=1, window_seconds=60)
    thresholds(env, SIGNATURE_FAILURE, min_failures=1, window_seconds=60)
    tg = topic_of(env, "GHOST1")
    async with (
        env.ingest(**FAST) as ingest,
        station_client(env, a, station="GHOST1", password="ghost-password") as cg,
        station_client(env, a) as ca,
    ):
        await cg.publish(tg, signed(a, tg, 1))  # a's gateway on GHOST1's topic
        await cg.publish(f"fuel/v1/{env.district}/GHOST1/atg1/bogus", b"{}")  # bad_topic
        await ca.publish(topic_of(env, "SG04"), b"\x00 not an envelope")  # malformed, SG04
        streaming = ingest.streaming
        assert streaming is not None
        await eventually(
            lambda: streaming.stats.unknown_stations >= 1 and streaming.stats.unattributed >= 1,
            what="unattributable rejections counted",
        )
        await eventually(lambda: warnings(env, REJECTED_DATA), what="SG04 warning")
    assert [w["station"] for w in warnings(env, REJECTED_DATA)] == ["SG04"]
    assert warnings(env, SIGNATURE_FAILURE) == []
    assert warnings(env, REJECTED_DATA)[0]["evidence"]["by_reason"] == {"malformed": 1}
    reasons = sorted(str(r["reason"]) for r in env.query('SELECT * FROM "rejected"'))
    assert reasons == ["bad_topic", "malformed", "topic_mismatch"]  # all kept as evidence


async def test_streaming_rules_are_registered_for_operators(env: StackEnv) -> None:
    thresholds(env, SIGNATURE_FAILURE, min_failures=4)  # an operator's setting survives start
    async with env.ingest(**FAST) as ingest:
        streaming = ingest.streaming
        assert streaming is not None
        await eventually(lambda: streaming.stats.ticks >= 1, what="first round")
    with env.sessions() as session:
        rules = {r.id: r for r in list_rules(session) if r.id.startswith("cloud_data.")}
        assert set(rules) == {d.id for d in STREAMING_RULES}
        for d in STREAMING_RULES:
            rule = rules[d.id]
            assert rule.category == "cloud_data"
            assert (rule.name_zh, rule.name_en) == (d.name_zh, d.name_en)
            assert set(rule.thresholds) == set(d.defaults) == set(rule.threshold_specs)
            assert rule.last_evaluated_at is not None  # activity recorded by the worker
            assert rule.last_detail["worker"] == env.settings.ingest_client_id
        assert rules[SIGNATURE_FAILURE].thresholds["min_failures"] == 4
        assert rules[REJECTED_DATA].thresholds == {"min_rejections": 3, "window_seconds": 300}
