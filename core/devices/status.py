"""Tank status words: every vendor's bits normalised to one word the cloud reads.

Consoles report a status word per tank whose bits mean different things per vendor, and not
always with the same polarity: Pneumercator's "in-tank product motion" (DB7) is active LOW —
set while the product is still — so a raw non-zero word says nothing. A profile (or adapter)
declares each bit it knows: its position, what it means and whether it is active high or low;
the gateway sends only the canonical word below (docs/data-model.md, ``tank_inventory.status``).
Bits a profile does not declare are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CANONICAL", "TLS350_STATUS", "StatusBit", "StatusMeaning", "normalise_status"]

StatusMeaning = Literal["delivery", "leak_test", "product_motion", "probe_error"]

#: the canonical status word (InventoryRecord.status)
CANONICAL: dict[str, int] = {
    "delivery": 0x0001,  # a delivery is in progress (the level is rising from a tanker)
    "leak_test": 0x0002,  # the console runs an in-tank leak test
    "product_motion": 0x0004,  # the product surface is moving (dispensing, settling)
    "probe_error": 0x0008,  # the probe's level or temperature is not to be trusted
}


class StatusBit(BaseModel):
    """One vendor status bit: position (0 = least significant), meaning, polarity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bit: int = Field(ge=0, le=31)
    meaning: StatusMeaning
    active: Literal["high", "low"] = "high"


#: Veeder-Root TLS-3xx ``i201`` tank status (manual 576013-635): bit 0 delivery in progress,
#: bit 1 leak test in progress, bit 2 invalid fuel height (MAG probes)
TLS350_STATUS: tuple[StatusBit, ...] = (
    StatusBit(bit=0, meaning="delivery"),
    StatusBit(bit=1, meaning="leak_test"),
    StatusBit(bit=2, meaning="probe_error"),
)


def normalise_status(raw: int, bits: Iterable[StatusBit]) -> int:
    """The canonical word for a vendor's ``raw`` word."""
    word = 0
    for b in bits:
        on = bool(raw >> b.bit & 1)
        if on == (b.active == "high"):
            word |= CANONICAL[b.meaning]
    return word
