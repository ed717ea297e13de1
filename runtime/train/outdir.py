"""A training run's output folder is whole or absent: the run writes into a hidden sibling, then moves into place.

    stage = Staging.begin("runs/x", overwrite=False)   # refuses a non-empty runs/x (OutputError)
    train(..., out_dir=stage.work)                      # runs/.x.partial/
    stage.commit()                                      # runs/x now holds this run's files only
    stage.discard()                                     # or: nothing is left behind

A folder that is moved into place holds one run's model.cfg, labels.txt, best.pt / best.weights and metrics
together; an existing folder is replaced only with --overwrite (the old one is removed after the new one is
in place). torch-free; under torchrun only the main rank touches the disk.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from designer.errors import OutputError

RUN_FILES = ("model.cfg", "labels.txt", "best.weights", "best.pt", "metrics.csv", "metrics.json")


def existing_files(folder: str | Path, names: tuple[str, ...] = RUN_FILES) -> list[str]:
    """Which of a run's files exist in `folder` (what a final message may claim)."""
    return [n for n in names if (Path(folder) / n).is_file()]


def _nonempty(p: Path) -> bool:
    return p.exists() and (not p.is_dir() or any(p.iterdir()))


@dataclass
class Staging:
    final: Path
    work: Path
    overwrite: bool
    main: bool = True

    @classmethod
    def begin(cls, out: str | Path, overwrite: bool = False, main: bool = True) -> Staging:
        """Check `out` can take a new run; make (on the main rank) the hidden sibling the run writes into."""
        final = Path(out)
        if str(out) in ("", "."):
            raise OutputError(f"--out {str(out)!r}: give a folder name for the run")
        if final.exists() and not final.is_dir():
            raise OutputError(f"--out {out}: a file of that name exists; give a folder name")
        if _nonempty(final) and not overwrite:
            raise OutputError(
                f"--out {out} is not empty ({', '.join(sorted(x.name for x in final.iterdir())[:4])}"
                f"{', ...' if len(list(final.iterdir())) > 4 else ''}); choose a new folder, or "
                "add --overwrite to replace it"
            )
        work = final.parent / f".{final.name}.partial"
        if main:
            try:
                if work.exists():
                    shutil.rmtree(work)  # left by a run that was killed (SIGKILL, power): never valid
                work.mkdir(parents=True)
            except OSError as e:
                raise OutputError(f"--out {out}: cannot create a folder next to it ({e.strerror})") from None
        return cls(final, work, overwrite, main)

    def commit(self) -> Path:
        """Move the finished (or consistently stopped) run into place; returns the final folder."""
        if not self.main:
            return self.final
        old = None
        if self.final.exists():
            old = self.final.parent / f".{self.final.name}.old"
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.final, old)
        os.replace(self.work, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def discard(self) -> None:
        """Remove the hidden sibling and everything in it (the final folder is untouched)."""
        if self.main:
            shutil.rmtree(self.work, ignore_errors=True)
