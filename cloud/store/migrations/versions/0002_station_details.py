"""Station details, tanks with strapping tables, dispensers, nozzles, gateway devices.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATION_COLUMNS = (
    ("licence_no", sa.String(64), ""),
    ("address", sa.String(256), ""),
    ("operator", sa.String(128), ""),
    ("contact_name", sa.String(64), ""),
    ("contact_phone", sa.String(32), ""),
    ("status", sa.String(16), "active"),
)


def upgrade() -> None:
    for name, type_, default in STATION_COLUMNS:
        op.add_column("stations", sa.Column(name, type_, nullable=False, server_default=default))
    op.add_column("stations", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("stations", sa.Column("longitude", sa.Float(), nullable=True))
    op.add_column("stations", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "gateways",
        sa.Column("credential", sa.String(16), nullable=False, server_default="password"),
    )
    op.add_column(
        "gateways", sa.Column("description", sa.String(256), nullable=False, server_default="")
    )
    op.create_table(
        "tanks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.String(64), sa.ForeignKey("stations.id"), nullable=False),
        sa.Column("tank_no", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("capacity_l", sa.Float(), nullable=False),
        sa.Column("strapping", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("station_id", "tank_no", name="uq_tanks_station_tank"),
    )
    op.create_index("ix_tanks_station_id", "tanks", ["station_id"])
    op.create_table(
        "dispensers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.String(64), sa.ForeignKey("stations.id"), nullable=False),
        sa.Column("dispenser_no", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False, server_default=""),
        sa.Column("serial_no", sa.String(64), nullable=False, server_default=""),
        sa.Column("tax_control_no", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("station_id", "dispenser_no", name="uq_dispensers_station_no"),
    )
    op.create_index("ix_dispensers_station_id", "dispensers", ["station_id"])
    op.create_table(
        "nozzles",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dispenser_id", sa.Integer(), sa.ForeignKey("dispensers.id"), nullable=False),
        sa.Column("station_id", sa.String(64), sa.ForeignKey("stations.id"), nullable=False),
        sa.Column("nozzle_no", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("tank_no", sa.Integer(), nullable=True),
        sa.UniqueConstraint("station_id", "nozzle_no", name="uq_nozzles_station_no"),
    )
    op.create_index("ix_nozzles_dispenser_id", "nozzles", ["dispenser_id"])
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("gateway_id", sa.String(64), sa.ForeignKey("gateways.id"), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("profile", sa.String(128), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("gateway_id", "device_id", name="uq_devices_gateway_dev"),
    )
    op.create_index("ix_devices_gateway_id", "devices", ["gateway_id"])


def downgrade() -> None:
    for table in ("devices", "nozzles", "dispensers", "tanks"):
        op.drop_table(table)
    with op.batch_alter_table("gateways") as batch:
        batch.drop_column("description")
        batch.drop_column("credential")
    with op.batch_alter_table("stations") as batch:
        for name in ("updated_at", "longitude", "latitude"):
            batch.drop_column(name)
        for name, _type, _default in reversed(STATION_COLUMNS):
            batch.drop_column(name)
