"""A warning's evidence, arranged for reading: the decision as a chart, the raw records as a
chart and a table, the exact queries, the other numbers.

The evidence format is the rules' (docs/rules.md#evidence); this only draws it. Anything the
format leaves open (which fields a record has) is found in the data, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup

from fuelwatch.cloud.console.charts import Line, bar_chart, line_chart
from fuelwatch.cloud.console.i18n import Lang, translate
from fuelwatch.cloud.console.render import local_time

__all__ = ["EvidenceView", "evidence_view"]

MAX_ROWS = 200
#: record fields worth plotting over time, the first one present wins
PLOT_FIELDS = ("volume", "tc_volume", "amount", "value", "variance_l20", "unit_price", "rise")
SKIP_COLUMNS = ("measurement",)


@dataclass(slots=True)
class EvidenceView:
    comparison: dict[str, Any] | None = None
    decision_chart: Markup | None = None
    records_chart: Markup | None = None
    records_field: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    records_total: int = 0
    queries: list[dict[str, str]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _ms(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp() * 1000
        except ValueError:
            return None
    return None


def _local(value: Any) -> Any:
    """A record's time on the departments' clock, to the second (as it is in the data)."""
    ms = _ms(value)
    return value if ms is None else local_time(ms, seconds=True)


def _decision(comparison: dict[str, Any], lang: Lang, ident: int) -> Markup | None:
    """The decision as bars against the threshold (a dashed line).

    A difference test (``|measured − expected| > threshold``) is drawn as the difference
    against the threshold, since both totals would dwarf it; any other test as the measured
    (and expected) value against the threshold.
    """
    measured, expected = _number(comparison.get("measured")), _number(comparison.get("expected"))
    threshold = _number(comparison.get("threshold"))
    if measured is None:
        return None
    test = str(comparison.get("test", ""))
    if ("−" in test or "-" in test) and expected is not None:
        absolute = test.lstrip().startswith("|")
        labels = ["|Δ|" if absolute else "Δ"]
        values = [abs(measured - expected) if absolute else measured - expected]
    else:
        labels, values = [translate(lang, "measured")], [measured]
        if expected is not None:
            labels.append(translate(lang, "expected"))
            values.append(expected)
    return bar_chart(
        labels,
        [(str(comparison.get("unit", "")), values)],
        threshold=threshold,
        title=f"{translate(lang, 'comparison')}: {test}",
        desc=", ".join(f"{a} {b:g}" for a, b in zip(labels, values, strict=True)),
        ident=f"dec{ident}",
    )


def _records(view: EvidenceView, records: list[dict[str, Any]], lang: Lang, ident: int) -> None:
    columns: list[str] = []
    for r in records[:MAX_ROWS]:
        for k in r:
            if k not in columns and k not in SKIP_COLUMNS:
                columns.append(k)
    if "time" in columns:
        columns.insert(0, columns.pop(columns.index("time")))
    view.columns = columns
    view.rows = [
        [_local(r.get(c)) if c == "time" else r.get(c) for c in columns] for r in records[:MAX_ROWS]
    ]
    plot = next(
        (f for f in PLOT_FIELDS if any(_number(r.get(f)) is not None for r in records)), None
    )
    if plot is None:
        return
    points = sorted(
        (t, v)
        for r in records
        for t, v in [(_ms(r.get("time")), _number(r.get(plot)))]
        if t is not None and v is not None
    )
    if points:
        view.records_field = plot
        view.records_chart = line_chart(
            [Line(plot, points, dots=True)],
            title=f"{translate(lang, 'raw_records')}: {plot}",
            desc=f"{len(points)} {plot}",
            ident=f"rec{ident}",
        )


def evidence_view(evidence: dict[str, Any], lang: Lang, ident: int) -> EvidenceView:
    view = EvidenceView()
    known = {"comparison", "records", "records_total", "queries", "values", "thresholds", "window"}
    comparison = evidence.get("comparison")
    if isinstance(comparison, dict):
        view.comparison = comparison
        view.decision_chart = _decision(comparison, lang, ident)
    records = evidence.get("records")
    if isinstance(records, list):
        _records(view, [r for r in records if isinstance(r, dict)], lang, ident)
        view.records_total = int(evidence.get("records_total") or len(records))
    queries = evidence.get("queries")
    if isinstance(queries, list):
        for i, q in enumerate(queries):
            if isinstance(q, dict):
                view.queries.append(
                    {"name": str(q.get("name", i)), "text": str(q.get("influxql", q.get("sql", q)))}
                )
            else:
                view.queries.append({"name": str(i), "text": str(q)})
    for name in ("values", "thresholds", "window"):
        value = evidence.get(name)
        if isinstance(value, dict):
            setattr(view, name, value)
    view.other = {k: v for k, v in evidence.items() if k not in known}
    return view
