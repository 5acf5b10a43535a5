"""The detector type: a named judgement, the query results and thresholds it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fuelwatch.cloud.rules.context import Outcome, RuleContext

__all__ = ["Detector"]

DetectFn = Callable[[RuleContext], Outcome]


@dataclass(frozen=True, slots=True)
class Detector:
    """A named judgement: which query results and thresholds it needs, and the function."""

    name: str
    fn: DetectFn
    queries: tuple[str, ...] = ()
    thresholds: tuple[str, ...] = ()
    description: str = ""
    #: judges the incremental state (cloud/rules/state) instead of running its queries: the
    #: running models, or the recent records seen as the rows of its queries (state/views.py);
    #: the rule's queries are still rendered into the evidence, to re-read the raw points
    uses_state: bool = False
    #: with ``uses_state``: its queries' rows are built from the state (``ctx.rows``); False
    #: for a detector that reads the stations' recent records itself (``ctx.stations()``)
    views: bool = True
