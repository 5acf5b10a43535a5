"""Ground-truth labels: what was injected, when, where, and what it did.

One label per period in which an injection was in force (a switchable cheat switched on
daily from 19:00 to 22:00 for a week gives seven labels), or per event for one-off kinds
(a totalizer jump, an unregistered delivery, each delivery that differed from its waybill).
Written as JSON lines beside the run's other outputs; see docs/simulator.md for the fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Label", "LabelBook", "write_labels"]


@dataclass(slots=True)
class Label:
    kind: str
    start: int  # ms, true simulated time
    end: int
    magnitude: float
    unit: str
    injection: int  # index in the scenario's ``injections``
    tank: int | None = None
    nozzle: int | None = None
    product: str | None = None
    device: str | None = None
    order_ids: list[str] = field(default_factory=list)
    effect: dict[str, float | int | str] = field(default_factory=dict)

    def add(self, key: str, amount: float) -> None:
        value = self.effect.get(key, 0)
        self.effect[key] = (value if isinstance(value, int | float) else 0) + amount

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "magnitude": self.magnitude,
            "unit": self.unit,
            "injection": self.injection,
            "tank": self.tank,
            "nozzle": self.nozzle,
            "product": self.product,
            "device": self.device,
            "order_ids": self.order_ids,
            "effect": {
                k: round(v, 3) if isinstance(v, float) else v for k, v in self.effect.items()
            },
        }


class LabelBook:
    def __init__(self) -> None:
        self._labels: list[Label] = []

    def add(self, label: Label) -> Label:
        self._labels.append(label)
        return label

    def labels(self) -> list[Label]:
        return sorted(self._labels, key=lambda lb: (lb.start, lb.injection, lb.end))

    def __len__(self) -> int:
        return len(self._labels)


def write_labels(path: Path, labels: list[Label]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for label in labels:
            out.write(json.dumps(label.to_json(), ensure_ascii=False) + "\n")
