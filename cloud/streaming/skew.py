"""Gateway clock skew: the envelope's ``sent`` (gateway clock) against ingest's receive time.

``received - sent`` is the clock offset plus the transport delay; a delay is never negative,
so the smallest value over a window is the best estimate of the offset (as NTP takes the
least-delayed sample). Messages the broker queued while ingest was away only look later, and
the estimate must stay beyond ``skew_seconds`` for a whole window before the warning is raised,
so a backlog drained after an ingest outage does not raise it once fresh messages follow.
Excluded: broker re-sends and retained messages (DUP/RETAIN) and the Will, which is signed at
connect time. Clears as soon as the estimate is back within the threshold.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from cloud.streaming.actions import Action, Clear, Raise, iso
from cloud.streaming.events import AcceptedSeen
from cloud.streaming.presence import gateway_subject
from cloud.streaming.rules import RuleDef, RuleSettings

__all__ = ["SkewDetector"]

MAX_SAMPLES = 1000


@dataclass(slots=True)
class _Gateway:
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
        self._gateways: dict[str, _Gateway] = {}

    def feed(self, ev: AcceptedSeen) -> None:
        if ev.redelivered or ev.status == "offline":
            return
        g = self._gateways.get(ev.gw)
        if g is None:
            g = self._gateways[ev.gw] = _Gateway(ev.station)
        g.samples.append((ev.received_ms, ev.received_ms - ev.sent_ms, ev.seq))

    def adopt(self, station: str, subject: str) -> None:
        gw = subject.removeprefix("gateway:")
        self._gateways.setdefault(gw, _Gateway(station, raised=True))

    def evaluate(self, now_ms: int, settings: RuleSettings) -> list[Action]:
        window_ms = int(settings["window_seconds"] * 1000)
        limit_ms = settings["skew_seconds"] * 1000
        actions: list[Action] = []
        for gw, g in self._gateways.items():
            while g.samples and g.samples[0][0] < now_ms - window_ms:
                g.samples.popleft()
            if not g.samples:
                continue
            best = min(g.samples, key=lambda s: s[1])
            offset = best[1]
            if abs(offset) <= limit_ms:
                g.skewed_since = None
                if g.raised:
                    g.raised, g.raised_at = False, None
                    actions.append(
                        Clear(
                            self.rule.id,
                            g.station,
                            gateway_subject(gw),
                            now_ms,
                            f"offset {offset / 1000:+.1f} s is within ±{limit_ms / 1000:g} s / "
                            "时钟偏差已恢复",
                        )
                    )
                continue
            if len(g.samples) < settings["min_samples"] or not settings.enabled:
                continue
            if g.skewed_since is None:
                g.skewed_since = now_ms
            held = now_ms - g.skewed_since >= window_ms
            due = g.raised_at is None or now_ms - g.raised_at >= window_ms
            if held and due:
                g.raised, g.raised_at = True, now_ms
                actions.append(self._raise(gw, g, offset, best, now_ms, settings))
        return actions

    def _raise(
        self,
        gw: str,
        g: _Gateway,
        offset: int,
        best: tuple[int, int, int],
        now_ms: int,
        settings: RuleSettings,
    ) -> Raise:
        behind = offset > 0
        lags = [lag for _, lag, _ in g.samples]
        zh_dir = "慢" if behind else "快"
        en_dir = "behind" if behind else "ahead of"
        seconds = abs(offset) / 1000
        return Raise(
            rule_id=self.rule.id,
            station=g.station,
            subject=gateway_subject(gw),
            severity=self.rule.severity,
            title_zh=f"网关 {gw} 时钟{zh_dir} {seconds:.0f} 秒",
            title_en=f"Gateway {gw} clock {seconds:.0f} s {en_dir} the cloud",
            message_zh=f"网关 {gw} 的发送时间比云端接收时间{zh_dir} {seconds:.1f} 秒"
            f"（阈值 {settings['skew_seconds']:g} 秒，{len(lags)} 条消息）",
            message_en=f"Gateway {gw}'s envelope sent time is {seconds:.1f} s {en_dir} the "
            f"cloud's receive time (threshold {settings['skew_seconds']:g} s, "
            f"{len(lags)} messages)",
            evidence={
                "gateway": gw,
                "offset_ms": offset,
                "direction": "gateway_behind" if behind else "gateway_ahead",
                "estimate": "min(received - sent) over the window",
                "samples": len(lags),
                "lag_min_ms": min(lags),
                "lag_max_ms": max(lags),
                "best_sample": {"seq": best[2], "received_at": iso(best[0]), "lag_ms": best[1]},
                "skewed_since": iso(g.skewed_since),
                "skew_seconds": settings["skew_seconds"],
                "window_seconds": settings["window_seconds"],
                "source": "ingest (streaming)",
            },
            seen_ms=now_ms,
        )
