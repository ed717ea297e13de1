"""A 1x1, stride-1, ungrouped convolution run as one matrix product over the NHWC view.

On a channels_last tensor x (N, C, H, W), x.permute(0, 2, 3, 1) is the contiguous (N*H*W, C) matrix, so the conv
is `F.linear(x_nhwc, W[out, in], b)`, whose (N, H, W, out) result permuted back is again a channels_last tensor:
no copy on either side. torch's own CPU path for the same conv (im2col-free "slow_conv2d" at one thread, oneDNN
otherwise) first copies the bias broadcast into the whole output, which costs as much as the product itself on
large maps with few input channels; the addmm behind F.linear adds the bias inside the GEMM.
Only for channels_last builds: on an NCHW tensor the permuted view is not contiguous and the product would copy.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


def pointwise_eligible(conv: nn.Conv2d) -> bool:
    """A dense 1x1 conv with stride 1, no padding and no dilation: exactly a matrix product per pixel."""
    return (
        conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.padding in ((0, 0), 0)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
    )


class PointwiseLinear(nn.Module):
    """Stands in for an eligible nn.Conv2d (same weight values as a (out, in) matrix, same bias)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not pointwise_eligible(conv):
            raise ValueError(f"not a dense 1x1 stride-1 convolution: {conv}")
        self.weight = nn.Parameter(conv.weight.detach().reshape(conv.out_channels, conv.in_channels).clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x.permute(0, 2, 3, 1), self.weight, self.bias).permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return f"in={self.weight.shape[1]}, out={self.weight.shape[0]}, bias={self.bias is not None}"
