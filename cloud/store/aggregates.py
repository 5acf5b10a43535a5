"""Downsampled aggregates for dashboards: a retention policy and InfluxQL continuous queries.

Raw station data stays in the default ``autogen`` retention policy (infinite: the seed plans
keep non-video data permanently). Aggregates go to their own policy, ``aggregates`` (infinite
by default, 52-week shards: few, small points), so dashboards over months read hours and days
instead of every reading, and an operator can shorten the aggregates without touching raw.

Each aggregate is defined once below; the continuous query and the backfill
(``SELECT ... INTO`` over a past range) are rendered from the same definition, so they compute
the same numbers.

InfluxDB 1.x continuous-query semantics (1.6, measured against our influxd in the tests):

- A CQ runs on the server's wall clock at each boundary of its ``RESAMPLE EVERY`` interval
  (epoch-aligned, shifted by the ``GROUP BY time`` offset) and covers ``[now - FOR, now)``
  truncated to the ``GROUP BY`` interval. It does not see data that arrives after its window
  has passed: a gateway back from an outage longer than ``FOR`` delivers readings whose hours
  were already aggregated. We recompute a sliding span (``FOR``: 6 h for hourly, 3 d for
  daily) every run; ingest recomputes the days of readings that arrive later
  (``aggregates_refresh``), and ``fuelwatch cloud influx-setup --backfill --since ...`` does
  it by hand (rewriting a bucket overwrites its point: same time, same tags).
- Days are local days (Asia/Shanghai, UTC+8 without DST): ``GROUP BY time(1d, 16h)`` puts the
  boundary at 16:00 UTC = 00:00 CST, the same buckets as ``tz('Asia/Shanghai')`` in the
  dashboards.
- A CQ cannot be altered; a changed definition gets a new name (``..._v2``) and
  ``ensure_aggregates`` drops our CQs that are no longer defined.
- A bucket without data writes nothing (no zero rows): dashboards ``fill(0)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fuelwatch.cloud.store.influx import InfluxClient, InfluxError

__all__ = [
    "AGGREGATES",
    "AGGREGATE_KINDS",
    "AGGREGATE_RP",
    "LOCAL_UTC_OFFSET",
    "Aggregate",
    "SetupReport",
    "backfill",
    "ensure_aggregates",
]

LOGGER = logging.getLogger(__name__)

AGGREGATE_RP = "aggregates"
RAW_RP = "autogen"
CQ_PREFIX = "fw_"
LOCAL_DAY_OFFSET = "16h"  # 00:00 Asia/Shanghai = 16:00 UTC (no DST)
LOCAL_UTC_OFFSET = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class Aggregate:
    name: str  # target measurement in the aggregates RP
    version: int
    source: str  # raw measurement in autogen
    fields: tuple[tuple[str, str], ...]  # (InfluxQL aggregate expression, output field)
    tags: tuple[str, ...]
    interval: str
    offset: str = ""
    resample_for: str = ""
    description: str = ""

    @property
    def cq_name(self) -> str:
        return f"{CQ_PREFIX}{self.name}_v{self.version}"

    def select(self, db: str, rp: str, where: str = "") -> str:
        fields = ", ".join(f'{expr} AS "{alias}"' for expr, alias in self.fields)
        group = ", ".join([self.time_group, *(f'"{t}"' for t in self.tags)])
        return (
            f'SELECT {fields} INTO "{db}"."{rp}"."{self.name}" '
            f'FROM "{db}"."{RAW_RP}"."{self.source}"{where} GROUP BY {group}'
        )

    @property
    def time_group(self) -> str:
        return f"time({self.interval}, {self.offset})" if self.offset else f"time({self.interval})"

    def cq(self, db: str, rp: str) -> str:
        resample = f" RESAMPLE FOR {self.resample_for}" if self.resample_for else ""
        return (
            f'CREATE CONTINUOUS QUERY "{self.cq_name}" ON "{db}"{resample} '
            f"BEGIN {self.select(db, rp)} END"
        )


def _sales(volume: str = "volume", amount: str = "amount") -> tuple[tuple[str, str], ...]:
    return (
        (f'sum("{volume}")', "volume"),
        (f'sum("{amount}")', "amount"),
        (f'count("{volume}")', "transactions"),
    )


AGGREGATES: tuple[Aggregate, ...] = (
    Aggregate(
        "sales_1h",
        1,
        "dispenser_transaction",
        _sales(),
        ("district", "station", "nozzle", "product"),
        "1h",
        resample_for="6h",
        description="hourly metered sales per nozzle: litres, yuan, transactions",
    ),
    Aggregate(
        "sales_1d",
        1,
        "dispenser_transaction",
        _sales(),
        ("district", "station", "product"),
        "1d",
        offset=LOCAL_DAY_OFFSET,
        resample_for="3d",
        description="daily (local day) metered sales per station and product",
    ),
    Aggregate(
        "tank_1h",
        1,
        "tank_inventory",
        (
            ('mean("volume")', "volume_mean"),
            ('min("volume")', "volume_min"),
            ('max("volume")', "volume_max"),
            ('last("volume")', "volume_last"),
            ('mean("tc_volume")', "tc_volume_mean"),
            ('mean("temperature")', "temperature_mean"),
            ('max("water")', "water_max"),
            ('count("volume")', "readings"),
        ),
        ("district", "station", "tank", "product"),
        "1h",
        resample_for="6h",
        description="hourly tank inventory per tank: mean/min/max/last volume, water, readings",
    ),
    Aggregate(
        "pos_sales_1h",
        1,
        "pos_sale",
        _sales(),
        ("district", "station", "nozzle", "product"),
        "1h",
        resample_for="6h",
        description="hourly sales the station's POS declares, per nozzle",
    ),
)


#: Record kinds (topic level) whose measurements feed an aggregate.
AGGREGATE_KINDS = frozenset({"transaction", "inventory", "pos_sale"})


@dataclass(slots=True)
class SetupReport:
    retention_policy: str = ""  # "created", "altered" or "ok"
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


async def _retention_policy(influx: InfluxClient, rp: str, duration: str) -> str:
    db = influx.database
    found = await influx.query(f'SHOW RETENTION POLICIES ON "{db}"')
    rows = {str(r["name"]): r for s in found for r in s.rows()}
    if rp not in rows:
        await influx.query(
            f'CREATE RETENTION POLICY "{rp}" ON "{db}" DURATION {duration} REPLICATION 1 '
            "SHARD DURATION 52w"
        )
        return "created"
    want = "0s" if duration.upper() == "INF" else None
    if want is not None and rows[rp]["duration"] == want:
        return "ok"
    await influx.query(f'ALTER RETENTION POLICY "{rp}" ON "{db}" DURATION {duration}')
    return "altered"


async def ensure_aggregates(
    influx: InfluxClient,
    *,
    rp: str = AGGREGATE_RP,
    duration: str = "INF",
    aggregates: tuple[Aggregate, ...] = AGGREGATES,
) -> SetupReport:
    """Create the aggregates RP and our CQs if missing (idempotent); drop retired ``fw_`` CQs."""
    db = influx.database
    report = SetupReport(retention_policy=await _retention_policy(influx, rp, duration))
    existing: set[str] = set()
    for series in await influx.query("SHOW CONTINUOUS QUERIES"):
        if series.name == db:
            existing |= {str(r["name"]) for r in series.rows()}
    wanted = {a.cq_name: a for a in aggregates}
    for name in sorted(existing - set(wanted)):
        if name.startswith(CQ_PREFIX):
            await influx.query(f'DROP CONTINUOUS QUERY "{name}" ON "{db}"')
            report.dropped.append(name)
    for name, agg in wanted.items():
        if name in existing:
            report.kept.append(name)
            continue
        await influx.query(agg.cq(db, rp))
        report.created.append(name)
    if report.created or report.dropped:
        LOGGER.info(
            "InfluxDB aggregates on %s: created %s, dropped %s",
            db,
            report.created or "none",
            report.dropped or "none",
        )
    return report


def _ns(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


async def backfill(
    influx: InfluxClient,
    *,
    since: datetime,
    until: datetime | None = None,
    rp: str = AGGREGATE_RP,
    chunk: timedelta = timedelta(days=7),
    aggregates: tuple[Aggregate, ...] = AGGREGATES,
    district: str | None = None,
) -> dict[str, int]:
    """Recompute the aggregates over ``[since, until)`` with ``SELECT ... INTO``.

    The range is widened to whole days (local), so no bucket is written from part of its data,
    and cut into ``chunk``-sized queries to bound the server's memory. ``district`` limits it
    to one district's stations (every aggregate is grouped by district). Returns points
    written per aggregate.
    """
    if district is not None and not district.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"not a district id: {district!r}")
    only = f" AND \"district\" = '{district}'" if district else ""
    until = until or datetime.now(UTC)
    shift = LOCAL_UTC_OFFSET  # local days; whole local days are whole hours too
    start = (since.astimezone(UTC) + shift).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= shift
    end = (until.astimezone(UTC) + shift).replace(hour=0, minute=0, second=0, microsecond=0)
    end = end - shift + timedelta(days=1)
    written: dict[str, int] = {a.name: 0 for a in aggregates}
    t = start
    while t < end:
        stop = min(end, t + chunk)
        where = f" WHERE time >= {_ns(t)} AND time < {_ns(stop)}{only}"
        for agg in aggregates:
            try:
                result = await influx.query(agg.select(influx.database, rp, where))
            except InfluxError as exc:
                raise InfluxError(f"backfill of {agg.name} from {t:%Y-%m-%d}: {exc}") from exc
            written[agg.name] += sum(int(r.get("written", 0)) for s in result for r in s.rows())
        t = stop
    return written
