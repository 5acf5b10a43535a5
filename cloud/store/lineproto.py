"""Records -> InfluxDB line protocol (the mapping documented in docs/data-model.md).

Point identity: InfluxDB keeps one point per (measurement, tag set, timestamp) and a second
write of the same point overwrites the first. The tag set includes the ``gateway`` that sent
the record, and the timestamp is the device time in milliseconds plus ``rid mod 10^6``
nanoseconds. The record id is unique per gateway, so two records never collide - not even the
same device/ts/rid from two gateways of one station - and a record that arrives twice (a
resent envelope, a broker redelivery) lands on the same point: stored once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fuelwatch.core.records import BaseRecord

__all__ = ["escape_tag", "point_time_ns", "record_line", "write_line"]

_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})
_MEAS_ESCAPE = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_SKIP = frozenset({"ts"})


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPE)


def _field(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def write_line(
    measurement: str,
    tags: Mapping[str, str | None],
    fields: Mapping[str, Any],
    time_ns: int,
) -> str:
    tag_part = "".join(
        f",{k}={escape_tag(v)}" for k, v in sorted(tags.items()) if v not in (None, "")
    )
    field_part = ",".join(f"{k}={_field(v)}" for k, v in fields.items() if v is not None)
    return f"{measurement.translate(_MEAS_ESCAPE)}{tag_part} {field_part} {time_ns}"


def point_time_ns(record: BaseRecord) -> int:
    return record.ts * 1_000_000 + record.rid % 1_000_000


# Per record class: the measurement and the field names in order (computed once). Tag heads
# ("measurement,tag=v,... ") repeat endlessly (same station, device, tank), so they are
# cached; this keeps formatting at a few microseconds a record (see docs/performance.md).
_FIELDS: dict[type[BaseRecord], tuple[str, ...]] = {}
_HEADS: dict[tuple[object, ...], str] = {}
_HEADS_MAX = 200_000
_BASE_TAGS = ("district", "station", "device", "gateway")


def _fields_of(cls: type[BaseRecord]) -> tuple[str, ...]:
    names = tuple(n for n in cls.model_fields if n not in _SKIP and n not in cls.TAGS)
    _FIELDS[cls] = names
    return names


def _head(
    cls: type[BaseRecord], base: tuple[str, str, str, str | None], values: tuple[object, ...]
) -> str:
    key = (cls, *base, *values)
    head = _HEADS.get(key)
    if head is None:
        tags: dict[str, str | None] = dict(zip(_BASE_TAGS, base, strict=True))
        tags |= {n: None if v is None else str(v) for n, v in zip(cls.TAGS, values, strict=True)}
        tag_part = "".join(
            f",{k}={escape_tag(v)}" for k, v in sorted(tags.items()) if v not in (None, "")
        )
        head = cls.MEASUREMENT.translate(_MEAS_ESCAPE) + tag_part
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        _HEADS[key] = head
    return head


_TEMPLATES: dict[tuple[object, ...], tuple[str, bool]] = {}
_FORMAT = {float: "%r", int: "%di", str: "%s", bool: "%s"}
_NONE = type(None)


def _template(
    cls: type[BaseRecord], names: tuple[str, ...], types: tuple[type, ...]
) -> tuple[str, bool]:
    """A %-format for one shape of record (which fields are set, with which types)."""
    template = ",".join(
        f"{n}={_FORMAT[t]}" for n, t in zip(names, types, strict=True) if t is not _NONE
    )
    convert = str in types or bool in types
    _TEMPLATES[(cls, *types)] = (template, convert)
    return template, convert


def record_line(
    record: BaseRecord, *, district: str, station: str, device: str, gateway: str | None = None
) -> str:
    """The record's line; ``gateway`` (ingest always sets it) is part of the point identity."""
    cls = type(record)
    data = record.__dict__
    head = _head(cls, (district, station, device, gateway), tuple(data[n] for n in cls.TAGS))
    names = _FIELDS.get(cls) or _fields_of(cls)
    values = [data[n] for n in names]
    types = tuple(map(type, values))
    template, convert = _TEMPLATES.get((cls, *types)) or _template(cls, names, types)
    if convert:
        args = tuple(_field(v) if type(v) in (str, bool) else v for v in values if v is not None)
    else:
        args = tuple(v for v in values if v is not None)
    return f"{head} {template % args} {data['ts'] * 1_000_000 + data['rid'] % 1_000_000}"


def lines(records: Iterable[str]) -> bytes:
    return "\n".join(records).encode()
