"""Department data: import (JSON, CSV, XLSX; all rows or none, with a per-row report) and
scoped reading. The routes are made per dataset so each has its own schema in the docs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, HTTPException, Query, UploadFile, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import AwareDatetime, BaseModel, Field, create_model
from sqlalchemy import select

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import DATASET_DEPARTMENTS, Department, Permission
from fuelwatch.cloud.api.deps import Offset, Page, SessionDep, StateDep, allow, zone
from fuelwatch.cloud.common.masking import mask_fields
from fuelwatch.cloud.departments.files import read_upload
from fuelwatch.cloud.departments.importer import ImportReport, import_rows
from fuelwatch.cloud.departments.rows import ROW_MODELS, DepartmentRow
from fuelwatch.cloud.store.db import paginate
from fuelwatch.cloud.store.models.departments import (
    DATASET_MODELS,
    DepartmentImport,
    DepartmentRecord,
)

router = APIRouter(prefix="/department-data", tags=["department data"])
Reader = Annotated[Principal, Depends(allow(Permission.DEPARTMENT_READ))]
Importer = Annotated[Principal, Depends(allow(Permission.DEPARTMENT_IMPORT))]
TIME_FIELDS = {
    "ewaybills": "arrived_at",
    "metrology": "performed_at",
    "inspections": "inspected_at",
}


class Dataset(StrEnum):
    EWAYBILLS = "ewaybills"
    TAX_DECLARATIONS = "tax_declarations"
    LICENCES = "licences"
    METROLOGY = "metrology"
    INSPECTIONS = "inspections"


class RowErrorOut(BaseModel):
    row: int = Field(description="JSON: position in `rows` from 1; files: sheet row (header=1)")
    field: str | None
    message: str


class ImportReportOut(BaseModel):
    dataset: str
    status: str = Field(description="committed, or rejected (nothing was written)")
    rows: int
    inserted: int
    updated: int
    errors: list[RowErrorOut]
    truncated: bool = Field(description="more errors than listed")
    import_id: int | None


class ImportOut(BaseModel):
    id: int
    dataset: str
    department: str
    actor: str
    source: str
    filename: str
    rows_total: int
    inserted: int
    updated: int
    status: str
    errors: list[RowErrorOut]
    created_at: datetime


REJECTED: dict[int | str, dict[str, Any]] = {
    422: {"model": ImportReportOut, "description": "rejected: nothing imported; see `errors`"}
}


def _report(report: ImportReport) -> JSONResponse:
    body = ImportReportOut(
        dataset=report.dataset,
        status=report.status,
        rows=report.rows,
        inserted=report.inserted,
        updated=report.updated,
        errors=[RowErrorOut(**e.as_dict()) for e in report.errors],
        truncated=report.truncated,
        import_id=report.import_id,
    )
    code = status.HTTP_200_OK if report.status == "committed" else 422
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


def _may_import(principal: Principal, dataset: str) -> None:
    if principal.department != Department.PLATFORM_ADMIN and (
        Department(principal.department) not in DATASET_DEPARTMENTS[dataset]
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"the {principal.department} department does not feed {dataset}",
        )


TzQuery = Annotated[
    str,
    Query(max_length=64, description="zone of times given without one", examples=["Asia/Shanghai"]),
]


def _out_model(rows: type[DepartmentRow]) -> type[BaseModel]:
    """The row's fields as stored (masked values need not fit the input constraints)."""
    fields: dict[str, Any] = {
        name: (info.annotation, ...) for name, info in rows.model_fields.items()
    }
    fields |= {
        "id": (int, ...),
        "district": (str, ...),
        "department": (str, ...),
        "import_id": (int, ...),
        "created_at": (datetime, ...),
        "updated_at": (datetime | None, None),
    }
    return create_model(f"{rows.__name__.removesuffix('Row')}Out", **fields)


def _row_out(
    record: DepartmentRecord, model: type[DepartmentRow], principal: Principal
) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: getattr(record, name) for name in model.model_fields if name != "station"
    }
    data |= {
        "station": record.station_id,
        "id": record.id,
        "district": record.district_id,
        "department": record.department,
        "import_id": record.import_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }
    if not principal.can(Permission.SENSITIVE_READ):
        data = mask_fields(data, model.SENSITIVE)
    return data


def _add_dataset_routes(dataset: Dataset) -> None:
    name = dataset.value
    rows_model = ROW_MODELS[name]
    table = DATASET_MODELS[name]
    out_model = _out_model(rows_model)
    # Rows are checked by the importer (to report every bad row, not stop at the first), so
    # the body is read as plain JSON; the documented schema is the real one.
    body_schema = {
        "type": "object",
        "required": ["rows"],
        "properties": {
            "rows": {"type": "array", "maxItems": 50_000, "items": rows_model.model_json_schema()}
        },
    }
    time_field = TIME_FIELDS.get(name)

    @router.post(
        f"/{name}",
        summary=f"Import {name} (JSON): all rows or none",
        response_model=ImportReportOut,
        responses=REJECTED,
        name=f"import_{name}",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        },
    )
    def import_json(
        session: SessionDep,
        principal: Importer,
        body: Annotated[dict[str, Any], Body()],
        tz: TzQuery = "Asia/Shanghai",
    ) -> JSONResponse:
        _may_import(principal, name)
        raw = body.get("rows")
        if not isinstance(raw, list) or len(raw) > 50_000:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                'body must be {"rows": [up to 50000 objects]}',
            )
        rows = [(i, r if isinstance(r, dict) else {"": r}) for i, r in enumerate(raw, start=1)]
        report = import_rows(
            session, dataset=name, rows=rows, principal=principal, source="json", tz=zone(tz)
        )
        return _report(report)

    @router.post(
        f"/{name}/upload",
        summary=f"Import {name} from a CSV or XLSX file: all rows or none",
        response_model=ImportReportOut,
        responses=REJECTED,
        name=f"upload_{name}",
    )
    async def upload(
        session: SessionDep,
        state: StateDep,
        principal: Importer,
        file: Annotated[UploadFile, File(description="CSV (UTF-8 or GB18030) or XLSX")],
        tz: TzQuery = "Asia/Shanghai",
    ) -> JSONResponse:
        _may_import(principal, name)
        local = zone(tz)
        limit = state.settings.api.max_upload_bytes
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"larger than {limit} bytes")
        filename = file.filename or ""
        table = read_upload(data, filename, rows_model)
        from starlette.concurrency import run_in_threadpool  # noqa: PLC0415

        report = await run_in_threadpool(
            import_rows,
            session,
            dataset=name,
            rows=table.rows,
            principal=principal,
            source="xlsx" if table.is_xlsx else "csv",
            filename=filename,
            tz=local,
            header_errors=table.header_errors,
        )
        if table.header_errors:
            report.rows = table.rows_seen
        return _report(report)

    @router.get(
        f"/{name}/template.csv",
        summary=f"An empty CSV with the columns of {name}",
        response_class=PlainTextResponse,
        name=f"template_{name}",
    )
    def template(_: Reader) -> str:
        return ",".join(rows_model.model_fields) + "\n"

    @router.get(
        f"/{name}",
        summary=f"List {name} you can see",
        name=f"list_{name}",
        response_model=Page[out_model],  # type: ignore[valid-type]
    )
    def list_rows(
        session: SessionDep,
        principal: Reader,
        station: Annotated[str | None, Query(max_length=64)] = None,
        district: Annotated[str | None, Query(max_length=64)] = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Offset = 0,
    ) -> Any:
        stmt = select(table).where(principal.row_filter(table.station_id, table.district_id))
        if station is not None:
            stmt = stmt.where(table.station_id == station)
        if district is not None:
            stmt = stmt.where(table.district_id == district)
        if time_field is not None:
            column = getattr(table, time_field)
            if since is not None:
                stmt = stmt.where(column >= since)
            if until is not None:
                stmt = stmt.where(column < until)
        found, total = paginate(session, stmt, table.id, limit=limit, offset=offset)
        items = [_row_out(r, rows_model, principal) for r in found]
        return Page(items=items, total=total, limit=limit, offset=offset)


for _dataset in Dataset:
    _add_dataset_routes(_dataset)


@router.get("/imports", summary="Import attempts (yours, or your department's)")
def list_imports(
    session: SessionDep,
    principal: Importer,
    dataset: Dataset | None = None,
    import_status: Annotated[
        str | None, Query(alias="status", pattern="^(committed|rejected)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> Page[ImportOut]:
    stmt = select(DepartmentImport)
    if principal.department != Department.PLATFORM_ADMIN:
        stmt = stmt.where(DepartmentImport.department == principal.department)
    if dataset is not None:
        stmt = stmt.where(DepartmentImport.dataset == dataset.value)
    if import_status is not None:
        stmt = stmt.where(DepartmentImport.status == import_status)
    rows, total = paginate(session, stmt, DepartmentImport.id.desc(), limit=limit, offset=offset)
    items = [
        ImportOut(
            id=r.id,
            dataset=r.dataset,
            department=r.department,
            actor=r.actor,
            source=r.source,
            filename=r.filename,
            rows_total=r.rows_total,
            inserted=r.inserted,
            updated=r.updated,
            status=r.status,
            errors=[RowErrorOut(**e) for e in r.errors],
            created_at=r.created_at,
        )
        for r in rows
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)
