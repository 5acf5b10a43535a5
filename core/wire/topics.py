"""The topic tree: ``fuel/v1/{district}/{station}/{device}/{kind}``.

``station`` is also the station's MQTT user name, so the broker ACL
``pattern write fuel/v1/+/%u/#`` confines a station to its own subtree. The gateway's own
status lives under its gateway id in the device level: ``fuel/v1/{d}/{s}/{gateway}/status``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fuelwatch.core.errors import UserFacingError
from fuelwatch.core.records import RecordKind

__all__ = ["ROOT", "Topic", "TopicError", "ingest_filter", "station_filter", "validate_segment"]

ROOT = "fuel/v1"
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TopicError(UserFacingError, ValueError):
    """A topic or topic segment that does not fit the tree."""


def validate_segment(value: str, what: str) -> str:
    if not _SEGMENT.fullmatch(value):
        raise TopicError(
            f"{what} {value!r} is not a valid topic segment (1-64 characters from A-Z a-z 0-9 _ -)"
        )
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    district: str
    station: str
    device: str
    kind: RecordKind

    def __post_init__(self) -> None:
        validate_segment(self.district, "district")
        validate_segment(self.station, "station")
        validate_segment(self.device, "device")

    def __str__(self) -> str:
        return f"{ROOT}/{self.district}/{self.station}/{self.device}/{self.kind.value}"

    @classmethod
    def parse(cls, topic: str) -> Topic:
        parts = topic.split("/")
        if len(parts) != 6 or f"{parts[0]}/{parts[1]}" != ROOT:
            raise TopicError(f"topic {topic!r} is not {ROOT}/district/station/device/kind")
        try:
            kind = RecordKind(parts[5])
        except ValueError as exc:
            raise TopicError(f"topic {topic!r} has unknown record kind {parts[5]!r}") from exc
        return cls(district=parts[2], station=parts[3], device=parts[4], kind=kind)


def station_filter(district: str, station: str) -> str:
    return f"{ROOT}/{district}/{station}/#"


def ingest_filter(group: str | None = "ingest", district: str = "+") -> str:
    """Subscription for ingest workers; a shared subscription splits load across them."""
    base = f"{ROOT}/{district}/+/+/+"
    return f"$share/{group}/{base}" if group else base
