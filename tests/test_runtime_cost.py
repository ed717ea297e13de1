"""The cost model against torch, two independent counts of the same networks (STYLE.md: differential tests).

For every preset the plain build's `parameters()` must equal designer.count's trainable params, and
torch.utils.flop_counter (2 FLOPs per multiply-add, convolutions and matmuls only) must equal 2 x FMA.
Both at the preset's own 224x224 input.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import designer
from runtime import build_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", designer.preset_names())
def test_params_and_flops_match_cost_model(name: str) -> None:
    network = designer.lower(designer.load_preset(name))
    model = build_model(network)
    cost = designer.count(network)
    assert sum(p.numel() for p in model.parameters()) == cost.params
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.randn(1, *network.input_shape))
    assert counter.get_total_flops() == 2 * cost.fma
