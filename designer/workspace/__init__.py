"""The workspace: designs, imported cfgs, measurements, training runs and sweeps kept in a database (SQLite by
default, any SQLAlchemy URL such as PostgreSQL for a team), shared by the app and the CLI.

Torch-free and streamlit-free; SQLAlchemy and Alembic are imported only when this package is.
"""

from designer.workspace.engine import (
    ENV,
    CorruptWorkspaceError,
    NewerWorkspaceError,
    WorkspaceError,
    default_path,
    head_revision,
    resolve_url,
)
from designer.workspace.store import (
    Loaded,
    Problem,
    StoredDesign,
    StoredImport,
    Workspace,
    cfg_sha256,
    layers_sha256,
)

__all__ = [
    "ENV",
    "CorruptWorkspaceError",
    "Loaded",
    "NewerWorkspaceError",
    "Problem",
    "StoredDesign",
    "StoredImport",
    "Workspace",
    "WorkspaceError",
    "cfg_sha256",
    "default_path",
    "head_revision",
    "layers_sha256",
    "resolve_url",
]
