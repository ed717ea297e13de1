"""Darknet's layers as torch modules, one module per family (semantics: ../shared/darknet/NOTES.md):

    activations.py  every darknet activation as a differentiable function
    conv.py         [convolutional], [connected], [batchnorm]
    spatial.py      [maxpool], [local_avgpool], [avgpool], [upsample], [reorg], [reorg3d], [crop]
    merge.py        [route], [shortcut], [scale_channels], [sam] (layers that read other layers)
    head.py         [softmax], [yolo], [region], [cost], [dropout], [activation]

runtime/model.py maps each layer type to its builder and runs them.
"""
