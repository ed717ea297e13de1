"""The architecture spec: an immutable description of a MixNet/EfficientNet-style network.

A design is a stem, rows of inverted-residual blocks (each row one TF/timm block string: repeats, MixConv
kernel sizes, expand ratio, grouped 1x1 convs, depthwise or N-channels-per-group mode, SE ratio, stride, output
channels, activation), a head and a classifier. Width and depth multipliers follow the TF rules in
../shared/reference/mixnet_arch.md (round_filters) and efficientnet_arch.md (round_repeats = ceil).

Edit a spec with `dataclasses.replace`; nothing here mutates. `validate` returns every problem with the block
that has it and a fix; `designer.lower` turns a valid spec into Darknet layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from designer.activations import DESIGN_ACTIVATIONS
from designer.errors import MixdesignError

Activation = str  # a darknet activation name with a block-string token (designer/activations.py)
ACTIVATION_NAMES: tuple[str, ...] = DESIGN_ACTIVATIONS


@dataclass(frozen=True)
class Block:
    """One row of blocks (a block string): `repeats` copies; only the first uses `stride`."""

    out_channels: int
    repeats: int = 1
    kernels: tuple[int, ...] = (3,)  # MixConv depthwise kernel sizes, one channel group each
    expand_ratio: float = 1.0  # mid = in * ratio; 1 means no expansion conv (TF MixNet/EfficientNet rule)
    expand_groups: int = 1  # grouped 1x1 expansion (timm a1.1 = 2 groups)
    project_groups: int = 1  # grouped 1x1 projection (timm p1.1 = 2 groups)
    dw_group_size: int = 0  # 0: true depthwise; N: N channels per group (the GPU-friendly variant)
    se_ratio: float = 0.0  # SE width = max(1, int(block input channels * ratio)); 0 = no SE
    stride: int = 1
    activation: Activation = "relu"
    skip: bool = True  # residual add where stride 1 and in == out


@dataclass(frozen=True)
class Stem:
    channels: int = 32
    kernel: int = 3
    stride: int = 2
    activation: Activation = "relu"


@dataclass(frozen=True)
class Head:
    channels: int = 1280
    activation: Activation = "relu"
    scale_with_width: bool = True  # EfficientNet scales the head; MixNet keeps 1536 (mixnet_arch.md section 4)


@dataclass(frozen=True)
class Arch:
    name: str
    blocks: tuple[Block, ...]
    stem: Stem = field(default_factory=Stem)
    head: Head = field(default_factory=Head)
    classes: int = 1000
    input_size: int = 224
    input_channels: int = 3
    dropout: float = 0.2
    width_mult: float = 1.0
    depth_mult: float = 1.0


# ------------------------------------------------------------------ TF scaling rules


def round_filters(filters: int, multiplier: float, divisor: int = 8) -> int:
    """TF round_filters (mixnet_builder / efficientnet_model): nearest multiple of 8, never >10 % down.

    With multiplier 1.0 the value is returned untouched, as in TF (no multiplier given).
    """
    if multiplier == 1.0:
        return filters
    f = filters * multiplier
    new = max(divisor, int(f + divisor / 2) // divisor * divisor)
    if new < 0.9 * f:
        new += divisor
    return int(new)


def round_repeats(repeats: int, multiplier: float) -> int:
    """TF EfficientNet round_repeats: ceil(multiplier * repeats)."""
    if multiplier == 1.0:
        return repeats
    return int(math.ceil(multiplier * repeats))


def split_channels(total: int, n: int) -> tuple[int, ...]:
    """TF/timm _split_channels: equal parts, the remainder to group 0."""
    parts = [total // n] * n
    parts[0] += total - sum(parts)
    return tuple(parts)


# ------------------------------------------------------------------ the resolved, per-block view


@dataclass(frozen=True)
class ResolvedBlock:
    """One block copy after width/depth scaling: the channel counts the lowering emits."""

    label: str  # "b<row>.<repeat>"
    row: int
    repeat: int
    in_channels: int
    mid_channels: int
    out_channels: int
    stride: int
    se_channels: int  # 0 = no SE
    residual: bool
    spec: Block
    mid_tf: int = 0  # TF's expanded channel count where a scaled design had to round it (mid_valid), else 0


def mid_multiple(b: Block) -> int:
    """What a block's expanded channel count must be a multiple of: darknet's equal-slice `[route] groups=`
    (one slice per kernel), the channels per group of each slice, and the grouped 1x1 convs."""
    n = len(b.kernels)
    m = math.lcm(n, n * b.dw_group_size if b.dw_group_size else 1, b.project_groups)
    return math.lcm(m, b.expand_groups) if b.expand_ratio != 1 else m


def mid_valid(mid: int, b: Block) -> int:
    """`mid` where it already splits evenly (TF's rounding kept), else the nearest valid count (ties up).
    Used for scaled designs only: at width 1.0 a design states its channels and validate() names the fix."""
    m = mid_multiple(b)
    if mid % m == 0:
        return mid
    return max(m, (mid + m // 2) // m * m)


def rounding_report(arch: Arch) -> list[str]:
    """Where width scaling rounded a block's expanded channels to split into its kernel groups (one line per
    row; empty when TF's rounding already splits evenly everywhere)."""
    rows: dict[int, list[ResolvedBlock]] = {}
    for rb in resolve(arch):
        if rb.mid_tf:
            rows.setdefault(rb.row, []).append(rb)
    out = []
    for r, rbs in rows.items():
        b = rbs[0].spec
        changes = sorted({(rb.mid_tf, rb.mid_channels) for rb in rbs})
        what = ", ".join(f"{a} -> {c}" for a, c in changes)
        labels = ",".join(rb.label for rb in rbs)
        out.append(
            f"row {r} ({labels}): width {arch.width_mult:g} gives {what} expanded channels "
            f"(a multiple of {mid_multiple(b)} splits into {len(b.kernels)} kernel groups"
            + (f" of {b.dw_group_size} channels per group" if b.dw_group_size else "")
            + ")"
        )
    return out


def resolve(arch: Arch) -> tuple[ResolvedBlock, ...]:
    """Apply width/depth multipliers and TF rounding: every block copy with its channel counts."""
    out = []
    cin = round_filters(arch.stem.channels, arch.width_mult)
    for r, b in enumerate(arch.blocks):
        cout = round_filters(b.out_channels, arch.width_mult)
        for k in range(round_repeats(b.repeats, arch.depth_mult)):
            stride = b.stride if k == 0 else 1
            mid_tf = int(cin * b.expand_ratio)
            mid = mid_valid(mid_tf, b) if arch.width_mult != 1.0 and b.expand_ratio != 1 else mid_tf
            se = max(1, int(cin * b.se_ratio)) if b.se_ratio > 0 else 0
            out.append(
                ResolvedBlock(
                    f"b{r}.{k}",
                    r,
                    k,
                    cin,
                    mid,
                    cout,
                    stride,
                    se,
                    b.skip and stride == 1 and cin == cout,
                    b,
                    mid_tf if mid != mid_tf else 0,
                )
            )
            cin = cout
    return tuple(out)


def head_channels(arch: Arch) -> int:
    return round_filters(arch.head.channels, arch.width_mult) if arch.head.scale_with_width else arch.head.channels


# ------------------------------------------------------------------ validation


@dataclass(frozen=True)
class DesignIssue:
    where: str  # "stem", "head", "row 3", "b3.1", "design"
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" + (f" Fix: {self.fix}" if self.fix else "")


class DesignError(MixdesignError):
    """An invalid design: one DesignIssue (block, problem, fix) per problem."""

    def __init__(self, issues: list[DesignIssue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


def _near_multiples(n: int, m: int) -> str:
    lo = n // m * m
    cands = [c for c in (lo, lo + m) if c > 0]
    return " or ".join(str(c) for c in cands)


def _divisors_near(n: int, target: int) -> str:
    divs = [d for d in range(1, n + 1) if n % d == 0]
    best = sorted(divs, key=lambda d: (abs(d - target), d))[:2]
    return " or ".join(str(d) for d in sorted(best))


def range_issues(arch: Arch) -> list[DesignIssue]:
    """Values that are not finite or far outside what a design can mean (the LIMITS table), with the fix.
    Lower bounds the other checks already word (positive counts, odd kernels) are left to them."""
    from designer.limits import LIMITS, value_problem

    out: list[DesignIssue] = []

    def upper(where: str, name: str, v: float) -> None:
        lim = LIMITS[name]
        if not math.isfinite(v) or v > lim.hi or (name in ("width_mult", "depth_mult") and v < lim.lo):
            msg = value_problem(name, v) or ""
            text, _, fix = msg.partition(" Fix: ")
            out.append(DesignIssue(where, text, fix))

    upper("design", "width_mult", arch.width_mult)
    upper("design", "depth_mult", arch.depth_mult)
    upper("design", "input_size", arch.input_size)
    upper("design", "classes", arch.classes)
    upper("design", "input_channels", arch.input_channels)
    upper("design", "dropout", arch.dropout)
    upper("stem", "channels", arch.stem.channels)
    upper("stem", "kernel", arch.stem.kernel)
    upper("head", "channels", arch.head.channels)
    for r, b in enumerate(arch.blocks):
        where = f"row {r}"
        upper(where, "channels", b.out_channels)
        upper(where, "repeats", b.repeats)
        for k in b.kernels:
            upper(where, "kernel", k)
        upper(where, "expand_ratio", b.expand_ratio)
        upper(where, "se_ratio", b.se_ratio)
        upper(where, "groups", max(b.expand_groups, b.project_groups))
        upper(where, "dw_group_size", b.dw_group_size)
    return out


def validate(arch: Arch) -> list[DesignIssue]:
    """Every problem that stops the design from lowering to a cfg darknet reads exactly as intended.

    Three stages, each run only on a design the one before passed (the later ones compute with what the earlier
    ones bound): values in range (designer/limits.py), counts and sizes lowering can take, and the channel splits
    of every block copy after width/depth scaling."""
    for stage in (range_issues, _value_issues, _resolved_issues):
        issues = stage(arch)
        if issues:
            return issues
    return []


def _value_issues(arch: Arch) -> list[DesignIssue]:
    """Counts, sizes and ratios no darknet layer can take (none positive, even kernels, strides other than 1 or 2),
    design-wide first, then row by row."""
    issues = _design_value_issues(arch)
    for r, b in enumerate(arch.blocks):
        issues += _row_value_issues(f"row {r}", b)
    return issues


def _design_value_issues(arch: Arch) -> list[DesignIssue]:
    checks = [
        (not arch.blocks, DesignIssue("design", "the design has no blocks", "add at least one block row")),
        (arch.classes < 1, DesignIssue("design", f"classes={arch.classes}", "use 1 or more classes")),
        (arch.input_size < 8, DesignIssue("design", f"input size {arch.input_size} is too small", "use 32 or more")),
        (
            arch.width_mult <= 0 or arch.depth_mult <= 0,
            DesignIssue("design", "width and depth multipliers must be positive"),
        ),
        (not 0 <= arch.dropout < 1, DesignIssue("design", f"dropout {arch.dropout} is outside [0, 1)")),
        (
            arch.stem.channels < 1 or arch.stem.kernel < 1 or arch.stem.stride < 1,
            DesignIssue("stem", "channels, kernel and stride must be positive"),
        ),
        (arch.head.channels < 1, DesignIssue("head", "head channels must be positive")),
    ]
    return [issue for broken, issue in checks if broken]


def _row_value_issues(where: str, b: Block) -> list[DesignIssue]:
    checks = [
        (b.repeats < 1, DesignIssue(where, f"repeats={b.repeats}", "use 1 or more")),
        (
            not b.kernels or any(k < 1 or k % 2 == 0 for k in b.kernels),
            DesignIssue(
                where,
                f"kernel sizes {b.kernels}: each must be odd (darknet pads size/2 per side, "
                "so even kernels change the output size)",
                "use odd sizes such as 3,5,7,9",
            ),
        ),
        (b.stride not in (1, 2), DesignIssue(where, f"stride {b.stride}", "use 1 or 2")),
        (
            b.out_channels < 1 or b.expand_ratio <= 0,
            DesignIssue(where, "output channels and expand ratio must be positive"),
        ),
        (
            b.se_ratio < 0 or b.expand_groups < 1 or b.project_groups < 1 or b.dw_group_size < 0,
            DesignIssue(where, "SE ratio, group counts and channels per group must not be negative"),
        ),
    ]
    return [issue for broken, issue in checks if broken]


def _resolved_issues(arch: Arch) -> list[DesignIssue]:
    """Every block copy's channel splits, then whether the input outlasts the total stride."""
    resolved = resolve(arch)
    issues = [issue for rb in resolved for issue in _split_issues(rb)]
    stride_total = math.prod((rb.stride for rb in resolved), start=arch.stem.stride)
    if arch.input_size // stride_total < 1:
        issues.append(
            DesignIssue(
                "design",
                f"input {arch.input_size} is smaller than the total stride {stride_total}",
                f"use an input of at least {stride_total}",
            )
        )
    return issues


def _split_issues(rb: ResolvedBlock) -> list[DesignIssue]:
    """One block copy's channels against darknet's equal [route] slices (one per kernel), the channels per
    depthwise group, and the grouped 1x1 convs. Where the kernel split fails the rest is not asked."""
    b = rb.spec
    n = len(b.kernels)
    if rb.mid_channels % n:
        return [
            DesignIssue(
                rb.label,
                f"{rb.mid_channels} expanded channels do not split evenly into {n} kernel groups "
                f"{b.kernels}: darknet's [route] groups= only makes equal slices",
                f"make the expanded channels a multiple of {n} (nearest: "
                f"{_near_multiples(rb.mid_channels, n)}), or use {n - 1 or 1} kernel groups",
            )
        ]
    issues: list[DesignIssue] = []
    per_group = rb.mid_channels // n
    if b.dw_group_size and per_group % b.dw_group_size:
        issues.append(
            DesignIssue(
                rb.label,
                f"{b.dw_group_size} channels per group does not divide the {per_group} channels of each kernel group",
                f"use {_divisors_near(per_group, b.dw_group_size)} channels per group",
            )
        )
    g = b.expand_groups
    if b.expand_ratio != 1 and g > 1 and (rb.in_channels % g or rb.mid_channels % g):
        issues.append(
            DesignIssue(
                rb.label,
                f"expand groups={g} must divide {rb.in_channels} input and {rb.mid_channels} expanded channels",
                f"use expand groups {_divisors_near(math.gcd(rb.in_channels, rb.mid_channels), g)}",
            )
        )
    g = b.project_groups
    if g > 1 and (rb.mid_channels % g or rb.out_channels % g):
        issues.append(
            DesignIssue(
                rb.label,
                f"project groups={g} must divide {rb.mid_channels} expanded and {rb.out_channels} output channels",
                f"use project groups {_divisors_near(math.gcd(rb.mid_channels, rb.out_channels), g)}",
            )
        )
    return issues


def check(arch: Arch) -> Arch:
    issues = validate(arch)
    if issues:
        raise DesignError(issues)
    return arch


# ------------------------------------------------------------------ derived designs


def scaled(
    arch: Arch,
    *,
    width_mult: float | None = None,
    depth_mult: float | None = None,
    input_size: int | None = None,
    classes: int | None = None,
) -> Arch:
    return replace(
        arch,
        width_mult=arch.width_mult if width_mult is None else width_mult,
        depth_mult=arch.depth_mult if depth_mult is None else depth_mult,
        input_size=arch.input_size if input_size is None else input_size,
        classes=arch.classes if classes is None else classes,
    )


def gpu_variant(arch: Arch, group_size: int) -> Arch:
    """Depthwise MixConv -> grouped convs of `group_size` channels per group (the seed's MixNet-M-GPU idea).

    Where `group_size` does not divide a block's per-kernel channel count, that block takes the nearest
    divisor (ties to the smaller), so the result always lowers; `gpu_variant_report` says where.
    """
    rows = []
    resolved = resolve(arch)
    for r, b in enumerate(arch.blocks):
        n = len(b.kernels)
        pers = [rb.mid_channels // n for rb in resolved if rb.row == r and rb.mid_channels % n == 0]
        common = math.gcd(*pers) if pers else group_size
        gs = min((d for d in range(1, common + 1) if common % d == 0), key=lambda d: (abs(d - group_size), d))
        rows.append(replace(b, dw_group_size=0 if gs == 1 else gs))
    return replace(arch, blocks=tuple(rows))


def gpu_variant_report(arch: Arch, group_size: int) -> list[str]:
    out = []
    for r, (_a, b) in enumerate(zip(arch.blocks, gpu_variant(arch, group_size).blocks)):
        if b.dw_group_size not in (group_size, 0) or (group_size > 1 and b.dw_group_size == 0):
            out.append(
                f"row {r}: {group_size} channels per group does not divide its kernel groups; "
                f"uses {b.dw_group_size or 1}"
            )
    return out
