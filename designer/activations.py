"""Darknet's activations: the one table of names, block-string tokens, dialects and CPU gaps.

Every activation darknet's get_activation() knows (AlexeyAB src/activations.c; anything else silently becomes
relu) is one `ActivationDef`:
- `name`: the darknet spelling (`activation=` in a cfg; also the name in a design YAML and the runtime's table);
- `token`: the block-string token after `n` (`nsw` swish) for the activations a design may use, else None;
- `hank`: hank-ai darknet knows it too (DIALECTS.md rule 5);
- `cpu_ok`: the layer types in which darknet's CPU build computes it correctly. Its generic `activate()` lacks
  relu6, swish, mish, hard_mish and the normalize_channels variants and gives 0; [convolutional] and
  [shortcut] handle some of them themselves (NOTES.md section 3 "CPU activation gaps"). None: everywhere.

spec.ACTIVATION_NAMES, the block strings (design_io), the cfg reader, writer and lint, the app's stage table and
runtime/layers/activations.py all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActivationDef:
    name: str
    token: str | None = None
    hank: bool = False
    cpu_ok: frozenset[str] | None = None


_CONV = frozenset({"convolutional"})
_CONV_SHORTCUT = frozenset({"convolutional", "shortcut"})

_TABLE = (
    ActivationDef("relu", "re", hank=True),
    ActivationDef("swish", "sw", hank=True, cpu_ok=_CONV_SHORTCUT),
    ActivationDef("mish", "mi", hank=True, cpu_ok=_CONV_SHORTCUT),
    ActivationDef("hard_mish", "hm", hank=True, cpu_ok=_CONV),
    ActivationDef("leaky", "lk", hank=True),
    ActivationDef("relu6", "r6", hank=True, cpu_ok=frozenset()),  # zeros even in [convolutional]
    ActivationDef("gelu", "ge", hank=True),
    ActivationDef("elu", "el", hank=True),
    ActivationDef("selu", "se", hank=True),
    ActivationDef("tanh", "th", hank=True),
    ActivationDef("linear", "li", hank=True),
    ActivationDef("logistic", "lo", hank=True),
    ActivationDef("loggy"),
    ActivationDef("relie"),
    ActivationDef("ramp"),
    ActivationDef("plse"),
    ActivationDef("revleaky"),
    ActivationDef("stair"),
    ActivationDef("hardtan"),
    ActivationDef("lhtan"),
    ActivationDef("normalize_channels", cpu_ok=_CONV),
    ActivationDef("normalize_channels_softmax", cpu_ok=_CONV),
    ActivationDef("normalize_channels_softmax_maxval", cpu_ok=_CONV),
)

ACTIVATIONS: dict[str, ActivationDef] = {a.name: a for a in _TABLE}
# names a design may use (they have a block-string token), in the stage table's order
DESIGN_ACTIVATIONS: tuple[str, ...] = tuple(a.name for a in _TABLE if a.token)
# block-string token -> name, and back
TOKENS: dict[str, str] = {a.token: a.name for a in _TABLE if a.token}
TOKEN_FOR: dict[str, str] = {a.name: a.token for a in _TABLE if a.token}
# names both AlexeyAB and hank-ai darknet know
HANK_ACTIVATIONS: tuple[str, ...] = tuple(a.name for a in _TABLE if a.hank)
# timm activation tokens that have no darknet activation: a clear error instead of "unknown token"
NO_DARKNET = {"hs": "hard-swish", "hsig": "hard-sigmoid", "pr": "prelu"}


def cpu_gives_zero(name: str, layer_type: str) -> bool:
    """Darknet's CPU build outputs 0 for activation `name` in a layer of `layer_type` (GPU darknet does not)."""
    a = ACTIVATIONS.get(name)
    return a is not None and a.cpu_ok is not None and layer_type not in a.cpu_ok
