"""Published params / FMA / top-1 of reference models (reference_models.yaml, which cites its sources).

Read with PyYAML's safe loader from the package itself; the app never reads ../shared at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

REFERENCE_FILE = Path(__file__).with_name("reference_models.yaml")


@dataclass(frozen=True)
class ReferenceModel:
    name: str
    params_M: float
    fma_M: float
    top1: float | None
    top5: float | None
    res: int
    trained: str  # "paper" or "darknet"
    source: str
    note: str = ""

    @property
    def published_bflops(self) -> float:
        """2 x the published FMA / 1e9. Not darknet's print: the papers count the FC classifier, which darknet
        counts as 0 for a [connected] layer, and darknet adds small pooling/shortcut terms."""
        return 2 * self.fma_M / 1e3


@lru_cache(maxsize=1)
def reference_models() -> tuple[ReferenceModel, ...]:
    data = yaml.safe_load(REFERENCE_FILE.read_text())
    return tuple(ReferenceModel(**m) for m in data["models"])
