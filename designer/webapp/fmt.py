"""Number formatting for the UI. Every figure the app shows goes through here, with its unit in the label.

Units (designer/cost.py states the convention): FMA = fused multiply-adds (what the MixNet/EfficientNet papers
call FLOPs/MACs), FLOPs = 2 x FMA, Darknet BFLOPs = what darknet prints ("Total BFLOPS", billions of FLOPs).
"""

from __future__ import annotations

LABEL_PARAMS = "Params (trainable)"
LABEL_PARAMS_STORED = "Params stored (.weights)"
LABEL_FMA = "FMA (multiply-adds)"
LABEL_FLOPS = "FLOPs = 2 x FMA"

HELP_UNITS = (
    "FMA counts one fused multiply-add as one operation (conv and FC layers only), as the MixNet and "
    "EfficientNet papers do. FLOPs = 2 x FMA. Darknet's 'Total BFLOPS' is billions of FLOPs (plus small "
    "pooling/shortcut terms): the seed thread's figures for AlexeyAB's 2019 mixnet_m.cfg, 0.379 B FMA, print as "
    "0.759 BFLOPs; this tool's MixNet-M preset at 224 px counts 339.2 M FMA and prints 0.679."
)


def si(n: float, digits: int = 3) -> str:
    """1234567 -> '1.23M' (k, M, G; plain below 1000)."""
    a = abs(n)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{n / div:.{digits}g}{suffix}" if n / div < 100 else f"{n / div:.0f}{suffix}"
    return f"{n:.{digits}g}" if isinstance(n, float) else str(n)


def millions(n: float, decimals: int = 2) -> str:
    return f"{n / 1e6:,.{decimals}f} M"


def fma_text(n: int) -> str:
    return f"{n / 1e6:,.1f} M FMA"


def params_text(n: int) -> str:
    return f"{n / 1e6:,.3f} M params"


def pct_change(new: float, old: float) -> str:
    if not old:
        return "n/a"
    return f"{(new - old) / old * 100:+.1f}%"


def ms_text(ms: float) -> str:
    return f"{ms:.3f} ms" if ms < 10 else f"{ms:.1f} ms"
