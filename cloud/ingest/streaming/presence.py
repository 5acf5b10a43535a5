"""Is a gateway there? Offline by its MQTT Will, and silent without one.

*Offline*: the gateway's Will (``state: offline``, retained, published by the broker when
the connection dies) or its clean-stop status. After ``grace_seconds`` without an online
status or any other message, the warning is raised; the next message from the gateway
(its birth status on reconnect) clears it. Several workers share the subscription, so the
online status may reach another worker: before raising, the shared last-commit time of the
gateway (``gateway_sequences.updated_at``) is checked too.

*Silent*: no message from a gateway that has published before for ``silent_seconds`` — a box
unplugged so hard that the broker has not noticed yet, or a broker that lost the Will. Judged
on the same shared last-commit time, so any worker's traffic counts; not judged until this
worker has itself been running for ``silent_seconds`` (its view of "now" must be fresh).
"""

from __future__ import annotations

from dataclasses import dataclass

from fuelwatch.cloud.ingest.streaming.actions import Action, Clear, Raise, iso
from fuelwatch.cloud.ingest.streaming.events import AcceptedSeen
from fuelwatch.cloud.ingest.streaming.rules import RuleDef, RuleSettings

__all__ = ["GatewayPresence", "OfflineDetector", "SilentDetector", "gateway_subject"]

#: A commit this long after the Will's arrival is the gateway's, not the Will's own.
SHARED_MARGIN_MS = 2000


def gateway_subject(gw: str) -> str:
    return f"gateway:{gw}"


@dataclass(frozen=True, slots=True)
class GatewayPresence:
    """A registered gateway and the last time any worker committed a message of it."""

    gw: str
    station: str
    last_commit_ms: int | None


@dataclass(slots=True)
class _Offline:
    station: str
    since_ms: int
    seq: int
    sent_ms: int
    raised: bool = False


class OfflineDetector:
    def __init__(self, rule: RuleDef) -> None:
        self.rule = rule
        self._gateways: dict[str, _Offline] = {}

    def feed(self, ev: AcceptedSeen) -> list[Action]:
        if ev.status == "offline":
            if ev.gw not in self._gateways:
                self._gateways[ev.gw] = _Offline(ev.station, ev.received_ms, ev.seq, ev.sent_ms)
            return []
        state = self._gateways.pop(ev.gw, None)
        if state is None or not state.raised:
            return []
        return [
            Clear(
                self.rule.id,
                ev.station,
                gateway_subject(ev.gw),
                ev.received_ms,
                f"gateway back online at {iso(ev.received_ms)} ({ev.kind}, seq {ev.seq}) / "
                "网关已恢复在线",
            )
        ]

    def adopt(self, station: str, subject: str, now_ms: int) -> None:
        gw = subject.removeprefix("gateway:")
        self._gateways.setdefault(gw, _Offline(station, now_ms, 0, 0, raised=True))

    def evaluate(
        self, now_ms: int, settings: RuleSettings, shared: dict[str, GatewayPresence]
    ) -> list[Action]:
        grace_ms = settings["grace_seconds"] * 1000
        actions: list[Action] = []
        for gw, s in list(self._gateways.items()):
            if s.raised or not settings.enabled or now_ms - s.since_ms < grace_ms:
                continue
            seen = shared.get(gw)
            if seen and seen.last_commit_ms and seen.last_commit_ms > s.since_ms + SHARED_MARGIN_MS:
                del self._gateways[gw]  # another worker has had news from it since
                continue
            s.raised = True
            minutes = (now_ms - s.since_ms) / 60_000
            actions.append(
                Raise(
                    rule_id=self.rule.id,
                    station=s.station,
                    subject=gateway_subject(gw),
                    severity=self.rule.severity,
                    title_zh=f"网关 {gw} 离线",
                    title_en=f"Gateway {gw} offline",
                    message_zh=f"网关 {gw} 于 {iso(s.since_ms)} 离线（MQTT 遗嘱或离线状态），"
                    f"已 {minutes:.1f} 分钟未恢复",
                    message_en=f"Gateway {gw} went offline at {iso(s.since_ms)} (MQTT Will or "
                    f"offline status) and has not been back for {minutes:.1f} min",
                    evidence={
                        "gateway": gw,
                        "offline_since": iso(s.since_ms),
                        "grace_seconds": settings["grace_seconds"],
                        "checked_at": iso(now_ms),
                        # the Will is signed at connect; a clean stop's status when it stops
                        "offline_status": {"seq": s.seq, "signed_at": iso(s.sent_ms)},
                        "last_commit_any_worker": iso(seen.last_commit_ms) if seen else None,
                        "query": (
                            'SELECT * FROM "gateway_status" WHERE "device" = '
                            f"'{gw}' AND time > now() - 1d"
                        ),
                        "source": "ingest (streaming)",
                    },
                    seen_ms=s.since_ms,
                )
            )
        return actions


class SilentDetector:
    def __init__(self, rule: RuleDef, *, started_ms: int) -> None:
        self.rule = rule
        self._started_ms = started_ms
        self._local: dict[str, int] = {}
        self._raised: dict[str, str] = {}  # gw -> station

    def feed(self, ev: AcceptedSeen) -> None:
        self._local[ev.gw] = max(self._local.get(ev.gw, 0), ev.received_ms)

    def adopt(self, station: str, subject: str) -> None:
        self._raised[subject.removeprefix("gateway:")] = station

    def evaluate(
        self, now_ms: int, settings: RuleSettings, gateways: dict[str, GatewayPresence]
    ) -> list[Action]:
        silent_ms = settings["silent_seconds"] * 1000
        actions: list[Action] = []
        for gw, p in gateways.items():
            last = max(p.last_commit_ms or 0, self._local.get(gw, 0))
            if not last:
                continue  # never published: nothing to miss yet
            quiet = now_ms - last
            if quiet < silent_ms:
                if self._raised.pop(gw, None) is not None:
                    actions.append(
                        Clear(
                            self.rule.id,
                            p.station,
                            gateway_subject(gw),
                            now_ms,
                            f"message from the gateway at {iso(last)} / 网关已恢复通信",
                        )
                    )
                continue
            if gw in self._raised or not settings.enabled:
                continue
            if now_ms - self._started_ms < silent_ms:
                continue
            self._raised[gw] = p.station
            minutes = quiet / 60_000
            actions.append(
                Raise(
                    rule_id=self.rule.id,
                    station=p.station,
                    subject=gateway_subject(gw),
                    severity=self.rule.severity,
                    title_zh=f"网关 {gw} 静默 {minutes:.0f} 分钟",
                    title_en=f"Gateway {gw} silent for {minutes:.0f} min",
                    message_zh=f"自 {iso(last)} 起未收到网关 {gw} 的任何消息（数据、状态或遗嘱）",
                    message_en=f"No message from gateway {gw} (data, status or Will) since "
                    f"{iso(last)}",
                    evidence={
                        "gateway": gw,
                        "last_message_at": iso(last),
                        "silent_seconds": quiet / 1000,
                        "threshold_seconds": settings["silent_seconds"],
                        "checked_at": iso(now_ms),
                        "query": (
                            'SELECT * FROM "gateway_status" WHERE "device" = '
                            f"'{gw}' ORDER BY time DESC LIMIT 1"
                        ),
                        "source": "ingest (streaming)",
                    },
                    seen_ms=now_ms,
                )
            )
        return actions
