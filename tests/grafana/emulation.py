"""What Grafana does to a panel query before a datasource sees it, re-implemented for tests.

Grafana cannot run here, so this stands in for the parts of it the dashboards rely on:

- template variables, formatted per datasource as Grafana 11 does: InfluxQL regex-escapes the
  values of multi-value / include-all variables and joins several as ``(a|b)``, a
  single-value variable goes in as it is; SQL quotes each value of a multi-value /
  include-all variable (``'a','b'``) and doubles quotes in a single value;
- the macros we use: ``$timeFilter`` and ``$__interval`` (InfluxQL), ``$__timeFilter(col)``,
  ``$__timeFrom()`` and ``$__timeTo()`` (SQL);
- server-side math expressions (``$A - $B + $C``): series joined on equal labels or on labels
  that are a subset of the other side's, point by point on equal timestamps.

It is not Grafana: transformations (joinByField, calculateField, reduce) and the panels'
drawing are not emulated, and nothing here has been compared with a running Grafana.
"""

from __future__ import annotations

import ast
import math as pymath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Frame",
    "Series",
    "TimeRange",
    "Variable",
    "evaluate_math",
    "interpolate_influx",
    "interpolate_sql",
    "interval_for",
]

_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_VARIABLE = re.compile(r"\$(\w+)")


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    values: tuple[str, ...]
    multi: bool  # multi-value or include-all in the dashboard: formatted as a list


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


_INTERVALS = [  # Grafana's roundInterval: upper bound (ms) -> interval
    (15, "10ms"),
    (35, "20ms"),
    (75, "50ms"),
    (150, "100ms"),
    (250, "200ms"),
    (350, "500ms"),
    (750, "1s"),
    (1500, "1s"),
    (3500, "2s"),
    (7500, "5s"),
    (12500, "10s"),
    (17500, "15s"),
    (25000, "20s"),
    (45000, "30s"),
    (90000, "1m"),
    (180000, "2m"),
    (450000, "5m"),
    (1050000, "10m"),
    (2100000, "20m"),
    (5400000, "1h"),
    (9000000, "2h"),
    (16200000, "3h"),
    (24300000, "6h"),
    (64800000, "12h"),
    (604800000, "1d"),
    (1814400000, "1w"),
]
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def _ms(interval: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", interval)
    if m is None:
        raise ValueError(f"not an interval: {interval}")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def interval_for(rng: TimeRange, min_interval: str | None, max_points: int = 1000) -> str:
    """``$__interval``: the range over the panel's width in points, rounded, at least the
    panel's minimum interval."""
    raw = (rng.end_ms - rng.start_ms) / max_points
    rounded = next((iv for bound, iv in _INTERVALS if raw < bound), "30d")
    if min_interval is not None and _ms(min_interval) > _ms(rounded):
        return min_interval
    return rounded


def _substitute(
    text: str, variables: Mapping[str, Variable], fmt: Callable[[Variable], str]
) -> str:
    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.startswith("__"):
            return m.group(0)  # a macro, handled by the caller
        if name not in variables:
            raise KeyError(f"query uses ${name}, which the dashboard does not define")
        return fmt(variables[name])

    return _VARIABLE.sub(replace, text)


def _influx_format(var: Variable) -> str:
    if not var.multi:
        return var.values[0]
    escaped = [_REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), v) for v in var.values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate_influx(
    query: str, variables: Mapping[str, Variable], rng: TimeRange, interval: str
) -> str:
    text = query.replace(
        "$timeFilter", f"time >= {rng.start_ms}ms and time <= {rng.end_ms}ms"
    ).replace("$__interval", interval)
    return _substitute(text, variables, _influx_format)


def _rfc3339(t: datetime) -> str:
    return "'" + t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z'"


def _sql_format(var: Variable) -> str:
    if not var.multi:
        return var.values[0].replace("'", "''")
    return ",".join("'" + v.replace("'", "''") + "'" for v in var.values)


def interpolate_sql(query: str, variables: Mapping[str, Variable], rng: TimeRange) -> str:
    text = re.sub(
        r"\$__timeFilter\(([\w.]+)\)",
        lambda m: f"{m.group(1)} BETWEEN {_rfc3339(rng.start)} AND {_rfc3339(rng.end)}",
        query,
    )
    text = text.replace("$__timeFrom()", _rfc3339(rng.start)).replace(
        "$__timeTo()", _rfc3339(rng.end)
    )
    if "$__" in text:
        raise KeyError(f"a SQL macro this emulation does not know: {text}")
    return _substitute(text, variables, _sql_format)


# -- results and math ------------------------------------------------------------------------


@dataclass
class Series:
    """One time series: labels (InfluxDB tags) and value per timestamp (ms)."""

    labels: dict[str, str]
    points: dict[int, float | None] = field(default_factory=dict)

    def values(self) -> list[float]:
        return [v for v in self.points.values() if v is not None]


@dataclass
class Frame:
    """A query's result: columns and rows (tables), or series (time series)."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)

    def has_values(self) -> bool:
        """At least one non-null value outside time and label columns."""
        if self.series:
            return any(s.values() for s in self.series)
        value_columns = [
            i for i, c in enumerate(self.columns) if c not in ("time", "Time", "metric")
        ]
        return any(row[i] is not None for row in self.rows for i in value_columns)


def _combine(a: Any, b: Any, op: Callable[[float, float], float]) -> Any:
    if not isinstance(a, list) and not isinstance(b, list):
        return op(a, b)
    if not isinstance(a, list):
        return [Series(s.labels, _points(s, lambda v: op(a, v))) for s in b]
    if not isinstance(b, list):
        return [Series(s.labels, _points(s, lambda v: op(v, b))) for s in a]
    out: list[Series] = []
    for left in a:
        for right in b:
            small, big = sorted((left.labels, right.labels), key=len)
            if any(big.get(k) != v for k, v in small.items()):
                continue
            points: dict[int, float | None] = {}
            for t, lv in left.points.items():
                rv = right.points.get(t)
                if lv is None or rv is None:
                    continue
                try:
                    points[t] = op(lv, rv)
                except ZeroDivisionError:
                    points[t] = pymath.nan
            out.append(Series(dict(big), points))
    return out


def _points(s: Series, f: Callable[[float], float]) -> dict[int, float | None]:
    return {t: None if v is None else f(v) for t, v in s.points.items()}


_OPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda x, y: x + y,
    ast.Sub: lambda x, y: x - y,
    ast.Mult: lambda x, y: x * y,
    ast.Div: lambda x, y: x / y,
}


def evaluate_math(expression: str, inputs: Mapping[str, list[Series]]) -> list[Series]:
    """Evaluate a Grafana math expression over the panel's series (by refId)."""
    tree = ast.parse(re.sub(r"\$([A-Z])\b", r"ref_\1", expression), mode="eval")

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Name) and node.id.startswith("ref_"):
            return inputs[node.id.removeprefix("ref_")]
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _combine(walk(node.left), walk(node.right), _OPS[type(node.op)])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return _combine(walk(node.operand), -1.0, lambda x, y: x * y)
        raise ValueError(f"unsupported in math expression {expression!r}: {ast.dump(node)}")

    result = walk(tree)
    if not isinstance(result, list):
        raise TypeError(f"math expression {expression!r} uses no query")
    return result
