"""Clock skew of a gateway, and of the devices behind it.

*Gateway clock*: the envelope's ``sent`` (gateway clock at signing) against ingest's clock
when the message is stored. *Device clock*: each record's ``ts`` (the device's own clock)
against its ``gts`` (the gateway's clock when it read the record), both taken at the station,
so an outage or a spool backlog does not affect it.

Either lag is the clock offset plus a delay (transport, queueing, the time until the gateway
polls), and a delay is never negative, so the smallest lag over a window is the best estimate
of the offset (as NTP takes the least-delayed sample). Messages the broker queued while
ingest was away only look later, and the estimate must stay beyond ``skew_seconds`` for a
whole window before the warning is raised, so a backlog drained after an ingest outage does
not raise it once fresh messages follow. Not used for the gateway clock: broker re-sends and
retained messages (DUP/RETAIN) and the Will, which is signed at connect time. Clears as soon
as the estimate is back within the threshold.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from fuelwatch.cloud.ingest.streaming.actions import Action, Clear, Raise, iso
from fuelwatch.cloud.ingest.streaming.events import AcceptedSeen
from fuelwatch.cloud.ingest.streaming.rules import RuleDef, RuleSettings

__all__ = ["SkewDetector"]

MAX_SAMPLES = 1000


@dataclass(slots=True)
class _Clock:
    station: str
    samples: deque[tuple[int, int, int]] = field(
        default_factory=lambda: deque(maxlen=MAX_SAMPLES)
    )  # (received ms, lag ms, seq)
    skewed_since: int | None = None
    raised_at: int | None = None
    raised: bool = False


class SkewDetector:
    def __init__(self, rule: RuleDef) -> None:
        self.rule = rule
        self._clocks: dict[str, _Clock] = {}  # subject -> clock

    def _clock(self, subject: str, station: str) -> _Clock:
        c = self._clocks.get(subject)
        if c is None:
            c = self._clocks[subject] = _Clock(station)
        return c

    def feed(self, ev: AcceptedSeen) -> None:
        if ev.device_lag_ms is not None:
            self._clock(f"device:{ev.device}", ev.station).samples.append(
                (ev.received_ms, ev.device_lag_ms, ev.seq)
            )
        if ev.redelivered or ev.status == "offline":
            return
        self._clock(f"gateway:{ev.gw}", ev.station).samples.append(
            (ev.received_ms, ev.received_ms - ev.sent_ms, ev.seq)
        )

    def adopt(self, station: str, subject: str) -> None:
        self._clocks.setdefault(subject, _Clock(station, raised=True))

    def evaluate(self, now_ms: int, settings: RuleSettings) -> list[Action]:
        window_ms = int(settings["window_seconds"] * 1000)
        limit_ms = settings["skew_seconds"] * 1000
        actions: list[Action] = []
        for subject, c in self._clocks.items():
            while c.samples and c.samples[0][0] < now_ms - window_ms:
                c.samples.popleft()
            if not c.samples:
                continue
            best = min(c.samples, key=lambda s: s[1])
            offset = best[1]
            if abs(offset) <= limit_ms:
                c.skewed_since = None
                if c.raised:
                    c.raised, c.raised_at = False, None
                    actions.append(
                        Clear(
                            self.rule.id,
                            c.station,
                            subject,
                            now_ms,
                            f"offset {offset / 1000:+.1f} s is within ±{limit_ms / 1000:g} s / "
                            "时钟偏差已恢复",
                        )
                    )
                continue
            if len(c.samples) < settings["min_samples"] or not settings.enabled:
                continue
            if c.skewed_since is None:
                c.skewed_since = now_ms
            held = now_ms - c.skewed_since >= window_ms
            due = c.raised_at is None or now_ms - c.raised_at >= window_ms
            if held and due:
                c.raised, c.raised_at = True, now_ms
                actions.append(self._raise(subject, c, offset, best, now_ms, settings))
        return actions

    def _raise(
        self,
        subject: str,
        c: _Clock,
        offset: int,
        best: tuple[int, int, int],
        now_ms: int,
        settings: RuleSettings,
    ) -> Raise:
        behind = offset > 0
        lags = [lag for _, lag, _ in c.samples]
        kind, name = subject.split(":", 1)
        seconds = abs(offset) / 1000
        zh_dir, en_dir = ("慢", "behind") if behind else ("快", "ahead of")
        if kind == "device":
            who_zh, who_en = f"设备 {name}", f"Device {name}"
            ref_zh, ref_en = "网关读取时间", "the gateway's clock when it read the records"
            estimate = "min(gts - ts) over the window (gateway clock at reading - device clock)"
        else:
            who_zh, who_en = f"网关 {name}", f"Gateway {name}"
            ref_zh, ref_en = "云端接收时间", "the cloud's receive time"
            estimate = "min(received - sent) over the window"
        return Raise(
            rule_id=self.rule.id,
            station=c.station,
            subject=subject,
            severity=self.rule.severity,
            title_zh=f"{who_zh} 时钟{zh_dir} {seconds:.0f} 秒",
            title_en=f"{who_en} clock {seconds:.0f} s {en_dir} the reference",
            message_zh=f"{who_zh} 的时钟比{ref_zh}{zh_dir} {seconds:.1f} 秒"
            f"（阈值 {settings['skew_seconds']:g} 秒，{len(lags)} 条消息）",
            message_en=f"{who_en}'s clock is {seconds:.1f} s {en_dir} {ref_en} "
            f"(threshold {settings['skew_seconds']:g} s, {len(lags)} messages)",
            evidence={
                "clock": kind,
                kind: name,
                "offset_ms": offset,
                "direction": f"{kind}_behind" if behind else f"{kind}_ahead",
                "estimate": estimate,
                "samples": len(lags),
                "lag_min_ms": min(lags),
                "lag_max_ms": max(lags),
                "best_sample": {"seq": best[2], "received_at": iso(best[0]), "lag_ms": best[1]},
                "skewed_since": iso(c.skewed_since),
                "skew_seconds": settings["skew_seconds"],
                "window_seconds": settings["window_seconds"],
                "source": "ingest (streaming)",
            },
            seen_ms=now_ms,
        )
