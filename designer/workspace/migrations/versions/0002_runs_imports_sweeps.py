"""Schema 2: backends, per-layer times and library versions on measurements; where a design came from;
imported cfgs, training runs and sweeps; a uid on every row that travels (export/import never duplicates).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _fill_uids(table: str) -> None:
    """Each row's uid from its own content (table and every revision-1 column), never random: upgrading the same
    revision-1 file twice gives the same uids, so importing both copies adds nothing the second time."""
    conn = op.get_bind()
    for row in conn.execute(sa.text(f"SELECT * FROM {table} WHERE uid IS NULL")).mappings().all():
        content = json.dumps({k: row[k] for k in sorted(row.keys()) if k != "uid"}, default=str, sort_keys=True)
        uid = hashlib.sha256(f"{table}:{content}".encode()).hexdigest()[:32]
        conn.execute(sa.text(f"UPDATE {table} SET uid = :u WHERE id = :i"), {"u": uid, "i": row["id"]})


def upgrade() -> None:
    with op.batch_alter_table("designs") as b:
        b.add_column(sa.Column("derived_from", sa.String(200), nullable=True))
        b.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="app"))
        b.add_column(sa.Column("uid", sa.String(32), nullable=True))
    _fill_uids("designs")
    with op.batch_alter_table("designs") as b:
        b.alter_column("uid", existing_type=sa.String(32), nullable=False)
        b.create_unique_constraint("uq_designs_uid", ["uid"])

    with op.batch_alter_table("measurements") as b:
        b.add_column(sa.Column("backend", sa.String(32), nullable=False, server_default="torch"))
        b.add_column(sa.Column("fma_per_s", sa.Float, nullable=True))
        b.add_column(sa.Column("params", sa.BigInteger, nullable=True))
        b.add_column(sa.Column("settings", sa.JSON, nullable=False, server_default="{}"))
        b.add_column(sa.Column("per_layer", sa.JSON, nullable=True))
        b.add_column(sa.Column("versions", sa.JSON, nullable=False, server_default="{}"))
        b.add_column(sa.Column("uid", sa.String(32), nullable=True))
    _fill_uids("measurements")
    op.execute("UPDATE measurements SET fma_per_s = fma / (median_ms / 1000.0) WHERE fma IS NOT NULL AND median_ms > 0")
    with op.batch_alter_table("measurements") as b:
        b.alter_column("uid", existing_type=sa.String(32), nullable=False)
        b.create_unique_constraint("uq_measurements_uid", ["uid"])

    op.create_table(
        "imported_cfgs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("cfg_sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(260), nullable=True),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("created", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_imported_cfgs"),
        sa.UniqueConstraint("name", name="uq_imported_cfgs_name"),
        sa.UniqueConstraint("uid", name="uq_imported_cfgs_uid"),
    )
    op.create_index("ix_imported_cfgs_cfg_sha256", "imported_cfgs", ["cfg_sha256"])
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("design_name", sa.String(200), nullable=False),
        sa.Column("cfg_sha256", sa.String(64), nullable=True),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("best_top1", sa.Float, nullable=True),
        sa.Column("best_epoch", sa.Integer, nullable=True),
        sa.Column("artifact_dir", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("started", TS, nullable=True),
        sa.Column("finished", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_training_runs"),
        sa.UniqueConstraint("uid", name="uq_training_runs_uid"),
    )
    op.create_index("ix_training_runs_design_name", "training_runs", ["design_name"])
    op.create_index("ix_training_runs_cfg_sha256", "training_runs", ["cfg_sha256"])
    op.create_index("ix_training_runs_finished", "training_runs", ["finished"])
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("created", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
        sa.UniqueConstraint("uid", name="uq_sweeps_uid"),
    )
    op.create_table(
        "sweep_trials",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("sweep_id", sa.Integer, nullable=False),
        sa.Column("measurement_id", sa.Integer, nullable=True),
        sa.Column("point", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("created", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sweep_trials"),
        sa.ForeignKeyConstraint(
            ["sweep_id"], ["sweeps.id"], name="fk_sweep_trials_sweep_id_sweeps", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurements.id"],
            name="fk_sweep_trials_measurement_id_measurements",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_sweep_trials_sweep_id", "sweep_trials", ["sweep_id"])


def downgrade() -> None:
    for t in ("sweep_trials", "sweeps", "training_runs", "imported_cfgs"):
        op.drop_table(t)
    with op.batch_alter_table("measurements") as b:
        b.drop_constraint("uq_measurements_uid", type_="unique")
        for c in ("uid", "versions", "per_layer", "settings", "params", "fma_per_s", "backend"):
            b.drop_column(c)
    with op.batch_alter_table("designs") as b:
        b.drop_constraint("uq_designs_uid", type_="unique")
        for c in ("uid", "source", "derived_from"):
            b.drop_column(c)
