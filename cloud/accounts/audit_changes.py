"""Before and after values of every row a request changes, for its audit row.

A listener on the API's sessionmaker notes, after each flush, every inserted, updated and
deleted row: its table, primary key, and the columns that changed with their old and new
values (all columns for an insert or a delete). Secrets are never copied: password hashes,
webhook secrets and key digests appear as ``"<redacted>"``. Tables whose rows are
bookkeeping of authentication (refresh tokens, password history) and the audit log itself are
left out. The audit middleware puts the list into the request's audit row as
``detail.changes``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["CHANGES_KEY", "REDACTED", "track_changes"]

CHANGES_KEY = "audit_changes"
REDACTED = "<redacted>"
_SECRET_COLUMNS = frozenset({"password_hash", "secret", "secret_sha256"})
_SKIPPED_TABLES = frozenset({"audit_log", "refresh_tokens", "password_history"})
_MAX_CHANGES = 50
_MAX_TEXT = 500


def _plain(column: str, value: Any) -> Any:
    if column in _SECRET_COLUMNS and value is not None:
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | dict):
        text = repr(value)
        return value if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"
    text = str(value).replace("\x00", "\\x00")  # PostgreSQL text holds no NUL
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def _key(obj: Any) -> str:
    identity = inspect(obj).identity
    return "/".join(str(part) for part in identity) if identity else ""


def _snapshot(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {a.key: _plain(a.key, getattr(obj, a.key)) for a in mapper.column_attrs}


def _diff(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        before[attr.key], after[attr.key] = _plain(attr.key, old), _plain(attr.key, new)
    return before, after


def _collect(session: Session, _context: Any) -> None:
    changes: list[dict[str, Any]] = session.info.setdefault(CHANGES_KEY, [])
    for kind, objects in (
        ("insert", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            table = getattr(obj, "__tablename__", "")
            if not table or table in _SKIPPED_TABLES or len(changes) >= _MAX_CHANGES:
                continue
            if kind == "insert":
                entry = {"op": kind, "table": table, "key": _key(obj), "after": _snapshot(obj)}
            elif kind == "delete":
                entry = {"op": kind, "table": table, "key": _key(obj), "before": _snapshot(obj)}
            else:
                before, after = _diff(obj)
                if not after:
                    continue
                entry = {
                    "op": kind,
                    "table": table,
                    "key": _key(obj),
                    "before": before,
                    "after": after,
                }
            changes.append(entry)


def track_changes(sessions: sessionmaker[Session]) -> None:
    """Collect changes of every session of ``sessions`` into ``session.info[CHANGES_KEY]``."""
    event.listen(sessions, "after_flush", _collect)
