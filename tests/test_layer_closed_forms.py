"""[crnn], [conv_lstm], [history], [implicit] and antialiasing=: shapes, params and BFLOPs against closed forms.

No cfg in ../shared/darknet uses these (so layers.json has no darknet print-out of them); each expected figure
below is written out from AlexeyAB darknet's code, cited per test, independently of designer/cost.py:
make_convolutional_layer: nweights = (c/groups)*n*size^2, l.bflops = (float)(2*nweights*out_h*out_w/1e9),
out = (in + 2*padding - size)/stride + 1; load_convolutional_weights stores n biases, the BN triple, nweights.
"""

from __future__ import annotations

import struct

import pytest

import designer
from designer.ir import make_layer


def f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def conv(c_in: int, n: int, size: int, hw: int, bn: bool) -> tuple[int, int, int, float]:
    """(stored, trainable, fma, bflops) of one darknet convolution (make_convolutional_layer)."""
    nweights = c_in * n * size * size
    return (
        n + nweights + (3 * n if bn else 0),
        n + nweights + (n if bn else 0),
        nweights * hw,
        f32(2.0 * nweights * hw / 1e9),
    )


def total(convs: list[tuple[int, int, int, float]]) -> tuple[int, int, int, float]:
    bflops = 0.0
    for c in convs:  # l.bflops = a->bflops + b->bflops + ...: a float32 sum, left to right
        bflops = f32(bflops + c[3])
    return sum(c[0] for c in convs), sum(c[1] for c in convs), sum(c[2] for c in convs), bflops


def net(c: int, hw: int, *layers) -> designer.Network:
    return designer.Network(make_layer("net", width=hw, height=hw, channels=c), tuple(layers))


def figures(network: designer.Network, i: int = 0):
    lc = designer.count(network).layers[i]
    return lc.params_stored, lc.params, lc.fma, lc.bflops


@pytest.mark.parametrize("bn", [0, 1])
def test_crnn(bn):
    """make_crnn_layer: input conv c->hidden, self conv hidden->hidden, output conv hidden->output, all on the
    input's h x w; l.bflops = their sum; save_weights writes the three convs."""
    n = net(8, 16, make_layer("crnn", output=6, hidden=4, size=3, pad=1, batch_normalize=bn, activation="leaky"))
    s = designer.infer_shapes(n)[0]
    assert (s.c, s.h, s.w, s.outputs) == (6, 16, 16, 6 * 16 * 16)
    assert figures(n) == total([conv(8, 4, 3, 256, bn), conv(4, 4, 3, 256, bn), conv(4, 6, 3, 256, bn)])


def test_crnn_that_changes_the_size_is_refused():
    """make_crnn_layer asserts input_layer.outputs == output_layer.inputs: its convs must keep h x w."""
    for kw in ({"pad": 0}, {"pad": 1, "stride": 2}):
        with pytest.raises(designer.CfgError, match=r"layer 0 \[crnn\].*same size"):
            designer.infer_shapes(net(8, 16, make_layer("crnn", output=6, hidden=4, **kw)))


@pytest.mark.parametrize("peephole,bottleneck", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_conv_lstm(peephole, bottleneck):
    """make_conv_lstm_layer: U convs uf,ui,ug,uo c->n; W convs wf,wi,wg,wo n->n, or with bottleneck only wf
    2n->n (wi,wg,wo stay zeroed); V convs vf,vi,vo n->n only with peephole. l.bflops = uf+ui+ug+uo+wf+wi+wg+wo+
    vf+vi+vo (float32), then += (peephole ? 12 : 9)*outputs*batch/1e9 (batch 1). save_weights: V (if peephole),
    wf (and wi,wg,wo unless bottleneck), then U."""
    n = net(8, 12, make_layer("conv_lstm", output=6, size=3, pad=1, peephole=peephole, bottleneck=bottleneck))
    s = designer.infer_shapes(n)[0]
    assert (s.c, s.h, s.w) == (6, 12, 12)
    hw = 144
    u = [conv(8, 6, 3, hw, False)] * 4
    w = [conv(12, 6, 3, hw, False)] if bottleneck else [conv(6, 6, 3, hw, False)] * 4
    v = [conv(6, 6, 3, hw, False)] * 3 if peephole else []
    stored, trainable, fma, bflops = total(u + w + v)
    assert figures(n) == (stored, trainable, fma, f32(bflops + (12 if peephole else 9) * 6 * hw / 1e9))


def test_history():
    """make_history_layer: out_c = c*history_size, same h x w, no weights, no BFLOPs."""
    n = net(8, 16, make_layer("history", history_size=3))
    s = designer.infer_shapes(n)[0]
    assert (s.c, s.h, s.w, s.outputs) == (24, 16, 16, 24 * 256)
    assert figures(n) == (0, 0, 0, 0.0)


def test_implicit_reads_its_own_keys():
    """parse_implicit reads filters (default 128), atoms, mean, std; make_implicit_layer: out 1 x atoms x filters
    (out_w=1, out_h=atoms, out_c=filters), nweights = filters*atoms, all loaded (load_implicit_weights)."""
    n = designer.parse_cfg("[net]\nwidth=8\nheight=8\nchannels=3\n\n[implicit]\nfilters=5\natoms=2\nmean=1\nstd=.02\n")
    assert not n.diagnostics  # mean= and std= are keys darknet reads
    s = designer.infer_shapes(n)[0]
    assert (s.c, s.h, s.w, s.outputs) == (5, 2, 1, 10)
    assert figures(n) == (10, 10, 0, 0.0)
    assert designer.infer_shapes(net(3, 8, make_layer("implicit")))[0].c == 128


@pytest.mark.parametrize("aa,hw,out", [(1, 16, 8), (2, 16, 8), (1, 15, 8), (2, 15, 7)])
def test_antialiased_conv(aa, hw, out):
    """make_convolutional_layer with antialiasing: the host conv runs at stride 1 (its l.bflops, the figure darknet
    adds to the total, at that size), then input_layer = a depthwise blur conv (3x3 pad 1, or 2x2 pad 0 for
    antialiasing=2) with the layer's stride, whose output the next layer reads; the blur's weights are constants
    (not in .weights). FMA here also counts the blur's multiply-adds."""
    n = net(
        3,
        hw,
        make_layer(
            "convolutional", filters=4, size=3, stride=2, pad=1, antialiasing=aa, batch_normalize=1, activation="leaky"
        ),
    )
    s = designer.infer_shapes(n)[0]
    assert (s.c, s.h, s.w, s.outputs) == (4, out, out, 4 * out * out)
    stored, trainable, fma, bflops = conv(3, 4, 3, hw * hw, True)  # host at stride 1: hw x hw
    blur = 2 if aa == 2 else 3
    assert figures(n) == (stored, trainable, fma + 4 * blur * blur * out * out, bflops)


def test_antialiased_maxpool():
    """make_maxpool_layer with antialiasing: stride-1 host (l.bflops = size^2*c*out_h*out_w/1e9 there), then the
    same blur conv with the pool's stride."""
    n = net(4, 16, make_layer("maxpool", size=2, stride=2, antialiasing=1))
    s = designer.infer_shapes(n)[0]
    assert (s.c, s.h, s.w) == (4, 8, 8)
    assert figures(n) == (0, 0, 4 * 9 * 64, f32(2 * 2 * 4 * 16 * 16 / 1e9))


def test_xnor_conv_bflops_are_divided_by_32():
    """make_convolutional_layer: if (l.xnor) l.bflops = l.bflops / 32; xnor forces groups=1."""
    n = net(8, 8, make_layer("convolutional", filters=8, size=3, pad=1, xnor=1, groups=2, activation="linear"))
    stored, trainable, fma, bflops = conv(8, 8, 3, 64, False)
    assert figures(n) == (stored, trainable, fma, f32(bflops / 32))


def test_a_tiny_yolo_with_crnn_layers_counts():
    """The shape of darknet's yolov3-tiny_occlusion_track.cfg (a [crnn] after the backbone, another after the
    upsample/route), written small: every layer is modelled and the total is the sum of the closed forms."""
    text = (
        "\n\n".join(
            [
                "[net]\nwidth=32\nheight=32\nchannels=3\ntime_steps=4",
                "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=leaky",
                "[maxpool]\nsize=2\nstride=2",
                "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\nactivation=leaky",
                "[crnn]\nbatch_normalize=1\nsize=3\npad=1\noutput=16\nhidden=8\nactivation=leaky",
                "[convolutional]\nsize=1\npad=1\nfilters=18\nactivation=linear",
                "[yolo]\nmask=0,1,2\nanchors=10,14,23,27,37,58\nclasses=1\nnum=3",
                "[route]\nlayers=-3",
                "[upsample]\nstride=2",
                "[route]\nlayers=-1,0",
                "[crnn]\nbatch_normalize=1\nsize=3\npad=1\noutput=8\nhidden=4\nactivation=leaky",
            ]
        )
        + "\n"
    )
    n = designer.parse_cfg(text)
    shapes = designer.infer_shapes(n)
    assert [s.out for s in shapes][3:] == [
        (16, 16, 16),
        (18, 16, 16),
        (18, 16, 16),
        (16, 16, 16),
        (16, 32, 32),
        (24, 32, 32),
        (8, 32, 32),
    ]
    crnn3 = total([conv(16, 8, 3, 256, True), conv(8, 8, 3, 256, True), conv(8, 16, 3, 256, True)])
    crnn9 = total([conv(24, 4, 3, 1024, True), conv(4, 4, 3, 1024, True), conv(4, 8, 3, 1024, True)])
    assert figures(n, 3) == crnn3 and figures(n, 9) == crnn9
    cost = designer.count(n)
    assert cost.params_stored == sum(
        c[0] for c in (conv(3, 8, 3, 1024, True), conv(8, 16, 3, 256, True), crnn3, conv(16, 18, 1, 256, False), crnn9)
    )
