"""Streaming detectors on their own: events in, decisions out, time given explicitly."""

from __future__ import annotations

import pytest

from fuelwatch.cloud.ingest.streaming.actions import Clear, Raise
from fuelwatch.cloud.ingest.streaming.events import AcceptedSeen, RejectedSeen
from fuelwatch.cloud.ingest.streaming.gaps import GapDetector, SequenceState
from fuelwatch.cloud.ingest.streaming.presence import (
    GatewayPresence,
    OfflineDetector,
    SilentDetector,
)
from fuelwatch.cloud.ingest.streaming.rejections import RejectionDetector
from fuelwatch.cloud.ingest.streaming.rules import (
    AUTH_REASONS,
    CLOCK_SKEW,
    GATEWAY_OFFLINE,
    GATEWAY_SILENT,
    SEQUENCE_GAP,
    SIGNATURE_FAILURE,
    STREAMING_RULES,
    RuleSettings,
)
from fuelwatch.cloud.ingest.streaming.skew import SkewDetector

RULES = {d.id: d for d in STREAMING_RULES}
T = 1_763_900_000_000


def on(**thresholds: float) -> RuleSettings:
    return RuleSettings(enabled=True, thresholds=thresholds)


def rejected(at: int, reason: str = "bad_signature", station: str | None = "S1") -> RejectedSeen:
    return RejectedSeen(
        reason=reason,
        topic=f"fuel/v1/d/{station}/atg1/inventory",
        district="d" if station else None,
        station=station,
        gw="gw-S1",
        kid="k1",
        seq=at % 1000,
        detail="does not verify",
        received_ms=at,
        sample_ns=at * 1_000_000,
    )


def accepted(
    at: int,
    *,
    gw: str = "gw1",
    seq: int = 1,
    lag: int = 50,
    status: str | None = None,
    boot: int = 1,
) -> AcceptedSeen:
    return AcceptedSeen(
        gw=gw,
        district="d",
        station="S1",
        seq=seq,
        boot=boot,
        sent_ms=at - lag,
        received_ms=at,
        kind="status" if status else "inventory",
        redelivered=False,
        status=status,
    )


def signature_detector() -> RejectionDetector:
    return RejectionDetector(
        RULES[SIGNATURE_FAILURE],
        accepts=AUTH_REASONS.__contains__,
        count_name="min_failures",
        what_zh="x",
        what_en="x",
    )


class TestRejections:
    def test_threshold_window_rate_limit_and_clear(self) -> None:
        d = signature_detector()
        s = on(min_failures=3, window_seconds=10)
        d.feed(rejected(T))
        d.feed(rejected(T + 100))
        assert d.evaluate(T + 200, s) == []  # 2 < 3
        for i in range(50):
            d.feed(rejected(T + 300 + i))
        (first,) = d.evaluate(T + 400, s)
        assert isinstance(first, Raise)
        assert first.evidence["in_window"] == 52
        assert first.evidence["by_reason"] == {"bad_signature": 52}
        assert len(first.evidence["samples"]) == 5
        assert d.evaluate(T + 500, s) == []  # nothing new: no second update
        d.feed(rejected(T + 600, "unknown_key"))
        (update,) = d.evaluate(T + 700, s)
        assert isinstance(update, Raise)
        assert update.evidence["by_reason"] == {"bad_signature": 52, "unknown_key": 1}
        assert d.evaluate(T + 10_000, s) == []  # still inside the window
        (clear,) = d.evaluate(T + 12_000, s)
        assert isinstance(clear, Clear)
        assert (clear.rule_id, clear.station, clear.subject) == (SIGNATURE_FAILURE, "S1", "station")

    def test_old_failures_do_not_add_up(self) -> None:
        d = signature_detector()
        s = on(min_failures=2, window_seconds=10)
        d.feed(rejected(T))
        assert d.evaluate(T + 1000, s) == []
        d.feed(rejected(T + 30_000))
        assert d.evaluate(T + 30_100, s) == []  # the first one is out of the window

    def test_disabled_rule_raises_nothing(self) -> None:
        d = signature_detector()
        d.feed(rejected(T))
        off = RuleSettings(enabled=False, thresholds={"min_failures": 1, "window_seconds": 10})
        assert d.evaluate(T + 100, off) == []

    def test_without_a_station_only_counted(self) -> None:
        d = signature_detector()
        d.feed(rejected(T, station=None))
        assert d.evaluate(T + 100, on(min_failures=1, window_seconds=10)) == []
        assert d.unattributed == 1

    def test_adopted_warning_clears_after_a_quiet_window(self) -> None:
        d = signature_detector()
        d.adopt("S9", "station", T)
        s = on(min_failures=1, window_seconds=10)
        assert d.evaluate(T + 5000, s) == []
        (clear,) = d.evaluate(T + 11_000, s)
        assert isinstance(clear, Clear)
        assert clear.station == "S9"


class TestOffline:
    def test_grace_then_raise_then_clear_on_birth(self) -> None:
        d = OfflineDetector(RULES[GATEWAY_OFFLINE])
        s = on(grace_seconds=60)
        assert d.feed(accepted(T, status="offline")) == []
        assert d.evaluate(T + 59_000, s, {}) == []
        (w,) = d.evaluate(T + 61_000, s, {})
        assert isinstance(w, Raise)
        assert w.subject == "gateway:gw1"
        assert d.evaluate(T + 70_000, s, {}) == []  # raised once
        (c,) = d.feed(accepted(T + 80_000, status="online", seq=9))
        assert isinstance(c, Clear)

    def test_back_within_grace_raises_nothing(self) -> None:
        d = OfflineDetector(RULES[GATEWAY_OFFLINE])
        d.feed(accepted(T, status="offline"))
        assert d.feed(accepted(T + 5000, status="online")) == []
        assert d.evaluate(T + 120_000, on(grace_seconds=60), {}) == []

    @pytest.mark.parametrize(("commit_after_ms", "raised"), [(500, True), (10_000, False)])
    def test_another_workers_commit_means_it_came_back(
        self, commit_after_ms: int, raised: bool
    ) -> None:
        d = OfflineDetector(RULES[GATEWAY_OFFLINE])
        d.feed(accepted(T, status="offline"))
        shared = {"gw1": GatewayPresence("gw1", "S1", T + commit_after_ms)}
        assert bool(d.evaluate(T + 61_000, on(grace_seconds=60), shared)) is raised


class TestSilent:
    def test_waits_for_own_uptime_then_raises_and_clears(self) -> None:
        d = SilentDetector(RULES[GATEWAY_SILENT], started_ms=T)
        s = on(silent_seconds=600)
        gws = {
            "gw1": GatewayPresence("gw1", "S1", T - 3_600_000),
            "never": GatewayPresence("never", "S2", None),
        }
        assert d.evaluate(T + 1000, s, gws) == []  # not up long enough to judge
        (w,) = d.evaluate(T + 600_000, s, gws)
        assert isinstance(w, Raise)
        assert w.station == "S1"
        assert d.evaluate(T + 700_000, s, gws) == []
        d.feed(accepted(T + 710_000))
        (c,) = d.evaluate(T + 711_000, s, gws)
        assert isinstance(c, Clear)


class TestGaps:
    def state(self, holes: list[list[int]], hwm: int = 20) -> list[SequenceState]:
        return [SequenceState("gw1", "S1", hwm, holes)]

    def test_age_threshold_update_and_clear(self) -> None:
        d = GapDetector(RULES[SEQUENCE_GAP])
        d.baseline([])
        s = on(min_missing=2, min_age_seconds=60)
        assert d.evaluate(T, s, self.state([[3, 4]])) == []  # young
        (w,) = d.evaluate(T + 61_000, s, self.state([[3, 4]]))
        assert isinstance(w, Raise)
        assert w.evidence["missing"] == 2
        assert d.evaluate(T + 62_000, s, self.state([[3, 4]])) == []  # unchanged: no update
        # a late arrival splits the hole; the pieces keep their age
        (c,) = d.evaluate(T + 63_000, s, self.state([[4, 4]]))
        assert isinstance(c, Clear)  # 1 < min_missing

    def test_will_number_below_a_birth_and_baseline_holes_are_not_judged(self) -> None:
        d = GapDetector(RULES[SEQUENCE_GAP])
        d.baseline(self.state([[2, 2]]))  # already there at start
        d.feed(accepted(T, seq=11, status="online"))  # birth 11: 10 was the Will
        s = on(min_missing=1, min_age_seconds=0)
        assert d.evaluate(T, s, self.state([[2, 2], [10, 10]])) == []
        (w,) = d.evaluate(T + 1, s, self.state([[2, 2], [10, 10], [15, 15]]))
        assert isinstance(w, Raise)
        assert [(r["from"], r["to"]) for r in w.evidence["ranges"]] == [(15, 15)]

    def test_a_restart_skip_between_two_processes_is_not_a_gap(self) -> None:
        d = GapDetector(RULES[SEQUENCE_GAP])
        d.baseline([])
        for seq in range(1, 144):
            d.feed(accepted(T, seq=seq, boot=100))
        d.feed(accepted(T, seq=1002, boot=200, status="online"))  # next block; 1001 = Will
        s = on(min_missing=1, min_age_seconds=0)
        assert d.evaluate(T, s, self.state([[144, 1001]], hwm=1002)) == []
        # a hole inside one process's numbering is judged
        d.feed(accepted(T, seq=1010, boot=200))
        (w,) = d.evaluate(T + 1, s, self.state([[144, 1001], [1003, 1009]], hwm=1010))
        assert isinstance(w, Raise)
        assert [(r["from"], r["to"]) for r in w.evidence["ranges"]] == [(1003, 1009)]


class TestSkew:
    s = on(skew_seconds=300, window_seconds=60, min_samples=3)

    def test_min_delay_estimates_the_offset_and_must_hold_a_window(self) -> None:
        d = SkewDetector(RULES[CLOCK_SKEW])
        for i in range(5):  # gateway 10 min behind, delays 0.1-5 s
            d.feed(accepted(T + i * 1000, lag=600_000 + (i + 1) * 100 + (i % 2) * 5000))
        assert d.evaluate(T + 5000, self.s) == []  # starts the hold
        for i in range(5, 70):
            d.feed(accepted(T + i * 1000, lag=600_000 + 100))
        (w,) = d.evaluate(T + 70_000, self.s)
        assert isinstance(w, Raise)
        assert w.evidence["offset_ms"] == 600_100
        assert w.evidence["direction"] == "gateway_behind"
        d.feed(accepted(T + 71_000, lag=80))  # clock fixed
        (c,) = d.evaluate(T + 71_500, self.s)
        assert isinstance(c, Clear)

    def test_ahead_is_negative_and_queued_backlog_alone_does_not_raise(self) -> None:
        d = SkewDetector(RULES[CLOCK_SKEW])
        for i in range(70):
            d.feed(accepted(T + i * 1000, lag=-400_000))
        d.evaluate(T, self.s)
        (w,) = d.evaluate(T + 69_500, self.s)
        assert isinstance(w, Raise)
        assert w.evidence["direction"] == "gateway_ahead"
        # a backlog delivered late (lag 20 min) followed by fresh messages: no warning
        q = SkewDetector(RULES[CLOCK_SKEW])
        for i in range(100):
            q.feed(accepted(T + i, gw="gw2", lag=1_200_000 - i))
        assert q.evaluate(T + 200, self.s) == []
        q.feed(accepted(T + 5000, gw="gw2", lag=60))
        assert q.evaluate(T + 61_000, self.s) == []

    def test_will_and_redelivered_messages_are_not_samples(self) -> None:
        s = on(skew_seconds=1, window_seconds=1, min_samples=1)
        control = SkewDetector(RULES[CLOCK_SKEW])
        control.feed(accepted(T, lag=3_600_000))  # an ordinary message that late does raise
        assert control.evaluate(T, s) == []
        assert len(control.evaluate(T + 1000, s)) == 1
        d = SkewDetector(RULES[CLOCK_SKEW])
        d.feed(accepted(T, lag=3_600_000, status="offline"))  # Will: signed at connect
        d.feed(
            AcceptedSeen(
                gw="gw1",
                district="d",
                station="S1",
                seq=2,
                boot=1,
                sent_ms=T - 3_600_000,
                received_ms=T,
                kind="inventory",
                redelivered=True,
            )
        )
        assert d.evaluate(T, s) == []
        assert d.evaluate(T + 1000, s) == []

    def test_device_clock_is_judged_on_gts_minus_ts(self) -> None:
        d = SkewDetector(RULES[CLOCK_SKEW])
        s = on(skew_seconds=300, window_seconds=1, min_samples=1)
        for i in range(3):  # gateway clock right, the gauge 20 min slow
            ev = accepted(T + i * 500, lag=40)
            ev.device, ev.device_lag_ms = "atg1", 1_200_000 + i * 1000
            d.feed(ev)
        assert d.evaluate(T + 1000, s) == []
        d.feed(accepted(T + 1500, lag=40))  # more traffic (no device lag: e.g. a status)
        (w,) = d.evaluate(T + 2000, s)
        assert isinstance(w, Raise)
        assert w.subject == "device:atg1"
        assert (w.evidence["clock"], w.evidence["device"]) == ("device", "atg1")
        assert w.evidence["offset_ms"] == 1_202_000  # the one sample still in the window
        assert w.evidence["direction"] == "device_behind"
