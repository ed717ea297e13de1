"""mixnet-designer's counting core: spec -> Darknet IR <-> cfg text, shapes, params, FMA and BFLOPs.

Pure Python (PyYAML, networkx): importing it pulls in neither torch nor streamlit.
"""

from designer.cfg import emit_cfg, lint, parse_cfg
from designer.cost import Cost, LayerCost, count
from designer.design_io import (
    DesignFormatError,
    dump_yaml,
    format_block_string,
    load_preset,
    load_yaml,
    parse_block_string,
    preset_names,
)
from designer.ir import CfgError, Diagnostic, Layer, Network, make_layer
from designer.lower import Span, lower, lower_with_spans
from designer.shapes import Shape, infer_shapes
from designer.spec import (
    Arch,
    Block,
    DesignError,
    DesignIssue,
    Head,
    Stem,
    gpu_variant,
    resolve,
    round_filters,
    scaled,
    validate,
)

__all__ = [
    "Arch", "Block", "CfgError", "Cost", "DesignError", "DesignFormatError", "DesignIssue", "Diagnostic", "Head",
    "Layer", "LayerCost", "Network", "Shape", "Span", "Stem", "count", "dump_yaml", "emit_cfg", "format_block_string",
    "gpu_variant", "infer_shapes", "lint", "load_preset", "load_yaml", "lower", "lower_with_spans", "make_layer",
    "parse_block_string", "parse_cfg", "preset_names", "resolve", "round_filters", "scaled", "validate",
]  # fmt: skip
