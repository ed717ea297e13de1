"""Layer-by-layer agreement with what AlexeyAB darknet itself printed for every cfg in ../shared/darknet/cfg.

layers.json records darknet's out_w/h/c, outputs, BFLOPs (float32, printed with 9 significant digits) and
the floats each layer stores in a .weights file. Cfgs darknet rejects must give a clear CfgError.
"""

from __future__ import annotations

import pytest

import designer
from tests.conftest import shared_cfgs, shared_path


def _f9(x: float) -> float:
    return float(f"{x:.9g}")


@pytest.mark.parametrize("name", shared_cfgs())
def test_cfg_matches_darknet_layer_by_layer(name, darknet_layers):
    ref = darknet_layers.get(name)
    if ref is None:
        pytest.skip(f"{name} has no darknet record in layers.json")
    path = shared_path("darknet", "cfg", name)
    if not ref["parse_ok"]:
        with pytest.raises(designer.CfgError) as e:
            designer.count(designer.parse_cfg(path))
        assert e.value.line > 0 and "layer" in e.value.message
        return
    net = designer.parse_cfg(path)
    cost = designer.count(net)
    assert len(cost.layers) == len(ref["layers"]) == ref["net"]["n_layers"]
    assert net.input_shape == (ref["net"]["c"], ref["net"]["h"], ref["net"]["w"])
    for lc, rl in zip(cost.layers, ref["layers"]):
        where = f"{name} layer {lc.index} ({lc.type})"
        assert lc.type == rl["type"] or (lc.type, rl["type"]) in {("reorg3d", "reorg")}, where
        # darknet leaves softmax/cost out dims at 0; this tool keeps the tensor's dims (shapes.py docstring)
        dims = (0, 0, 0) if lc.type in ("softmax", "cost") else lc.shape.out
        assert dims == (rl["out_c"], rl["out_h"], rl["out_w"]), where
        assert lc.shape.outputs == rl["outputs"], where
        assert lc.params_stored == rl["params_stored"], where
        assert _f9(lc.bflops) == rl["bflops"], where
        assert f"{lc.bflops:.3f}" == rl["bflops_printed"], where
    assert cost.params_stored == ref["params_stored"]
    assert cost.params == ref["params_trainable"]
    assert cost.params_stored - cost.params == ref["bn_running_stats"]
    assert 20 + 4 * cost.params_stored == ref["weights_file_bytes"]
    assert _f9(cost.bflops) == ref["total_bflops"]
    assert cost.bflops_printed.strip() == ref["total_bflops_printed"]


def test_every_shared_cfg_is_recorded(darknet_layers):
    assert set(shared_cfgs()) <= set(darknet_layers)
