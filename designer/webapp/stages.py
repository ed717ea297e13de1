"""The editable stage table: one row per block row of an Arch, and the way back from edited rows to Blocks.

The table is a view of `Arch.blocks`; edits never touch the Arch directly. `apply_edits` applies st.data_editor's
edit state (edited_rows / added_rows / deleted_rows) to the rows, `rows_to_blocks` turns rows back into Blocks
(collecting a `DesignIssue` per unreadable cell), and `issues_by_row` maps designer.validate's locations
("row 3", "b3.1") back onto table rows so each message can be shown next to the row that has it.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from designer import Arch, Block, DesignIssue, format_block_string, resolve, validate
from designer.spec import ACTIVATION_NAMES

# column name -> (Block field, kind, help text)
COLUMNS: dict[str, tuple[str, str, str]] = {
    "repeats": ("repeats", "int", "copies of the block; only the first uses the stride"),
    "kernels": ("kernels", "kernels", "MixConv depthwise kernel sizes, one channel group each, e.g. 3.5.7.9"),
    "expand": ("expand_ratio", "float", "expand ratio: mid channels = in x ratio (1 = no expansion conv)"),
    "expand groups": ("expand_groups", "int", "groups of the 1x1 expansion conv (timm a1.1 = 2)"),
    "project groups": ("project_groups", "int", "groups of the 1x1 projection conv (timm p1.1 = 2)"),
    "dw ch/group": (
        "dw_group_size",
        "int",
        "0 = depthwise (1 channel per group); N = N channels per group, the GPU-friendly grouped conv",
    ),
    "SE ratio": ("se_ratio", "float", "squeeze-excitation width = block input channels x ratio; 0 = no SE"),
    "stride": ("stride", "int", "1 or 2"),
    "out channels": ("out_channels", "int", "output channels before the width multiplier"),
    "activation": ("activation", "activation", "darknet activation of the block's convs"),
    "skip": ("skip", "bool", "residual add where stride is 1 and channels match"),
}

DEFAULT_ROW: dict[str, Any] = {"repeats": 1, "kernels": "3", "expand": 6.0, "expand groups": 1, "project groups": 1,
                               "dw ch/group": 0, "SE ratio": 0.0, "stride": 1, "out channels": 32,
                               "activation": "relu", "skip": True}  # fmt: skip


def block_row(b: Block) -> dict[str, Any]:
    return {"repeats": b.repeats, "kernels": ".".join(str(k) for k in b.kernels), "expand": float(b.expand_ratio),
            "expand groups": b.expand_groups, "project groups": b.project_groups, "dw ch/group": b.dw_group_size,
            "SE ratio": float(b.se_ratio), "stride": b.stride, "out channels": b.out_channels,
            "activation": b.activation, "skip": b.skip}  # fmt: skip


def arch_rows(arch: Arch) -> list[dict[str, Any]]:
    return [block_row(b) for b in arch.blocks]


def channel_summary(arch: Arch) -> dict[int, str]:
    """Row -> 'in>mid>out' of its first copy (after width scaling), e.g. '24>144>32'."""
    out: dict[int, str] = {}
    try:
        for rb in resolve(arch):
            if rb.repeat == 0:
                out[rb.row] = f"{rb.in_channels}>{rb.mid_channels}>{rb.out_channels}"
    except (ValueError, ZeroDivisionError):
        pass
    return out


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _cell(row: int, col: str, v: Any) -> tuple[Any, DesignIssue | None]:
    field, kind, _ = COLUMNS[col]
    where = f"row {row}"
    if _is_blank(v):
        return None, DesignIssue(where, f"'{col}' is empty", f"enter a value ({COLUMNS[col][2]})")
    try:
        if kind == "int":
            f = float(v)
            if not f.is_integer():
                return None, DesignIssue(where, f"'{col}'={v} is not a whole number", "use an integer")
            return int(f), None
        if kind == "float":
            return float(v), None
        if kind == "bool":
            return bool(v), None
        if kind == "activation":
            if v not in ACTIVATION_NAMES:
                return None, DesignIssue(
                    where, f"unknown activation {v!r}", f"use one of {', '.join(ACTIVATION_NAMES)}"
                )
            return str(v), None
        text = str(v).strip()
        if not re.fullmatch(r"\d+([.,\s]+\d+)*", text):
            return None, DesignIssue(
                where, f"kernel sizes {text!r} are not numbers separated by '.'", "write them like 3.5.7.9"
            )
        return tuple(int(t) for t in re.split(r"[.,\s]+", text)), None
    except (TypeError, ValueError):
        return None, DesignIssue(where, f"'{col}'={v!r} is not a number", f"enter a number ({COLUMNS[col][2]})")


def rows_to_blocks(rows: list[dict[str, Any]]) -> tuple[tuple[Block, ...], list[DesignIssue]]:
    """Rows -> Blocks. Unreadable cells become issues (and that row is left out of the returned blocks)."""
    blocks: list[Block] = []
    issues: list[DesignIssue] = []
    for r, row in enumerate(rows):
        kw: dict[str, Any] = {}
        bad = False
        for col, (field, _, _) in COLUMNS.items():
            value, issue = _cell(r, col, row.get(col, DEFAULT_ROW[col]))
            if issue:
                issues.append(issue)
                bad = True
            else:
                kw[field] = value
        if not bad:
            blocks.append(Block(**kw))
    return tuple(blocks), issues


def apply_edits(rows: list[dict[str, Any]], edits: dict[str, Any]) -> list[dict[str, Any]]:
    """Apply st.data_editor's edit state to `rows` (edits refer to the rows as displayed, in that order)."""
    out = [dict(r) for r in rows]
    for idx, change in (edits.get("edited_rows") or {}).items():
        i = int(idx)
        if 0 <= i < len(out):
            out[i].update(change)
    deleted = {int(i) for i in edits.get("deleted_rows") or []}
    out = [r for i, r in enumerate(out) if i not in deleted]
    for added in edits.get("added_rows") or []:
        template = dict(out[-1]) if out else dict(DEFAULT_ROW)
        template.update({k: v for k, v in added.items() if k in COLUMNS})
        out.append(template)
    return out


def with_rows(arch: Arch, rows: list[dict[str, Any]]) -> tuple[Arch | None, list[DesignIssue]]:
    """The Arch with its blocks replaced by `rows`, or None and the issues that stop it from lowering."""
    blocks, issues = rows_to_blocks(rows)
    if issues:
        return None, issues
    candidate = replace(arch, blocks=blocks)
    issues = validate(candidate)
    return (None, issues) if issues else (candidate, [])


_ROW_RE = re.compile(r"^(?:row (\d+)|b(\d+)\.\d+)$")


def issue_row(issue: DesignIssue) -> int | None:
    """Table row an issue belongs to ('row 3' and 'b3.1' -> 3), None for stem/head/design-wide issues."""
    m = _ROW_RE.match(issue.where)
    if not m:
        return None
    return int(m.group(1) or m.group(2))


def issues_by_row(issues: list[DesignIssue]) -> dict[int, list[DesignIssue]]:
    out: dict[int, list[DesignIssue]] = {}
    for i in issues:
        r = issue_row(i)
        if r is not None:
            out.setdefault(r, []).append(i)
    return out


def table_records(arch: Arch, rows: list[dict[str, Any]], issues: list[DesignIssue]) -> list[dict[str, Any]]:
    """Rows plus the read-only columns: resolved channels, the timm block string, and the row's first issue."""
    by_row = issues_by_row(issues)
    chans = channel_summary(arch) if not issues else {}
    blocks, _ = rows_to_blocks(rows) if not issues else ((), [])
    out = []
    for r, row in enumerate(rows):
        rec: dict[str, Any] = {"row": r}
        rec.update({col: row.get(col, DEFAULT_ROW[col]) for col in COLUMNS})
        rec["channels in>mid>out"] = chans.get(r, "")
        rec["block string"] = format_block_string(blocks[r]) if r < len(blocks) else ""
        msgs = by_row.get(r, [])
        rec["issue"] = ("⚠ " + str(msgs[0].message) + (f" Fix: {msgs[0].fix}" if msgs[0].fix else "")) if msgs else ""
        out.append(rec)
    return out
