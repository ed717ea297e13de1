"""Schema 3: measurements you can share and trust. Measurements gain the machine (its fingerprint and key), the
number of timed runs, the load before and during, the unstable verdict and the layers hash; sweeps gain a
random uid with their settings hash beside it; trials become rows of their own (key, kind, round, status,
result, machine).

Every value this revision fills in is derived from the row's own content (no random ids), so upgrading the same
older file twice gives the same rows, and importing both copies adds nothing the second time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATUS = {"done": "ok"}  # revision 2's name for a finished trial


def _derived_uid(kind: str, old: str) -> str:
    return hashlib.sha256(f"{kind}:{old}".encode()).hexdigest()[:32]


def _layers_of(conn) -> dict[str, str]:
    """cfg sha256 -> layers sha256, for every cfg a saved design or import of this workspace emits."""
    from designer import emit_cfg, load_yaml, lower, parse_cfg
    from designer.keys import layers_sha256

    out = {}
    texts = [
        (sha, lambda y=y: emit_cfg(lower(load_yaml(y))))
        for sha, y in conn.execute(sa.text("SELECT cfg_sha256, design_yaml FROM designs"))
    ]
    for sha, kind, text in conn.execute(sa.text("SELECT cfg_sha256, kind, text FROM imported_cfgs")):
        if kind == "design-yaml":
            texts.append((sha, lambda t=text: emit_cfg(lower(load_yaml(t)))))
        else:
            texts.append((sha, lambda t=text: emit_cfg(parse_cfg(t))))
    for sha, emitted in texts:
        if sha in out:
            continue
        try:
            out[sha] = layers_sha256(emitted())
        except Exception:  # noqa: BLE001, S112 - a row that no longer loads: its measurements keep the cfg hash
            continue
    return out


def _fill_measurements() -> None:
    conn = op.get_bind()
    for cfg, layers in _layers_of(conn).items():
        conn.execute(
            sa.text("UPDATE measurements SET layers_sha256 = :l WHERE cfg_sha256 = :c"), {"l": layers, "c": cfg}
        )


def _fill_sweeps() -> None:
    conn = op.get_bind()
    for row_id, uid in conn.execute(sa.text("SELECT id, uid FROM sweeps")).all():
        conn.execute(
            sa.text("UPDATE sweeps SET settings_hash = :h, uid = :u WHERE id = :i"),
            {
                "h": uid[:16] if len(uid) == 16 else _derived_uid("settings", uid)[:16],
                "u": _derived_uid("sweep", uid),
                "i": row_id,
            },
        )


def _fill_trials() -> None:
    """Revision 2 kept a trial's key and record inside `point` ({"trial_key", "record"}): spread them out."""
    conn = op.get_bind()
    t = sa.table(
        "sweep_trials",
        sa.column("id", sa.Integer),
        sa.column("point", sa.JSON),
        sa.column("status", sa.String),
        sa.column("trial_key", sa.String),
        sa.column("kind", sa.String),
        sa.column("round", sa.Integer),
        sa.column("result", sa.JSON),
    )
    for row_id, point, status in conn.execute(sa.select(t.c.id, t.c.point, t.c.status)).all():
        point = point if isinstance(point, dict) else {}
        record = point.get("record") if isinstance(point.get("record"), dict) else None
        if "trial_key" in point and record is not None:
            values = {
                "trial_key": str(point["trial_key"])[:200],
                "kind": str(record.get("kind", "count")),
                "round": int(record.get("round") or 0),
                "result": record,
                "point": record.get("point") if isinstance(record.get("point"), dict) else {},
            }
        else:
            values = {"trial_key": f"revision-2/{row_id}", "kind": "count", "round": 0, "result": None, "point": point}
        conn.execute(t.update().where(t.c.id == row_id).values(status=STATUS.get(status, status), **values))


def upgrade() -> None:
    with op.batch_alter_table("measurements") as b:
        b.add_column(sa.Column("layers_sha256", sa.String(64), nullable=True))
        b.add_column(sa.Column("machine_key", sa.String(16), nullable=True))
        b.add_column(sa.Column("machine", sa.JSON, nullable=True))
        b.add_column(sa.Column("runs", sa.Integer, nullable=True))
        b.add_column(sa.Column("load_before", sa.Float, nullable=True))
        b.add_column(sa.Column("load_during", sa.Float, nullable=True))
        b.add_column(sa.Column("unstable", sa.Text, nullable=True))
    op.create_index("ix_measurements_layers_sha256", "measurements", ["layers_sha256"])
    op.create_index("ix_measurements_machine_key", "measurements", ["machine_key"])
    _fill_measurements()

    with op.batch_alter_table("sweeps") as b:
        b.add_column(sa.Column("settings_hash", sa.String(16), nullable=True))
    _fill_sweeps()
    with op.batch_alter_table("sweeps") as b:  # SQLite: the table is recreated (copied, dropped, renamed)
        b.alter_column("settings_hash", existing_type=sa.String(16), nullable=False)
        b.create_unique_constraint("uq_sweeps_settings_hash", ["settings_hash"])

    with op.batch_alter_table("sweep_trials") as b:
        b.add_column(sa.Column("trial_key", sa.String(200), nullable=True))
        b.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="count"))
        b.add_column(sa.Column("round", sa.Integer, nullable=False, server_default="0"))
        b.add_column(sa.Column("result", sa.JSON, nullable=True))
        b.add_column(sa.Column("machine_key", sa.String(16), nullable=True))
    _fill_trials()
    with op.batch_alter_table("sweep_trials") as b:  # SQLite: the table is recreated (copied, dropped, renamed)
        b.alter_column("trial_key", existing_type=sa.String(200), nullable=False)
        b.alter_column("kind", existing_type=sa.String(16), server_default=None)
        b.alter_column("round", existing_type=sa.Integer, server_default=None)
        b.create_unique_constraint("uq_sweep_trials_trial_key", ["sweep_id", "trial_key"])
    op.create_index("ix_sweep_trials_machine_key", "sweep_trials", ["machine_key"])


def downgrade() -> None:
    op.drop_index("ix_sweep_trials_machine_key", "sweep_trials")
    with op.batch_alter_table("sweep_trials") as b:
        b.drop_constraint("uq_sweep_trials_trial_key", type_="unique")
        for c in ("machine_key", "result", "round", "kind", "trial_key"):
            b.drop_column(c)
    with op.batch_alter_table("sweeps") as b:
        b.drop_constraint("uq_sweeps_settings_hash", type_="unique")
        b.drop_column("settings_hash")
    op.drop_index("ix_measurements_machine_key", "measurements")
    op.drop_index("ix_measurements_layers_sha256", "measurements")
    with op.batch_alter_table("measurements") as b:
        for c in ("unstable", "load_during", "load_before", "runs", "machine", "machine_key", "layers_sha256"):
            b.drop_column(c)
