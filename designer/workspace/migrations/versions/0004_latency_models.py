"""Latency models: one row per calibration (designer/latency), keyed by the machine's fingerprint and the
setting (backend, device, threads, batch, dtype, mode); the fitted numbers, held-out errors and library versions
as JSON.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "latency_models",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("fingerprint_key", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.JSON, nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("threads", sa.Integer, nullable=False),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("model", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("created", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_latency_models"),
        sa.UniqueConstraint("uid", name="uq_latency_models_uid"),
    )
    op.create_index("ix_latency_models_fingerprint_key", "latency_models", ["fingerprint_key"])
    op.create_index("ix_latency_models_created", "latency_models", ["created"])


def downgrade() -> None:
    op.drop_table("latency_models")
