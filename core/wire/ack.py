"""Cloud confirmations: what ingest tells each gateway it has durably dealt with.

A PUBACK only says the broker took a message; the broker may still lose it (a full queue, a
restart without persistence). So a gateway keeps every record until ingest says, on the
gateway's own topic ``ack/v1/{district}/{station}/{gateway}``, that the envelope carrying it
is stored (or refused for good, with the evidence kept in ``rejected``). One line of JSON::

    {"v":1,"gw":"gw-1","confirmed":[[40,52],[55,55]],"refused":[{"seq":53,"reason":"schema","rids":[]}],"resend":[[54,54]]}

- ``confirmed``: inclusive sequence ranges ingest is finished with: every record stored, or
  the envelope (or some of its records) refused with a ``rejected`` row. The gateway deletes
  those envelopes and their records.
- ``refused``: for the gateway's log and counters: envelopes (all records: ``rids`` empty) or
  single records (``rids``) refused after the signature verified. Their sequence numbers are
  also in ``confirmed``: resending them would change nothing.
- ``resend``: ranges ingest has not seen although later numbers arrived (a gap). The gateway
  resends the envelopes it still holds in those ranges, byte for byte; numbers it never used
  or that are confirmed are ignored.

docs/protocol.md ("Cloud confirmations") is the reference for independent implementations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from fuelwatch.core.wire.envelope import WireError
from fuelwatch.core.wire.topics import validate_segment

__all__ = [
    "ACK_ROOT",
    "Ack",
    "Refusal",
    "ack_topic",
    "encode_ack",
    "parse_ack",
    "to_ranges",
]

ACK_ROOT = "ack/v1"
ACK_VERSION = 1
#: A confirmation carries at most this many ranges of each kind; more go in the next one.
MAX_RANGES = 1000


def ack_topic(district: str, station: str, gateway: str) -> str:
    for value, what in ((district, "district"), (station, "station"), (gateway, "gateway")):
        validate_segment(value, what)
    return f"{ACK_ROOT}/{district}/{station}/{gateway}"


@dataclass(frozen=True, slots=True)
class Refusal:
    seq: int
    reason: str
    rids: tuple[int, ...] = ()  # empty: the whole envelope


@dataclass(slots=True)
class Ack:
    gw: str
    confirmed: list[tuple[int, int]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    resend: list[tuple[int, int]] = field(default_factory=list)

    def confirms(self) -> set[int]:
        return {s for lo, hi in self.confirmed for s in range(lo, hi + 1)}


def to_ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted inclusive ranges covering ``numbers``."""
    out: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def encode_ack(ack: Ack) -> bytes:
    return orjson.dumps(
        {
            "v": ACK_VERSION,
            "gw": ack.gw,
            "confirmed": [list(r) for r in ack.confirmed[:MAX_RANGES]],
            "refused": [
                {"seq": r.seq, "reason": r.reason, "rids": list(r.rids)}
                for r in ack.refused[:MAX_RANGES]
            ],
            "resend": [list(r) for r in ack.resend[:MAX_RANGES]],
        }
    )


def _ranges(obj: object, name: str) -> list[tuple[int, int]]:
    if not isinstance(obj, list):
        raise WireError("malformed", f"ack field {name!r} is not a list")
    out: list[tuple[int, int]] = []
    for item in obj:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)
            or not 1 <= item[0] <= item[1]
        ):
            raise WireError("malformed", f"ack field {name!r} has a bad range {item!r}")
        out.append((item[0], item[1]))
    return out


def parse_ack(payload: bytes) -> Ack:
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise WireError("malformed", f"ack is not JSON: {exc}") from exc
    if not isinstance(obj, dict) or obj.get("v") != ACK_VERSION:
        raise WireError("malformed", "ack is not a version 1 object")
    gw = obj.get("gw")
    if not isinstance(gw, str):
        raise WireError("malformed", "ack field 'gw' missing")
    refused: list[Refusal] = []
    for item in obj.get("refused", []):
        if not isinstance(item, dict) or not isinstance(item.get("seq"), int):
            raise WireError("malformed", f"ack refusal {item!r} has no seq")
        rids = item.get("rids", [])
        refused.append(
            Refusal(
                int(item["seq"]),
                str(item.get("reason", "")),
                tuple(int(r) for r in rids) if isinstance(rids, list) else (),
            )
        )
    return Ack(
        gw=gw,
        confirmed=_ranges(obj.get("confirmed", []), "confirmed"),
        refused=refused,
        resend=_ranges(obj.get("resend", []), "resend"),
    )
