"""Writing files so that nothing is ever half-written: a temp file in the same folder, then os.replace.

The new file keeps the mode of the file it replaces; a new file gets the mode `open()` would give it (0666
minus the umask), not mkstemp's 0600. A path that cannot be written raises `OutputError`: one line naming the
user's path and the reason in words, never the internal temp file's name or an errno number.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from designer.errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def target_mode(path: Path) -> int:
    """The mode a file written at `path` gets: the replaced file's, else 0666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    if str(path) in ("", ".") or path.is_dir():
        raise output_error(path, OSError(errno.EISDIR, "is a directory"))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = target_mode(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        if isinstance(e, OSError):
            raise output_error(path, e) from None
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def output_error(path: str | Path, e: OSError) -> OutputError:
    """One line naming the user's `path` and why it cannot be written (no temp names, no errno numbers)."""
    p = Path(path)
    if str(path) in ("", "."):
        return OutputError("an empty output path; give a file name")
    if p.is_dir():
        return OutputError(f"{path} is a folder; give a file name inside it")
    reason = {
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EACCES: "permission denied",
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "the disk is full",
        errno.ENAMETOOLONG: "the name is too long",
        errno.EISDIR: "it is a folder",
        errno.EEXIST: "a part of the path is a file, not a folder",
    }.get(e.errno or 0, e.strerror or "cannot be written")
    return OutputError(f"cannot write {path}: {reason}")


# A path the user gave and an internal one are written the same way (both raise OutputError naming the path).
write_bytes = atomic_write_bytes
write_text = atomic_write_text
