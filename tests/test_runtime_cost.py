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


@pytest.fixture(autouse=True)
def _one_thread():
    # One intra-op thread: on a shared 2-core machine, 2 OpenMP threads spin-waiting against other jobs make a
    # forward pass up to 100x slower. Tests never assert on time; restored afterwards for other modules.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


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
