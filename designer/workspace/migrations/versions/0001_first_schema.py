"""The first workspace schema: saved designs and latency measurements.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
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
        "designs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("design_yaml", sa.Text, nullable=False),
        sa.Column("cfg_sha256", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_designs"),
        sa.UniqueConstraint("name", name="uq_designs_name"),
    )
    op.create_index("ix_designs_cfg_sha256", "designs", ["cfg_sha256"])
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("design_name", sa.String(200), nullable=False),
        sa.Column("cfg_sha256", sa.String(64), nullable=False),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("device_name", sa.String(200), nullable=False),
        sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("threads", sa.Integer, nullable=True),
        sa.Column("median_ms", sa.Float, nullable=False),
        sa.Column("iqr_ms", sa.Float, nullable=False),
        sa.Column("fma", sa.BigInteger, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_measurements"),
    )
    op.create_index("ix_measurements_design_name", "measurements", ["design_name"])
    op.create_index("ix_measurements_cfg_sha256", "measurements", ["cfg_sha256"])
    op.create_index("ix_measurements_measured_at", "measurements", ["measured_at"])


def downgrade() -> None:
    op.drop_table("measurements")
    op.drop_table("designs")
