"""Security (issue 13): password history, separated administrator roles, a hash-chained audit
log that nobody can truncate.

- ``password_history``: earlier password hashes (a new password may not repeat them);
- ``users.role``: the one ``admin`` role is split into ``system_admin``, ``security_admin``
  and ``audit_admin`` (三员分立); existing admins become system administrators, and the
  operator creates the security and audit administrators (docs/security.md);
- ``audit_log.prev_hash`` / ``row_hash``: each new row carries the SHA-256 of its
  predecessor's hash and its own content (``fuelwatch audit verify``); rows written before
  this revision have no hash and are reported as such;
- PostgreSQL: a statement trigger refuses TRUNCATE (row triggers do not fire on it), and
  PUBLIC loses every privilege on ``audit_log`` but the ones the application needs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PG_NO_TRUNCATE = """
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE TRUNCATE, UPDATE, DELETE, TRIGGER, REFERENCES ON audit_log FROM PUBLIC;
"""


def upgrade() -> None:
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_password_history_user_id", "password_history", ["user_id"])
    op.execute("UPDATE users SET role = 'system_admin' WHERE role = 'admin'")
    # plain ADD COLUMN (no batch copy on SQLite, which would drop the append-only triggers)
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_NO_TRUNCATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.drop_column("audit_log", "row_hash")  # SQLite >= 3.35 drops a column in place
    op.drop_column("audit_log", "prev_hash")
    op.execute(
        "UPDATE users SET role = 'admin' "
        "WHERE role IN ('system_admin', 'security_admin', 'audit_admin')"
    )
    op.drop_index("ix_password_history_user_id", "password_history")
    op.drop_table("password_history")
