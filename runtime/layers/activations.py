"""Darknet's activation functions (src/activations.c, activations.h) as differentiable torch functions.

Formulas and constants follow ../shared/darknet/NOTES.md section 3 (confirmed against the CPU build by the
act_* cases), e.g. leaky's slope 0.1, selu's rounded 1.0507 / 1.6732, gelu's 0.797885 / 0.035677.

Where darknet's CPU build is wrong, the correct (GPU-kernel) formula is used instead: relu6 everywhere, and
swish / mish / hard_mish outside [convolutional] (and relu6 / hard_mish in [shortcut]) are 0 on CPU darknet
because the generic `activate()` switch lacks them (NOTES.md "CPU activation gaps"). Tests that compare with
the recorded CPU outputs mark those cases xfail and check the correct formula instead.

The names are designer/activations.py's table (tests/test_activations.py checks both cover the same set), whose
`cpu_ok` column says where CPU darknet gives 0.

normalize_channels* are per-pixel normalisations across channels (activations.c
activate_array_normalize_channels[_softmax]): they need the NCHW tensor, not elementwise values.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ActFn = Callable[[Tensor], Tensor]

# activations.c: selu uses these rounded constants, not the exact ones of torch.nn.SELU.
_SELU_SCALE = 1.0507
_SELU_ALPHA = 1.6732
# activations.h gelu_activate: 0.5*x*(1+tanhf(0.797885*x + 0.035677*x^3)).
_GELU_A = 0.797885
_GELU_B = 0.035677
# activations.c normalize_channels*: eps added to the per-pixel sum.
_NORM_CHAN_EPS = 0.0001


def _stair(x: Tensor) -> Tensor:
    # stair_activate: n = floor(x); even n -> floor(x/2), odd n -> (x - n) + floor(x/2). C's n % 2 is 0 only
    # for even n (negative odd n gives -1), which fmod reproduces.
    n = torch.floor(x)
    half = torch.floor(x / 2)
    return torch.where(torch.fmod(n, 2) == 0, half, (x - n) + half)


def _plse(x: Tensor) -> Tensor:
    return torch.where(x < -4, 0.01 * (x + 4), torch.where(x > 4, 0.01 * (x - 4) + 1, 0.125 * x + 0.5))


def _lhtan(x: Tensor) -> Tensor:
    return torch.where(x < 0, 0.001 * x, torch.where(x > 1, 0.001 * (x - 1) + 1, x))


def _hard_mish(x: Tensor) -> Tensor:
    return torch.where(x > 0, x, torch.where(x > -2, x * x / 2 + x, torch.zeros_like(x)))


def _mish(x: Tensor) -> Tensor:
    # activate_array_mish: x * tanh(softplus(x)) with softplus threshold 20, which is torch's F.mish.
    return F.mish(x)


def _gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1 + torch.tanh(_GELU_A * x + _GELU_B * x * x * x))


def _selu(x: Tensor) -> Tensor:
    return torch.where(x >= 0, _SELU_SCALE * x, _SELU_SCALE * _SELU_ALPHA * torch.expm1(torch.clamp(x, max=0)))


def _elu(x: Tensor) -> Tensor:
    return torch.where(x >= 0, x, torch.expm1(torch.clamp(x, max=0)))


def _norm_chan(x: Tensor) -> Tensor:
    pos = torch.clamp(x, min=0)
    return pos / (_NORM_CHAN_EPS + pos.sum(dim=1, keepdim=True))


def _norm_chan_softmax(x: Tensor) -> Tensor:
    # use_max_val=0: no max subtraction, eps in the denominator (activate_array_normalize_channels_softmax).
    e = torch.exp(x)
    return e / (_NORM_CHAN_EPS + e.sum(dim=1, keepdim=True))


def _norm_chan_softmax_maxval(x: Tensor) -> Tensor:
    e = torch.exp(x - x.amax(dim=1, keepdim=True))
    return e / (_NORM_CHAN_EPS + e.sum(dim=1, keepdim=True))


ACTIVATION_FNS: dict[str, ActFn] = {
    "logistic": torch.sigmoid,
    "loggy": lambda x: 2 * torch.sigmoid(x) - 1,
    "relu": F.relu,
    "relu6": lambda x: torch.clamp(x, 0, 6),  # GPU formula; CPU darknet returns 0
    "elu": _elu,
    "selu": _selu,
    "gelu": _gelu,
    "relie": lambda x: torch.where(x > 0, x, 0.01 * x),
    "ramp": lambda x: x * (x > 0) + 0.1 * x,
    "linear": lambda x: x,
    "tanh": torch.tanh,
    "plse": _plse,
    "leaky": lambda x: F.leaky_relu(x, 0.1),
    "revleaky": lambda x: F.leaky_relu(x, 0.1),  # same as leaky on CPU (NOTES.md section 3)
    "stair": _stair,
    "hardtan": lambda x: torch.clamp(x, -1, 1),
    "lhtan": _lhtan,
    "swish": F.silu,
    "mish": _mish,
    "hard_mish": _hard_mish,
    "normalize_channels": _norm_chan,
    "normalize_channels_softmax": _norm_chan_softmax,
    "normalize_channels_softmax_maxval": _norm_chan_softmax_maxval,
}

# In-place variants used by the inference path (no autograd), for the common elementwise ones.
_INPLACE: dict[str, ActFn] = {
    "relu": lambda x: F.relu(x, inplace=True),
    "leaky": lambda x: F.leaky_relu(x, 0.1, inplace=True),
    "swish": lambda x: F.silu(x, inplace=True),
    "mish": lambda x: F.mish(x, inplace=True),
    "logistic": lambda x: x.sigmoid_(),
    "relu6": lambda x: x.clamp_(0, 6),
    "hardtan": lambda x: x.clamp_(-1, 1),
}


def activation_fn(name: str) -> ActFn:
    try:
        return ACTIVATION_FNS[name]
    except KeyError:
        raise ValueError(f"unknown darknet activation {name!r}") from None


class Activation(nn.Module):
    """One darknet activation by name.

    `inplace=True` is for layers whose pre-activation tensor is their own fresh result (conv, shortcut sum):
    then, with autograd off (inference), the in-place kernel saves one tensor allocation per layer.
    """

    def __init__(self, name: str, inplace: bool = False):
        super().__init__()
        self.name = name
        self.fn = activation_fn(name)
        self.fn_inplace = _INPLACE.get(name) if inplace else None

    def forward(self, x: Tensor) -> Tensor:
        if self.fn_inplace is not None and not torch.is_grad_enabled():
            return self.fn_inplace(x)
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name
