"""Districts, stations, gateways, gateway keys and ingest sequence state.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "stations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("district_id", sa.String(64), sa.ForeignKey("districts.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stations_district_id", "stations", ["district_id"])
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("station_id", sa.String(64), sa.ForeignKey("stations.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_gateways_station_id", "gateways", ["station_id"])
    op.create_table(
        "gateway_keys",
        sa.Column("kid", sa.String(32), primary_key=True),
        sa.Column("gateway_id", sa.String(64), sa.ForeignKey("gateways.id"), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_gateway_keys_gateway_id", "gateway_keys", ["gateway_id"])
    op.create_table(
        "gateway_sequences",
        sa.Column("gateway_id", sa.String(64), sa.ForeignKey("gateways.id"), primary_key=True),
        sa.Column("hwm", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("holes", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("replays", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gateway_sequences")
    op.drop_index("ix_gateway_keys_gateway_id", "gateway_keys")
    op.drop_table("gateway_keys")
    op.drop_index("ix_gateways_station_id", "gateways")
    op.drop_table("gateways")
    op.drop_index("ix_stations_district_id", "stations")
    op.drop_table("stations")
    op.drop_table("districts")
