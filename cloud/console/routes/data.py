"""Department data: upload a CSV or XLSX, see every row and every error, then commit.

The preview runs the importer itself with ``dry_run`` (the same validation, scope and
duplicate checks as the API's import, nothing written). The file waits in a content-addressed
folder beside the attachments; the commit form names it by SHA-256 with an HMAC bound to the
user, dataset and file, so a form cannot be pointed at another file or dataset.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from openpyxl import Workbook
from starlette.datastructures import UploadFile

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.deps import AppState, SessionDep, StateDep
from fuelwatch.cloud.api.routes import departments as api
from fuelwatch.cloud.console.render import LOCAL_ZONE, finish, page
from fuelwatch.cloud.console.session import CheckedForm, Viewer, need
from fuelwatch.cloud.departments.files import read_upload
from fuelwatch.cloud.departments.importer import ImportReport, import_rows
from fuelwatch.cloud.departments.rows import ROW_MODELS
from fuelwatch.cloud.warnings.attachments import AttachmentStore

router = APIRouter()
Importer = Annotated[Viewer, Depends(need(Permission.DEPARTMENT_IMPORT))]
PREVIEW_ROWS = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _datasets(principal: Principal) -> list[str]:
    out = []
    for name in ROW_MODELS:
        try:
            api._may_import(principal, name)  # noqa: SLF001 - the API's one rule of who feeds what
        except HTTPException:
            continue
        out.append(name)
    return out


def _store(state: AppState) -> AttachmentStore:
    return AttachmentStore(Path(state.settings.api.attachments_dir) / "imports")


def _seal(state: AppState, principal: Principal, dataset: str, sha: str, filename: str) -> str:
    secret = state.settings.api.jwt_secret.encode()
    message = f"import:{principal.user_id}:{dataset}:{sha}:{filename}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _dataset(principal: Principal, value: Any) -> str:
    if not isinstance(value, str) or value not in ROW_MODELS:
        raise HTTPException(422, "choose a dataset")
    api._may_import(principal, value)  # noqa: SLF001 - 403 if the department does not feed it
    return value


@router.get("/data")
def data_home(request: Request, session: SessionDep, viewer: Importer) -> Response:
    principal = viewer.principal
    recent = api.list_imports(session, principal, limit=10).items
    return page(request, viewer, "data.html", datasets=_datasets(principal), recent=recent)


def _run(
    session: SessionDep,
    principal: Principal,
    dataset: str,
    data: bytes,
    filename: str,
    *,
    dry_run: bool,
) -> tuple[ImportReport, list[tuple[int, dict[str, str]]]]:
    table = read_upload(data, filename, ROW_MODELS[dataset])
    report = import_rows(
        session,
        dataset=dataset,
        rows=table.rows,
        principal=principal,
        source="xlsx" if table.is_xlsx else "csv",
        filename=filename,
        tz=LOCAL_ZONE,
        header_errors=table.header_errors,
        dry_run=dry_run,
    )
    if table.header_errors:
        report.rows = table.rows_seen
    return report, table.rows


@router.post("/data/preview")
async def preview(
    request: Request, session: SessionDep, state: StateDep, viewer: Importer, form: CheckedForm
) -> Response:
    principal = viewer.principal
    dataset = _dataset(principal, form.get("dataset"))
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(422, "choose a CSV or XLSX file")
    limit = state.settings.api.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"larger than {limit} bytes")
    filename = upload.filename[:256]
    report, rows = _run(session, principal, dataset, data, filename, dry_run=True)
    sha = _store(state).put(data) if report.status == "valid" else ""
    bad_rows = {e.row for e in report.errors}
    columns = list(ROW_MODELS[dataset].model_fields)
    return page(
        request,
        viewer,
        "data_preview.html",
        dataset=dataset,
        filename=filename,
        report=report,
        columns=columns,
        rows=rows[:PREVIEW_ROWS],
        bad_rows=bad_rows,
        sha=sha,
        seal=_seal(state, principal, dataset, sha, filename) if sha else "",
        committed=False,
    )


@router.post("/data/commit")
def commit(
    request: Request, session: SessionDep, state: StateDep, viewer: Importer, form: CheckedForm
) -> Response:
    principal = viewer.principal
    dataset = _dataset(principal, form.get("dataset"))
    sha, filename = str(form.get("sha") or ""), str(form.get("filename") or "")[:256]
    seal = str(form.get("seal") or "")
    if not hmac.compare_digest(seal, _seal(state, principal, dataset, sha, filename)):
        raise HTTPException(403, "the preview has expired: upload the file again")
    store = _store(state)
    try:
        data = store.get(sha)
    except (OSError, ValueError) as exc:
        raise HTTPException(410, "the previewed file is gone: upload it again") from exc
    report, rows = _run(session, principal, dataset, data, filename, dry_run=False)
    if report.status == "committed":
        store.path(sha).unlink(missing_ok=True)
    return page(
        request,
        viewer,
        "data_preview.html",
        dataset=dataset,
        filename=filename,
        report=report,
        columns=list(ROW_MODELS[dataset].model_fields),
        rows=rows[:PREVIEW_ROWS],
        bad_rows={e.row for e in report.errors},
        sha="",
        seal="",
        committed=True,
    )


@router.get("/data/templates/{dataset}.{kind}")
def template(request: Request, viewer: Importer, dataset: str, kind: str) -> Response:
    """An empty table with the dataset's columns, as the API's template.csv, or as XLSX."""
    if dataset not in ROW_MODELS or kind not in ("csv", "xlsx"):
        raise HTTPException(404, "no such template")
    columns = list(ROW_MODELS[dataset].model_fields)
    if kind == "csv":
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow(columns)
        response = Response(text.getvalue().encode("utf-8-sig"), media_type="text/csv")
    else:
        book = Workbook()
        sheet = book.active
        assert sheet is not None  # a new workbook has its sheet
        sheet.title = dataset
        sheet.append(columns)
        out = io.BytesIO()
        book.save(out)
        response = Response(out.getvalue(), media_type=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{dataset}.{kind}"'
    finish(request, viewer, response)
    return response
