"""Alembic environment of the workspace: migrations run on the connection that designer/workspace/engine.py
hands over in `config.attributes["connection"]`, inside its transaction (never from an alembic.ini)."""

from __future__ import annotations

from alembic import context

from designer.workspace.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, transaction_per_migration=False
)
with context.begin_transaction():
    context.run_migrations()
