"""A sweep's result rows as a printed table, CSV or JSON (columns: the axes, counts, measured medians over
rounds, the Pareto flags, a note with failures and unstable figures; invalid points last with their reason).
Units are in the column names."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from designer.files import atomic_write_text

# column -> (header in the table, format)
TABLE: dict[str, tuple[str, str]] = {
    "params": ("params", "{:,}"),
    "fma": ("FMA (multiply-adds)", "{:,}"),
    "estimate_ms": ("est. ms", "{:.3f}"),
    "infer_ms": ("infer ms", "{:.3f}"),
    "infer_spread_ms": ("spread", "{:.3f}"),
    "train_ms": ("train step ms", "{:.2f}"),
    "train_spread_ms": ("spread", "{:.2f}"),
    "accuracy": ("val top-1", "{:.3f}"),
}


def columns(rows: list[dict]) -> list[str]:
    """Every column any row has, in first-seen order."""
    return list(dict.fromkeys(k for r in rows for k in r))


def table_rows(rows: list[dict], axes: list[str]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(header, rows) for a text table: axes, counts, medians, Pareto marks, reason."""
    cols = columns(rows)
    shown = [c for c in TABLE if c in cols]
    fronts = [c for c in cols if c.startswith("pareto_")]
    head = (*axes, *(TABLE[c][0] for c in shown), *(f"front:{c[7:]}" for c in fronts), "note")
    out = []
    for r in rows:
        cells = [str(r.get(a, "")) for a in axes]
        for c in shown:
            v = r.get(c)
            cells.append("" if v is None else TABLE[c][1].format(v))
        cells += ["*" if r.get(f) else "" for f in fronts]
        cells.append(note(r)[:120])
        out.append(tuple(cells))
    return head, out


def note(r: dict) -> str:
    """A row's note: why it is invalid, which trials failed, which figures are unstable, or what it shares."""
    if r.get("reason"):
        return str(r["reason"])
    parts = [str(r["failed"])] if r.get("failed") else []
    parts += [f"{k}: {r[f'{k}_unstable']}" for k in ("infer", "train") if r.get(f"{k}_unstable")]
    parts += [f"same cfg as {r['same_cfg_as']}"] if r.get("same_cfg_as") else []
    parts += [str(r["notes"])] if r.get("notes") else []
    return "; ".join(parts)


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns(rows), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write(path: str | Path, rows: list[dict], meta: dict) -> Path:
    """rows -> .csv (the rows) or .json ({"sweep": meta, "rows": rows}), written atomically."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        return atomic_write_text(p, json.dumps({"sweep": meta, "rows": rows}, indent=1, default=str) + "\n")
    return atomic_write_text(p, to_csv(rows))
