"""Inference optimisation of a plain DarknetModel, each rewrite numerically equivalent to the plain build:

build.py           `optimize(model)`: BN folding, the fused modules below, channels_last
mixconv.py         darknet's route/conv/route spelling of MixConv found in the IR, run as one module
squeeze_excite.py  darknet's avgpool/conv/conv/scale_channels SE found in the IR, run as one module
pointwise.py       a dense 1x1 stride-1 conv of a channels_last build as one matrix product
"""

from runtime.optimize.build import optimize

__all__ = ["optimize"]
