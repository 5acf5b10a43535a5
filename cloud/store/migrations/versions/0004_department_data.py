"""Department data: imports, e-waybills, tax declarations, licences, metrology, inspections.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("record_key", sa.String(160), nullable=False),
        sa.Column("station_id", sa.String(64), sa.ForeignKey("stations.id"), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column(
            "import_id", sa.Integer(), sa.ForeignKey("department_imports.id"), nullable=False
        ),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    ]


def _table(name: str, *columns: sa.Column[object], time_index: str | None = None) -> None:
    op.create_table(
        name, *_common(), *columns, sa.UniqueConstraint("record_key", name=f"uq_{name}_key")
    )
    op.create_index(f"ix_{name}_station_id", name, ["station_id"])
    op.create_index(f"ix_{name}_district_id", name, ["district_id"])
    if time_index:
        op.create_index(f"ix_{name}_{time_index}", name, [time_index])


def upgrade() -> None:
    op.create_table(
        "department_imports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(96), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(256), nullable=False, server_default=""),
        sa.Column("rows_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("inserted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_department_imports_dataset", "department_imports", ["dataset"])
    _table(
        "ewaybills",
        sa.Column("waybill_no", sa.String(64), nullable=False),
        sa.Column("vehicle_plate", sa.String(16), nullable=False),
        sa.Column("driver_name", sa.String(64), nullable=False, server_default=""),
        sa.Column("driver_phone", sa.String(32), nullable=False, server_default=""),
        sa.Column("carrier", sa.String(128), nullable=False, server_default=""),
        sa.Column("origin", sa.String(128), nullable=False, server_default=""),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("volume_l", sa.Float(), nullable=False),
        sa.Column("departed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        time_index="arrived_at",
    )
    _table(
        "tax_declarations",
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("product", sa.String(16), nullable=False, server_default=""),
        sa.Column("declared_volume_l", sa.Float(), nullable=False),
        sa.Column("declared_revenue", sa.Float(), nullable=False),
        sa.Column("tax_paid", sa.Float(), nullable=True),
        sa.Column("declaration_no", sa.String(64), nullable=False, server_default=""),
    )
    _table(
        "licences",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("licence_no", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False, server_default=""),
        sa.Column("issuer", sa.String(128), nullable=False, server_default=""),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="valid"),
    )
    _table(
        "metrology_records",
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("record_no", sa.String(64), nullable=False),
        sa.Column("dispenser_no", sa.Integer(), nullable=True),
        sa.Column("nozzle_no", sa.Integer(), nullable=True),
        sa.Column("performed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("result", sa.String(16), nullable=False, server_default=""),
        sa.Column("error_percent", sa.Float(), nullable=True),
        sa.Column("seal_no", sa.String(64), nullable=False, server_default=""),
        sa.Column("seal_state", sa.String(16), nullable=False, server_default=""),
        sa.Column("inspector_name", sa.String(64), nullable=False, server_default=""),
        time_index="performed_at",
    )
    _table(
        "inspections",
        sa.Column("inspection_no", sa.String(64), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inspector_name", sa.String(64), nullable=False, server_default=""),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False, server_default=""),
        sa.Column("rectification_due", sa.Date(), nullable=True),
        time_index="inspected_at",
    )


def downgrade() -> None:
    for table in (
        "inspections",
        "metrology_records",
        "licences",
        "tax_declarations",
        "ewaybills",
        "department_imports",
    ):
        op.drop_table(table)
