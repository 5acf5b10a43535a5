"""Import department rows all or nothing, with a report that names every bad row.

Every row is validated (its model, its station exists and is in the importer's scope, no
two rows with the same natural key) before anything is written. One bad row rejects the
whole import: the rejected attempt and its report are kept in ``department_imports``, no
data row is touched. A clean import upserts by natural key in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.departments.rows import ROW_MODELS, DepartmentRow
from fuelwatch.cloud.store.models.departments import (
    DATASET_MODELS,
    DepartmentImport,
    DepartmentRecord,
)
from fuelwatch.cloud.store.models.registry import Station
from fuelwatch.core.timeutil import utcnow

__all__ = ["ImportReport", "RowError", "import_rows"]

MAX_ERRORS = 1000


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass(slots=True)
class ImportReport:
    dataset: str
    status: str  # committed, rejected
    rows: int
    inserted: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    import_id: int | None = None
    truncated: bool = False


def _validate(
    model: type[DepartmentRow], rows: Iterable[tuple[int, dict[str, Any]]], tz: ZoneInfo
) -> tuple[list[tuple[int, DepartmentRow]], list[RowError]]:
    good: list[tuple[int, DepartmentRow]] = []
    errors: list[RowError] = []
    for number, data in rows:
        try:
            good.append((number, model.model_validate(data, context={"tz": tz})))
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or None
                message = err["msg"].removeprefix("Value error, ")
                errors.append(RowError(number, loc, message))
    return good, errors


def import_rows(
    session: Session,
    *,
    dataset: str,
    rows: list[tuple[int, dict[str, Any]]],
    principal: Principal,
    source: str,
    filename: str = "",
    tz: ZoneInfo | None = None,
    header_errors: list[RowError] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Validate and store ``rows`` (``(row number, fields)``); commits either way.

    ``dry_run``: validate only and report what an import would do (status ``valid`` or
    ``rejected``, the rows it would insert and update); nothing is written, not even the
    attempt (the console's preview before a person commits).
    """
    model, table = ROW_MODELS[dataset], DATASET_MODELS[dataset]
    good, errors = _validate(model, rows, tz or ZoneInfo("Asia/Shanghai"))
    errors = list(header_errors or []) + errors
    stations = {
        s.id: s
        for s in session.scalars(
            select(Station).where(Station.id.in_({r.station for _, r in good}))
        )
    }
    seen: dict[str, int] = {}
    for number, row in good:
        station = stations.get(row.station)
        if station is None or not principal.sees(station=station.id, district=station.district_id):
            errors.append(RowError(number, "station", f"unknown station {row.station}"))
        key = row.record_key()
        if key in seen:
            errors.append(RowError(number, ",".join(model.KEY), f"same record as row {seen[key]}"))
        else:
            seen[key] = number
    keys = list(seen)
    existing: dict[str, DepartmentRecord] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        existing |= {
            r.record_key: r
            for r in session.scalars(select(table).where(table.record_key.in_(chunk)))
        }
    for key, number in seen.items():
        old = existing.get(key)
        if old is not None and not principal.sees(station=old.station_id, district=old.district_id):
            # the same natural key belongs to a station this importer cannot see
            errors.append(RowError(number, ",".join(model.KEY), "record exists elsewhere"))
    errors.sort(key=lambda e: e.row)
    report = ImportReport(dataset=dataset, status="committed", rows=len(rows))
    attempt = DepartmentImport(
        dataset=dataset,
        department=principal.department,
        actor=principal.actor,
        source=source,
        filename=filename[:256],
        rows_total=len(rows),
        created_at=utcnow(),
    )
    if errors or not rows:
        if not rows and not errors:
            errors.append(RowError(0, None, "no rows to import"))
        report.status, report.errors = "rejected", errors[:MAX_ERRORS]
        report.truncated = len(errors) > MAX_ERRORS
        if dry_run:
            return report
        attempt.status, attempt.errors = "rejected", [e.as_dict() for e in report.errors]
        attempt.inserted = attempt.updated = 0
        session.add(attempt)
        session.commit()
        report.import_id = attempt.id
        return report

    if dry_run:
        report.status = "valid"
        report.updated = sum(1 for key in seen if key in existing)
        report.inserted = len(seen) - report.updated
        return report
    attempt.status, attempt.errors = "committed", []
    session.add(attempt)
    session.flush()
    now = utcnow()
    for _, row in good:
        key = row.record_key()
        values = row.model_dump(exclude={"station"})
        station = stations[row.station]
        target = existing.get(key)
        if target is None:
            target = table(record_key=key, created_at=now)
            session.add(target)
            report.inserted += 1
        else:
            target.updated_at = now
            report.updated += 1
        target.station_id, target.district_id = station.id, station.district_id
        target.import_id, target.department = attempt.id, principal.department
        for name, value in values.items():
            setattr(target, name, value)
    attempt.inserted, attempt.updated = report.inserted, report.updated
    session.commit()
    report.import_id = attempt.id
    return report
