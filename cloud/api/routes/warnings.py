"""Warnings: list and filter, detail with evidence, workflow actions, comments, attachments.

The workflow itself (states, transitions, events) is ``fuelwatch.cloud.warnings.service``; this
module checks who may do what to which warning and shapes the answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from fuelwatch.cloud.accounts.principal import Principal
from fuelwatch.cloud.accounts.roles import Permission
from fuelwatch.cloud.api.audit_log import note
from fuelwatch.cloud.api.deps import (
    MAX_ID,
    Offset,
    Page,
    RowId,
    SessionDep,
    StateDep,
    allow,
    not_found,
)
from fuelwatch.cloud.common.categories import Category, Severity
from fuelwatch.cloud.common.masking import mask_evidence
from fuelwatch.cloud.store.db import paginate
from fuelwatch.cloud.store.models.accounts import User
from fuelwatch.cloud.store.models.warnings import Warning_, WarningAttachment
from fuelwatch.cloud.warnings.attachments import AttachmentStore
from fuelwatch.cloud.warnings.service import Action, State, add_comment, transition

#: Attachment types served as themselves; every other type is served as octet-stream.
PASSIVE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)
router = APIRouter(tags=["warnings"])
Reader = Annotated[Principal, Depends(allow(Permission.WARNING_READ))]
Handler = Annotated[Principal, Depends(allow(Permission.WARNING_HANDLE))]
Escalator = Annotated[Principal, Depends(allow(Permission.WARNING_ESCALATE))]
Responder = Annotated[Principal, Depends(allow(Permission.WARNING_RESPOND))]
Commenter = Annotated[Principal, Depends(allow(Permission.WARNING_COMMENT))]


class CategoryOut(BaseModel):
    code: str
    label_zh: str
    label_en: str


class WarningSummary(BaseModel):
    id: int
    rule_id: str
    category: str
    category_zh: str
    category_en: str
    severity: str
    district: str
    station: str
    subject: str
    title_zh: str
    title_en: str
    state: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    cleared_at: datetime | None
    escalation_level: int
    assignee_id: int | None
    rectification_due: datetime | None


class EventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str
    data: dict[str, Any]


class CommentOut(BaseModel):
    id: int
    at: datetime
    author: str
    body: str
    internal: bool


class AttachmentOut(BaseModel):
    id: int
    at: datetime
    uploaded_by: str
    filename: str
    content_type: str
    size: int
    sha256: str
    event_id: int | None


class WarningDetail(WarningSummary):
    message_zh: str
    message_en: str
    evidence: dict[str, Any]
    resolution: str
    closed_at: datetime | None
    events: list[EventOut]
    comments: list[CommentOut]
    attachments: list[AttachmentOut]


class NoteIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "已核实，正在处理"}]})

    note: str = Field(default="", max_length=4000)


class AssignIn(NoteIn):
    assignee_id: int = Field(
        ge=1, le=MAX_ID, description="a user who can see this warning's station"
    )


class RectificationIn(NoteIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "note": "请于7日内说明2号罐液位异常下降原因并提供收油单据",
                    "due": "2026-12-01T00:00:00Z",
                }
            ]
        }
    )

    due: AwareDatetime | None = None


class CloseIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"resolution": "站点已提供补录的进油单据，核实无误"}]}
    )

    resolution: str = Field(min_length=1, max_length=4000)


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=4000, examples=["请补充9月的进油单据"])
    internal: bool = Field(default=False, description="hidden from the station")


def _summary_fields(w: Warning_) -> dict[str, Any]:
    category = Category(w.category)
    return {
        "id": w.id,
        "rule_id": w.rule_id,
        "category": w.category,
        "category_zh": category.label_zh,
        "category_en": category.label_en,
        "severity": w.severity,
        "district": w.district_id,
        "station": w.station_id,
        "subject": w.subject,
        "title_zh": w.title_zh,
        "title_en": w.title_en,
        "state": w.state,
        "first_seen": w.first_seen,
        "last_seen": w.last_seen,
        "occurrences": w.occurrences,
        "cleared_at": w.cleared_at,
        "escalation_level": w.escalation_level,
        "assignee_id": w.assignee_id,
        "rectification_due": w.rectification_due,
    }


def _detail(w: Warning_, principal: Principal) -> WarningDetail:
    internal = principal.can(Permission.WARNING_INTERNAL)
    evidence = w.evidence if principal.can(Permission.SENSITIVE_READ) else mask_evidence(w.evidence)
    return WarningDetail(
        **_summary_fields(w),
        message_zh=w.message_zh,
        message_en=w.message_en,
        evidence=evidence,
        resolution=w.resolution,
        closed_at=w.closed_at,
        events=[
            EventOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                note=e.note,
                data=e.data,
            )
            for e in w.events
        ],
        comments=[
            CommentOut(id=c.id, at=c.at, author=c.author, body=c.body, internal=c.internal)
            for c in w.comments
            if internal or not c.internal
        ],
        attachments=[
            AttachmentOut(
                id=a.id,
                at=a.at,
                uploaded_by=a.uploaded_by,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                sha256=a.sha256,
                event_id=a.event_id,
            )
            for a in w.attachments
        ],
    )


def _visible(
    session: Session, request: Request, principal: Principal, warning_id: RowId
) -> Warning_:
    w = session.get(Warning_, warning_id)
    if w is None or not principal.sees(station=w.station_id, district=w.district_id):
        raise not_found(f"warning {warning_id}")
    note(request, station_id=w.station_id)
    return w


@router.get("/warning-categories", summary="Warning categories with their labels")
def categories(_: Reader) -> list[CategoryOut]:
    return [CategoryOut(code=c.value, label_zh=c.label_zh, label_en=c.label_en) for c in Category]


@router.get("/warnings", summary="List and filter warnings")
def list_warnings(
    session: SessionDep,
    principal: Reader,
    district: Annotated[str | None, Query(max_length=64)] = None,
    station: Annotated[str | None, Query(max_length=64)] = None,
    category: Category | None = None,
    severity: Severity | None = None,
    state: Annotated[list[State] | None, Query()] = None,
    rule_id: Annotated[str | None, Query(max_length=64)] = None,
    assignee_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    active: Annotated[
        bool | None, Query(description="true: still seen by its rule; false: cleared")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="last seen at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="first seen before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> Page[WarningSummary]:
    stmt = select(Warning_).where(principal.row_filter(Warning_.station_id, Warning_.district_id))
    for column, value in (
        (Warning_.district_id, district),
        (Warning_.station_id, station),
        (Warning_.category, category),
        (Warning_.severity, severity),
        (Warning_.rule_id, rule_id),
        (Warning_.assignee_id, assignee_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if state:
        stmt = stmt.where(Warning_.state.in_([s.value for s in state]))
    if active is not None:
        stmt = stmt.where(
            Warning_.cleared_at.is_(None) if active else Warning_.cleared_at.is_not(None)
        )
    if since is not None:
        stmt = stmt.where(Warning_.last_seen >= since)
    if until is not None:
        stmt = stmt.where(Warning_.first_seen < until)
    rows, total = paginate(
        session, stmt, Warning_.last_seen.desc(), Warning_.id.desc(), limit=limit, offset=offset
    )
    items = [WarningSummary(**_summary_fields(w)) for w in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/warnings/{warning_id}", summary="A warning with evidence, history and comments")
def get_warning(
    request: Request, session: SessionDep, principal: Reader, warning_id: RowId
) -> WarningDetail:
    return _detail(_visible(session, request, principal, warning_id), principal)


def _act(
    request: Request,
    session: Session,
    principal: Principal,
    warning_id: RowId,
    action: Action,
    **kwargs: Any,
) -> WarningDetail:
    w = _visible(session, request, principal, warning_id)
    note(request, action=f"warning.{action.value}")
    transition(session, w, action, actor=principal.actor, user_id=principal.user_id, **kwargs)
    session.commit()
    return _detail(w, principal)


@router.post("/warnings/{warning_id}/acknowledge", summary="Acknowledge a warning")
def acknowledge(
    request: Request, session: SessionDep, principal: Handler, warning_id: RowId, body: NoteIn
) -> WarningDetail:
    return _act(request, session, principal, warning_id, Action.ACKNOWLEDGE, note=body.note)


@router.post("/warnings/{warning_id}/assign", summary="Assign a warning to a user")
def assign(
    request: Request, session: SessionDep, principal: Handler, warning_id: RowId, body: AssignIn
) -> WarningDetail:
    w = _visible(session, request, principal, warning_id)
    user = session.get(User, body.assignee_id)
    if user is None or user.disabled:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such user")
    assignee = Principal.of(user)
    if not assignee.sees(station=w.station_id, district=w.district_id) or not assignee.can(
        Permission.WARNING_HANDLE
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"user {user.username} cannot handle warnings of station {w.station_id}",
        )
    return _act(
        request,
        session,
        principal,
        warning_id,
        Action.ASSIGN,
        note=body.note,
        assignee_id=user.id,
    )


@router.post(
    "/warnings/{warning_id}/request-rectification",
    summary="Ask the station to rectify and report back",
)
def request_rectification(
    request: Request,
    session: SessionDep,
    principal: Handler,
    warning_id: RowId,
    body: RectificationIn,
) -> WarningDetail:
    return _act(
        request,
        session,
        principal,
        warning_id,
        Action.REQUEST_RECTIFICATION,
        note=body.note,
        due=body.due,
    )


@router.post(
    "/warnings/{warning_id}/respond",
    summary="The station's response to a rectification request, with attachments",
)
async def respond(
    request: Request,
    state: StateDep,
    principal: Responder,
    warning_id: RowId,
    note_text: Annotated[str, Form(alias="note", min_length=1, max_length=4000)],
    files: Annotated[list[UploadFile] | None, File(description="photos, documents")] = None,
) -> WarningDetail:
    api = state.settings.api
    store = AttachmentStore(api.attachments_dir)
    uploads: list[tuple[UploadFile, bytes]] = []
    for upload in files or []:
        data = await upload.read(api.max_upload_bytes + 1)
        if len(data) > api.max_upload_bytes:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"{upload.filename}: larger than {api.max_upload_bytes} bytes",
            )
        uploads.append((upload, data))

    from starlette.concurrency import run_in_threadpool  # noqa: PLC0415

    def work() -> WarningDetail:
        with state.sessions() as session:
            w = _visible(session, request, principal, warning_id)
            note(request, action="warning.respond")
            event = transition(
                session,
                w,
                Action.RESPOND,
                actor=principal.actor,
                user_id=principal.user_id,
                note=note_text,
                data={"attachments": len(uploads)},
            )
            for upload, data in uploads:
                w.attachments.append(
                    WarningAttachment(
                        event_id=event.id,
                        uploaded_by=principal.actor,
                        filename=(upload.filename or "attachment")[:256],
                        content_type=(upload.content_type or "application/octet-stream")[:128],
                        size=len(data),
                        sha256=store.put(data),
                    )
                )
            session.commit()
            return _detail(w, principal)

    return await run_in_threadpool(work)


@router.post("/warnings/{warning_id}/escalate", summary="Escalate a warning")
def escalate(
    request: Request, session: SessionDep, principal: Escalator, warning_id: RowId, body: NoteIn
) -> WarningDetail:
    return _act(request, session, principal, warning_id, Action.ESCALATE, note=body.note)


@router.post("/warnings/{warning_id}/close", summary="Close a warning with its resolution")
def close(
    request: Request, session: SessionDep, principal: Handler, warning_id: RowId, body: CloseIn
) -> WarningDetail:
    return _act(request, session, principal, warning_id, Action.CLOSE, note=body.resolution)


@router.post(
    "/warnings/{warning_id}/comments",
    status_code=status.HTTP_201_CREATED,
    summary="Comment on a warning",
)
def comment(
    request: Request, session: SessionDep, principal: Commenter, warning_id: RowId, body: CommentIn
) -> CommentOut:
    w = _visible(session, request, principal, warning_id)
    if body.internal and not principal.can(Permission.WARNING_INTERNAL):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not write internal comments")
    c = add_comment(
        session,
        w,
        author=principal.actor,
        user_id=principal.user_id,
        body=body.body,
        internal=body.internal,
    )
    session.commit()
    return CommentOut(id=c.id, at=c.at, author=c.author, body=c.body, internal=c.internal)


@router.get(
    "/warnings/{warning_id}/attachments/{attachment_id}",
    summary="Download an attachment",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(
    request: Request,
    session: SessionDep,
    state: StateDep,
    principal: Reader,
    warning_id: RowId,
    attachment_id: RowId,
) -> Response:
    w = _visible(session, request, principal, warning_id)
    att = next((a for a in w.attachments if a.id == attachment_id), None)
    if att is None:
        raise not_found(f"attachment {attachment_id}")
    try:
        data = AttachmentStore(state.settings.api.attachments_dir).get(att.sha256)
    except OSError as exc:
        raise HTTPException(status.HTTP_410_GONE, "the attachment's file is missing") from exc
    # The uploader chose the content type: only passive types keep theirs (HTML or SVG would
    # run script in the API's origin if a browser rendered it); always a download, sandboxed.
    media_type = (
        att.content_type if att.content_type in PASSIVE_TYPES else "application/octet-stream"
    )
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{att.sha256[:16]}"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )
