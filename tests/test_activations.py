"""One activation table (designer/activations.py) behind the spec, block strings, cfg reader/writer/lint and the
runtime. Regression: `activation: logistic` passed validate but lowering raised a bare KeyError (no token)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import designer
from designer.activations import ACTIVATIONS, DESIGN_ACTIVATIONS, TOKENS, cpu_gives_zero
from designer.spec import ACTIVATION_NAMES
from tests.conftest import TINY_YAML


def tiny(act: str) -> designer.Arch:
    """The shared tiny design with `act` everywhere (stem, blocks, head)."""
    arch = designer.load_yaml(TINY_YAML)
    return replace(
        arch,
        stem=replace(arch.stem, activation=act),
        head=replace(arch.head, activation=act),
        blocks=tuple(replace(b, activation=act) for b in arch.blocks),
    )


def test_the_spec_offers_exactly_the_activations_with_a_token():
    assert ACTIVATION_NAMES == DESIGN_ACTIVATIONS and "logistic" in ACTIVATION_NAMES
    assert sorted(TOKENS.values()) == sorted(ACTIVATION_NAMES)
    assert len(set(TOKENS)) == len(TOKENS)


@pytest.mark.parametrize("act", ACTIVATION_NAMES)
def test_every_design_activation_lowers_emits_and_reads_back(act):
    arch = tiny(act)
    assert not designer.validate(arch)
    block = designer.format_block_string(arch.blocks[0])
    assert block.endswith("_n" + next(t for t, n in TOKENS.items() if n == act))
    assert designer.parse_block_string(block) == arch.blocks[0]
    net = designer.lower(arch)
    text = designer.emit_cfg(net)
    back = designer.parse_cfg(text)
    assert back.layers == net.layers and f"activation={act}" in text
    assert designer.load_yaml(designer.dump_yaml(arch)) == arch


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("act", ACTIVATION_NAMES)
def test_every_design_activation_builds_and_runs_in_the_runtime(act):
    torch = pytest.importorskip("torch")
    from runtime import build_model

    net = designer.lower(tiny(act))
    model = build_model(net).eval()
    with torch.no_grad():
        y = model(torch.randn(1, *net.input_shape))
    assert y.shape[1] == 10 and torch.isfinite(y).all()


def test_the_runtime_implements_every_darknet_activation():
    pytest.importorskip("torch")
    from runtime.layers.activations import ACTIVATION_FNS

    assert set(ACTIVATION_FNS) == set(ACTIVATIONS)


def test_cfg_reader_and_lint_use_the_table():
    with pytest.raises(designer.CfgError, match="unknown activation 'sigmoid'"):
        designer.parse_cfg("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=2\nactivation=sigmoid\n")
    cfg = "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=2\nactivation=linear\n[shortcut]\nfrom=-1\nactivation={}\n"
    msgs = [d.message for d in designer.lint(cfg.format("hard_mish"))]
    assert any("hard_mish in [shortcut] gives 0 on CPU darknet" in m for m in msgs)
    assert not any("CPU" in d.message for d in designer.lint(cfg.format("mish")))
    assert cpu_gives_zero("relu6", "convolutional") and not cpu_gives_zero("swish", "convolutional")
